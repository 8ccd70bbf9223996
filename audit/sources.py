"""What the 操作记录 covers: each audited model, the live record that scopes it, and how an entry is named.

Every source is a model kept by django-simple-history. A history row is scoped through its
*owner*, a live record that carries the organisation (a meeting, a member, a 民主评议 campaign
or an organisation): an attendance row belongs to its meeting, a 外出 record to its member.
Scoping by the live owner (not by the branch written in an old history row) means a member
who moved to another township takes their history with them, and an object outside the
user's scope never shows, whatever it once was.
"""

from dataclasses import dataclass, field
from datetime import date

from django.urls import reverse

from branches.access import ID_NUMBER_ROLES, PHONE_ROLES
from branches.models import CommitteePosition, CommitteeTerm, Organisation, RoleAssignment
from compliance.models import RuleSetting
from compliance.rules import TRAINING_SETTINGS, VALUE_SETTINGS, value_label, value_problem
from evaluations.models import Campaign, FollowUp, Participant
from meetings.models import Attendance, Meeting, MeetingTypeTag, RectificationItem, Talk, YearLock
from members.masking import mask_id_number, mask_phone
from members.models import DuesPayment, Exemption, Member, Mobility, PipelineEvent, ThoughtReport, Transfer

VOID = ("voided_at", "void_reason")

# The filter groups of the page, in menu order.
KINDS = {
    "meeting": "会议",
    "attendance": "出勤",
    "talk": "谈心谈话",
    "member": "党员",
    "review": "民主评议",
    "setting": "规则与锁定",
    "organisation": "党组织",
    "role": "角色授权",
}


@dataclass(frozen=True)
class Source:
    code: str
    kind: str
    model: type
    owner_model: type  # Meeting, Member, Campaign or Organisation
    owner: str  # lookup from a history row to its owner's pk
    label: object  # history row -> text naming the record
    link: object  # history row -> the page of the record (or of its owner)
    related: tuple = ()  # select_related beyond the row's own foreign keys, for label and link
    shown_when_added: tuple = ()  # fields listed on 新增 and 删除 entries
    void: tuple | None = VOID  # (moment field, reason field): set from empty means 作废
    void_label: str = "作废"
    hidden: tuple = ()  # fields left out of the changes (derived, internal or shown elsewhere)
    # (history row, field) -> (label, text) for a field whose meaning depends on the row, else None
    described: object = None
    masked: dict = field(default_factory=dict)  # field -> (roles that see it in full, how others see it)

    @property
    def history_model(self):
        return self.model.history.model

    @property
    def verbose_name(self):
        return self.model._meta.verbose_name


def _day(value):
    return f"{value:%Y-%m-%d}" if isinstance(value, date) else ""


def _meeting(meeting):
    return f"{_day(meeting.held_on)} {meeting.topic}" if meeting else "（已删除的会议）"


def _name(obj):
    return obj.name if obj is not None else "（已删除）"


def _user(user):
    return (user.get_full_name() or user.get_username()) if user is not None else "（已删除的用户）"


def _setting_field(h, name):
    """A local setting's number as the settings page says it: a value (主题党日固定日期 每月10日, 补录认定
    5个工作日, 任期 5年) by its label, a training rule's as 学时; a meeting rule's stays 次数."""
    if name != "count":
        return None
    if h.rule in VALUE_SETTINGS:
        shown = h.count is not None and not value_problem(h.rule, h.count)
        return "取值", value_label(h.rule, h.count) if shown else str(h.count)
    if h.rule in TRAINING_SETTINGS:
        return "学时", f"每年{h.count}学时"
    return None


def _meeting_link(meeting_id):
    return reverse("meetings:detail", args=[meeting_id])


def _member_link(member_id):
    return reverse("members:detail", args=[member_id])


def _org_link(org_id):
    return reverse("branches:detail", args=[org_id])


SOURCES = [
    # ---- meetings: the record, its types, its 整改清单; attendance apart (it is most of the volume)
    Source(
        "meeting", "meeting", Meeting, Meeting, "id",
        label=lambda h: f"{_day(h.held_on)} {h.topic}",
        link=lambda h: _meeting_link(h.id),
        hidden=("submit_token", "created_by", "entered_at"),
    ),
    Source(
        "meeting_type", "meeting", MeetingTypeTag, Meeting, "meeting_id",
        label=lambda h: _meeting(h.meeting),
        link=lambda h: _meeting_link(h.meeting_id),
        shown_when_added=("type",), void=None,
    ),
    Source(
        "rectification", "meeting", RectificationItem, Meeting, "meeting_id",
        label=lambda h: f"{_meeting(h.meeting)} · {h.problem}",
        link=lambda h: _meeting_link(h.meeting_id),
        shown_when_added=("owner", "due_on"), void=None,
    ),
    Source(
        "attendance", "attendance", Attendance, Meeting, "meeting_id",
        label=lambda h: f"{_meeting(h.meeting)} · {_name(h.member)}",
        link=lambda h: _meeting_link(h.meeting_id),
        shown_when_added=("status", "leave_reason"), void=None,
    ),
    Source(
        "talk", "talk", Talk, Organisation, "branch_id",
        label=lambda h: f"{_day(h.talked_on)} {_name(h.initiator)}—{_name(h.counterpart)}",
        link=lambda h: f"{reverse('meetings:talks', args=[h.branch_id])}?year={h.talked_on.year}",
        shown_when_added=("topic",),
    ),
    # ---- members and the records a branch voids
    Source(
        "member", "member", Member, Member, "id",
        label=lambda h: h.name,
        link=lambda h: _member_link(h.id),
        shown_when_added=("category",), void=None,
        masked={"id_number": (ID_NUMBER_ROLES, mask_id_number), "phone": (PHONE_ROLES, mask_phone)},
    ),
    Source(
        "mobility", "member", Mobility, Member, "member_id",
        label=lambda h: f"{_name(h.member)} · 外出{h.destination}（{_day(h.started_on)}起）",
        link=lambda h: _member_link(h.member_id),
        masked={"contact": (PHONE_ROLES, mask_phone)},
    ),
    Source(
        "exemption", "member", Exemption, Member, "member_id",
        label=lambda h: f"{_name(h.member)} · {h.get_kind_display()}（{_day(h.started_on)}起）",
        link=lambda h: _member_link(h.member_id),
    ),
    Source(
        "dues", "member", DuesPayment, Member, "member_id",
        label=lambda h: f"{_name(h.member)} · {h.month:%Y年%m月}党费",
        link=lambda h: _member_link(h.member_id),
        shown_when_added=("amount", "paid_on"),
    ),
    Source(
        "transfer", "member", Transfer, Member, "member_id",
        label=lambda h: f"{_name(h.member)} · {h.get_direction_display()}（{_day(h.transferred_on)}）",
        link=lambda h: _member_link(h.member_id),
        shown_when_added=("from_branch", "to_branch", "counterpart", "letter_no"), void=None,
        hidden=("recorded_at",),
    ),
    Source(
        "report", "member", ThoughtReport, Member, "member_id",
        label=lambda h: f"{_name(h.member)} · 思想汇报（{_day(h.received_on)}）",
        link=lambda h: _member_link(h.member_id),
    ),
    Source(
        "pipeline_event", "member", PipelineEvent, Member, "member_id",
        label=lambda h: f"{_name(h.member)} · {h.get_kind_display()}（{_day(h.happened_on)}）",
        link=lambda h: _member_link(h.member_id),
        void=None,  # 发展党员事项 are corrected (更正日期), not voided
    ),
    # ---- 民主评议: the campaign, each member's tally and grade, the follow-ups
    Source(
        "campaign", "review", Campaign, Campaign, "id",
        label=lambda h: f"{_name(h.branch)} {h.year}年度民主评议",
        link=lambda h: reverse("reviews:detail", args=[h.id]),
        hidden=("submit_token", "created_by"),
    ),
    Source(
        "participant", "review", Participant, Campaign, "campaign_id",
        label=lambda h: f"{_name(h.campaign.branch)} {h.campaign.year}年度 · {_name(h.member)}",
        link=lambda h: reverse("reviews:detail", args=[h.campaign_id]),
        related=("campaign__branch",), void=None,
    ),
    Source(
        "followup", "review", FollowUp, Campaign, "participant__campaign_id",
        label=lambda h: f"{_name(h.participant.member)} · {h.get_kind_display()}",
        link=lambda h: reverse("reviews:detail", args=[h.participant.campaign_id]),
        related=("participant__member",),
        shown_when_added=("deadline_on",),
    ),
    # ---- the 党委's local rules and year locks
    Source(
        "rule_setting", "setting", RuleSetting, Organisation, "organisation_id",
        label=lambda h: f"{_name(h.organisation)} · {h.get_rule_display()}（{_day(h.effective_from)}起）",
        link=lambda h: _org_link(h.organisation_id),
        shown_when_added=("enabled", "count", "period_kind"), hidden=("created_by", "voided_by"),
        void_label="撤销", described=_setting_field,
    ),
    Source(
        "year_lock", "setting", YearLock, Organisation, "branch_id",
        label=lambda h: f"{_name(h.branch)} {h.year}年度台账",
        link=lambda h: f"{reverse('meetings:list')}?branch={h.branch_id}&year={h.year}",
        shown_when_added=("locked",), void=None,
    ),
    # ---- the tree: organisations (dissolved, never deleted), terms and office-holders
    Source(
        "organisation", "organisation", Organisation, Organisation, "id",
        label=lambda h: h.name,
        link=lambda h: _org_link(h.id),
        shown_when_added=("level",),
        void=("dissolved_on", "dissolve_reason"), void_label="撤销",
        hidden=("path", "depth"),  # a move is told by its change reason, not by tree paths
    ),
    Source(
        "term", "organisation", CommitteeTerm, Organisation, "organisation_id",
        label=lambda h: f"{_name(h.organisation)} {h.elected_on:%Y年%m月}届",
        link=lambda h: _org_link(h.organisation_id),
        shown_when_added=("ends_on",), void=None,
    ),
    Source(
        "position", "organisation", CommitteePosition, Organisation, "term__organisation_id",
        label=lambda h: f"{_name(h.term.organisation)} · {h.get_position_display()} {h.holder_name}",
        link=lambda h: _org_link(h.term.organisation_id),
        related=("term__organisation",),
        shown_when_added=("started_on",), void=None,
    ),
    # ---- who may see and write what: granted and withdrawn through the admin site
    Source(
        "role_assignment", "role", RoleAssignment, Organisation, "organisation_id",
        label=lambda h: f"{_user(h.user)} · {_name(h.organisation)} · {h.get_role_display()}",
        link=lambda h: _org_link(h.organisation_id),
        shown_when_added=("role",), void=None, hidden=("created_at",),
    ),
]  # fmt: skip

BY_CODE = {source.code: source for source in SOURCES}


def sources_of(kind=None, owner_model=None):
    return [
        s
        for s in SOURCES
        if (kind is None or s.kind == kind) and (owner_model is None or s.owner_model is owner_model)
    ]
