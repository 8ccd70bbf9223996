"""Writes of 民主评议党员 campaigns: keyword-only, one transaction each, safe to replay.

Status flow: 草稿 (draft) → 进行中 (first tally or grade saved) → 已完成 (closed: every
participant graded) → 已上报 (reported to the 党委). The township office may return a closed or
reported campaign (退回修改); the branch reopens it (进行中) and closes it again. Every write
ends with meetings.signals.records_changed after commit, so the compliance engine refreshes
the branch.
"""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from meetings.models import MeetingType
from meetings.services import is_year_locked
from meetings.signals import announce_on_commit
from members.models import PARTY_MEMBER_CATEGORIES, ExemptionKind, Status
from members.names import distinct_labels
from members.selectors import roster_as_of

from . import tally
from .models import (
    COUNTED_STATUSES,
    EDITABLE_STATUSES,
    LOW_GRADES,
    Campaign,
    CampaignStatus,
    FollowUp,
    FollowUpKind,
    Grade,
    Participant,
)

STEP_FIELDS = (
    "study_start_on", "study_end_on", "self_assessment_on", "vote_on", "assessment_on",
    "publicity_start_on", "publicity_end_on",
)  # fmt: skip
ROW_FIELDS = ("self_assessment", *tally.VOTE_FIELDS, "grade", "grade_reason")


class RowErrors(ValidationError):
    """A tally that cannot be saved: problems by participant id (row_errors) and for the ballots."""

    def __init__(self, row_errors, ballot_errors=()):
        self.row_errors = row_errors
        self.ballot_errors = list(ballot_errors)
        messages = self.ballot_errors + [m for problems in row_errors.values() for m in problems]
        super().__init__(messages or ["测评结果有误。"])


def _notify(campaign):
    announce_on_commit(Campaign, [campaign.branch_id], [date(campaign.year, 12, 31)])


def _today(today):
    return today or timezone.localdate()


# ---------------------------------------------------------------- participants


def participant_snapshot(*, branch, on):
    """The campaign list on a date: 正式 and 预备 members in good standing; exempt members with the reason.

    Members suspended (停止党籍) or gone are not on the list; 外出 members are, marked as away.
    """
    participants = []
    for row in roster_as_of(branch=branch, on=on):
        if row.category_then not in PARTY_MEMBER_CATEGORIES or row.status_then != Status.NORMAL:
            continue
        reason = ""
        if row.exemption_then:
            reason = f"免于参加组织生活（{ExemptionKind(row.exemption_then).label}）"
        participants.append(
            Participant(member_id=row.member_id, category=row.category_then, away=row.away_then,
                        exempt_reason=reason)
        )  # fmt: skip
    return participants


# ---------------------------------------------------------------- campaign


def _check_dates(*, branch, year, campaign_on, today):
    errors = {}
    if year > today.year:
        errors["year"] = "评议年度不能晚于今年。"
    if campaign_on > today:
        errors["campaign_on"] = "启动日期不能晚于今天。"
    elif campaign_on.year not in (year, year + 1):
        errors["campaign_on"] = f"{year}年度的民主评议应在{year}年或{year + 1}年启动。"
    elif campaign_on < branch.founded_on or (branch.dissolved_on and campaign_on >= branch.dissolved_on):
        errors["campaign_on"] = "启动日期不在该支部存续期间。"
    elif is_year_locked(branch, year):
        errors["year"] = f"{year}年度台账已锁定，如需修改请联系党委解锁。"
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def open_campaign(*, branch, year, campaign_on, token, user=None, today=None):
    """Open the year's campaign with its participants as of campaign_on. A replayed form returns the first."""
    existing = Campaign.objects.filter(submit_token=token).first()
    if existing is not None:
        return existing
    today = _today(today)
    if not branch.is_branch:
        raise ValidationError("只有党支部开展民主评议党员。")
    _check_dates(branch=branch, year=year, campaign_on=campaign_on, today=today)
    if Campaign.objects.filter(branch=branch, year=year, voided_at__isnull=True).exists():
        raise ValidationError({"year": f"{branch.name}{year}年度的民主评议已经开启，请在评议页面继续。"})
    campaign = Campaign(
        branch=branch, year=year, campaign_on=campaign_on, submit_token=token, created_by=user
    )
    try:
        with transaction.atomic():
            campaign.save()
    except IntegrityError:
        # The same form arrived twice at once, or another user opened the year meanwhile.
        existing = Campaign.objects.filter(submit_token=token).first()
        if existing is not None:
            return existing
        raise ValidationError({"year": f"{branch.name}{year}年度的民主评议已经开启。"}) from None
    rows = participant_snapshot(branch=branch, on=campaign_on)
    for row in rows:
        row.campaign = campaign
    bulk_create_with_history(rows, Participant)
    _notify(campaign)
    return campaign


def _check_editable(campaign):
    if campaign.voided_at:
        raise ValidationError("该民主评议已作废，不能修改。")
    if campaign.status == CampaignStatus.RETURNED:
        raise ValidationError("党委已退回修改：请先点击“重新开启”再修改。")
    if campaign.status not in EDITABLE_STATUSES:
        raise ValidationError("民主评议已完成，不能再修改；如需更正请由党委退回。")
    if is_year_locked(campaign.branch, campaign.year):
        raise ValidationError(f"{campaign.year}年度台账已锁定，如需修改请联系党委解锁。")


def _check_step_order(values):
    """The steps run in order: 学习教育 → 自我评价 → 民主测评 → 组织评定 → 结果公示."""
    labels = {f: Campaign._meta.get_field(f).verbose_name for f in STEP_FIELDS}
    previous = None
    for field in STEP_FIELDS:
        value = values.get(field)
        if value is None:
            continue
        if previous is not None and value < values[previous]:
            raise ValidationError({field: f"{labels[field]}不能早于{labels[previous]}。"})
        previous = field


def _check_meeting(campaign, meeting):
    if meeting is None:
        return
    if (
        meeting.branch_id != campaign.branch_id
        or meeting.voided_at is not None
        or meeting.for_year != campaign.year
        or not meeting.types.filter(type=MeetingType.ORG_LIFE_MEETING).exists()
    ):
        raise ValidationError(
            {"org_life_meeting": f"请选择本支部{campaign.year}年度的组织生活会（未作废的记录）。"}
        )


@transaction.atomic
def update_campaign(*, campaign, campaign_on, org_life_meeting=None, note="", today=None, **steps):
    """Change the step dates, the linked 组织生活会 and, while a draft, the date the list is taken on."""
    _check_editable(campaign)
    today = _today(today)
    unknown = set(steps) - set(STEP_FIELDS)
    if unknown:
        raise TypeError(f"unknown steps: {sorted(unknown)}")
    _check_dates(branch=campaign.branch, year=campaign.year, campaign_on=campaign_on, today=today)
    _check_step_order(steps)
    _check_meeting(campaign, org_life_meeting)
    if campaign_on != campaign.campaign_on:
        if campaign.status != CampaignStatus.DRAFT:
            raise ValidationError({"campaign_on": "已开始测评或评定，参评名单日期不能再改。"})
        # A draft holds no results yet: the list is taken again for the new date.
        campaign.participants.all().delete()
        rows = participant_snapshot(branch=campaign.branch, on=campaign_on)
        for row in rows:
            row.campaign = campaign
        bulk_create_with_history(rows, Participant)
        campaign.campaign_on = campaign_on
    for field in STEP_FIELDS:
        setattr(campaign, field, steps.get(field))
    campaign.org_life_meeting = org_life_meeting
    campaign.note = note.strip()
    campaign.save()
    _notify(campaign)
    return campaign


@transaction.atomic
def save_results(*, campaign, ballots_issued, ballots_returned, rows):
    """Save the tally, grades and self-assessments of a campaign in one go, or nothing.

    rows: {participant_id: {self_assessment, votes_excellent, votes_qualified, votes_basic,
    votes_unqualified, grade, grade_reason}} for every participant not exempt. Raises RowErrors
    with the problems of each row (nothing is saved then).
    """
    _check_editable(campaign)
    participants = {p.pk: p for p in campaign.participants.select_for_update().select_related("member")}
    graded = {pk for pk, p in participants.items() if not p.is_exempt}
    ballot_errors = tally.ballot_problems(ballots_issued, ballots_returned)
    if set(rows) != graded:
        ballot_errors.append("参评名单已变化，请刷新页面后重新填写。")
    row_errors = {}
    for pk, values in rows.items():
        if pk not in graded:
            continue
        problems = tally.row_problems(values, returned=ballots_returned, grade=values.get("grade") or "",
                                      reason=values.get("grade_reason"))  # fmt: skip
        if problems:
            row_errors[pk] = problems
    if row_errors or ballot_errors:
        raise RowErrors(row_errors, ballot_errors)
    changed = []
    for pk, values in rows.items():
        participant = participants[pk]
        new = {
            "self_assessment": (values.get("self_assessment") or "").strip(),
            **{field: values.get(field) or 0 for field in tally.VOTE_FIELDS},
            "grade": values.get("grade") or "",
            "grade_reason": (values.get("grade_reason") or "").strip(),
        }
        if any(getattr(participant, field) != value for field, value in new.items()):
            for field, value in new.items():
                setattr(participant, field, value)
            changed.append(participant)
    if changed:
        bulk_update_with_history(changed, Participant, list(ROW_FIELDS))
    campaign.ballots_issued, campaign.ballots_returned = ballots_issued, ballots_returned
    if campaign.status == CampaignStatus.DRAFT and (changed or ballots_issued is not None):
        campaign.status = CampaignStatus.IN_PROGRESS
    campaign.save()
    _notify(campaign)
    return campaign


def _date_problems(campaign, today):
    """The step dates a closed campaign must have: the day of the 民主测评 whose ballots it counts, and the
    day of the 组织评定 whose grades it closes with (which is its 完成日期: not one still to come)."""
    problems = []
    for field in ("vote_on", "assessment_on"):
        if getattr(campaign, field) is None:
            label = Campaign._meta.get_field(field).verbose_name
            problems.append(f"请在“步骤和日期”中填写{label}。")
    if campaign.assessment_on and campaign.assessment_on > today:
        problems.append(f"组织评定日期（{campaign.assessment_on:%Y-%m-%d}）还没有到：请在组织评定之后再完成评议，"
                        "或在“步骤和日期”中更正。")  # fmt: skip
    return problems


def close_problems(campaign, *, today=None):
    """Why the campaign cannot be closed yet (empty when it can)."""
    problems = tally.ballot_problems(campaign.ballots_issued, campaign.ballots_returned)
    if campaign.ballots_issued is None or campaign.ballots_returned is None:
        problems.append("请填写民主测评发出和收回的测评票数。")
    problems += _date_problems(campaign, _today(today))
    missing, unexplained = [], []
    graded = [p for p in campaign.participants.select_related("member__group").order_by("member__name_initials")
              if not p.is_exempt]  # fmt: skip
    labels = distinct_labels(p.member for p in graded)
    for p in graded:
        if not p.grade:
            missing.append(labels[p.member_id])
        elif p.grade in LOW_GRADES and not p.grade_reason.strip():
            unexplained.append(labels[p.member_id])
    if missing:
        more = f"等{len(missing)}人" if len(missing) > 10 else ""
        problems.append("还有参评党员没有组织评定等次：" + "、".join(missing[:10]) + more)
    if unexplained:
        problems.append("评定为基本合格或不合格的须写明理由：" + "、".join(unexplained[:10]))
    return problems


@transaction.atomic
def close_campaign(*, campaign, closed_on=None, today=None):
    """Close the campaign: every participant not exempt has a grade. Closing twice changes nothing."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.voided_at is None and campaign.status in COUNTED_STATUSES:
        return campaign
    _check_editable(campaign)
    today = _today(today)
    problems = close_problems(campaign, today=today)
    if problems:
        raise ValidationError(problems)
    closed_on = closed_on or min(campaign.assessment_on or today, today)
    if closed_on < campaign.campaign_on:
        raise ValidationError("完成日期不能早于启动日期。")
    campaign.status = CampaignStatus.CLOSED
    campaign.closed_on = closed_on
    campaign.save()
    _notify(campaign)
    return campaign


PUBLICITY_MISSING = "上报党委前须先公示评议结果：请在“上报党委”页填写{label}日期。"


def _publicity(campaign, start, end):
    """The 结果公示 dates the report goes with (those given, else the campaign's): both are needed, in step
    order after the 组织评定."""
    values = {"publicity_start_on": start or campaign.publicity_start_on,
              "publicity_end_on": end or campaign.publicity_end_on}  # fmt: skip
    missing = {
        field: PUBLICITY_MISSING.format(label=Campaign._meta.get_field(field).verbose_name)
        for field, value in values.items()
        if value is None
    }
    if missing:
        raise ValidationError(missing)
    _check_step_order({**{field: getattr(campaign, field) for field in STEP_FIELDS}, **values})
    return values


@transaction.atomic
def report_campaign(*, campaign, reported_on, publicity_start_on=None, publicity_end_on=None, today=None):
    """上报: the closed campaign's results, publicised from publicity_start_on to publicity_end_on (when the
    campaign has no such dates yet, or they are corrected now), reach the 党委 on reported_on."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status == CampaignStatus.REPORTED and campaign.reported_on == reported_on:
        sent = {"publicity_start_on": publicity_start_on, "publicity_end_on": publicity_end_on}
        if all(value in (None, getattr(campaign, field)) for field, value in sent.items()):
            return campaign  # the same report sent twice
        raise ValidationError(
            "该民主评议已上报党委，公示日期不能再改；如需更正，请党委退回后重新完成、上报。"
        )
    if campaign.voided_at or campaign.status != CampaignStatus.CLOSED:
        raise ValidationError("只有已完成的民主评议才能上报。")
    today = _today(today)
    publicity = _publicity(campaign, publicity_start_on, publicity_end_on)
    if reported_on > today:
        raise ValidationError({"reported_on": "上报日期不能晚于今天。"})
    earliest = max(d for d in (campaign.closed_on, publicity["publicity_end_on"], campaign.campaign_on) if d)
    if reported_on < earliest:
        raise ValidationError({"reported_on": f"上报日期不能早于{earliest:%Y-%m-%d}（完成评定或公示结束）。"})
    for field, value in publicity.items():
        setattr(campaign, field, value)
    campaign.status = CampaignStatus.REPORTED
    campaign.reported_on = reported_on
    campaign.save()
    _notify(campaign)
    return campaign


@transaction.atomic
def return_campaign(*, campaign, comment):
    """The township office returns a closed or reported campaign to the branch with what to correct."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": "退回时请写明需要修改的地方。"})
    if campaign.status == CampaignStatus.RETURNED and campaign.review_comment == comment:
        return campaign
    if campaign.voided_at or campaign.status not in COUNTED_STATUSES:
        raise ValidationError("只有已完成或已上报的民主评议可以退回。")
    campaign.status = CampaignStatus.RETURNED
    campaign.review_comment = comment
    campaign.save()
    _notify(campaign)
    return campaign


@transaction.atomic
def reopen_campaign(*, campaign):
    """The branch takes a returned campaign back to correct it (进行中 until closed again)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status == CampaignStatus.IN_PROGRESS:
        return campaign
    if campaign.voided_at or campaign.status != CampaignStatus.RETURNED:
        raise ValidationError("只有党委退回的民主评议需要重新开启。")
    campaign.status = CampaignStatus.IN_PROGRESS
    campaign.closed_on = None
    campaign.save()
    _notify(campaign)
    return campaign


@transaction.atomic
def void_campaign(*, campaign, reason):
    """A campaign opened by mistake is voided (kept, with the reason); the year may then be opened again."""
    if campaign.voided_at:
        return campaign
    if campaign.status in COUNTED_STATUSES:
        raise ValidationError("已完成的民主评议不能作废；如需更正请由党委退回。")
    campaign.void(reason)
    _notify(campaign)
    return campaign


# ---------------------------------------------------------------- follow-ups


@transaction.atomic
def add_followup(*, participant, kind, proposed_on, deadline_on=None, note="", today=None):
    """A 限期改正, 劝退 or 除名 proposal for a member graded 基本合格 or 不合格. Replays return the first."""
    campaign = participant.campaign
    today = _today(today)
    if campaign.voided_at:
        raise ValidationError("该民主评议已作废。")
    if participant.grade not in LOW_GRADES:
        raise ValidationError("只有评定为基本合格或不合格的党员需要登记后续处置。")
    if kind not in FollowUpKind.values:
        raise ValidationError({"kind": "请选择处置方式。"})
    if kind != FollowUpKind.RECTIFY and participant.grade != Grade.UNQUALIFIED:
        raise ValidationError({"kind": "劝退、除名只适用于评定为不合格的党员。"})
    if proposed_on > today:
        raise ValidationError({"proposed_on": "提出日期不能晚于今天。"})
    if proposed_on < campaign.campaign_on:
        raise ValidationError({"proposed_on": "提出日期不能早于民主评议启动日期。"})
    if kind == FollowUpKind.RECTIFY and deadline_on is None:
        raise ValidationError({"deadline_on": "限期改正须填写改正期限。"})
    if deadline_on is not None and deadline_on <= proposed_on:
        raise ValidationError({"deadline_on": "期限须晚于提出日期。"})
    existing = participant.followups.filter(
        kind=kind, proposed_on=proposed_on, deadline_on=deadline_on, voided_at__isnull=True
    ).first()
    if existing is not None:
        return existing
    followup = FollowUp(participant=participant, kind=kind, proposed_on=proposed_on, deadline_on=deadline_on,
                        note=(note or "").strip())  # fmt: skip
    followup.save()
    _notify(campaign)
    return followup


@transaction.atomic
def close_followup(*, followup, closed_on, outcome, today=None):
    """Close a follow-up with its outcome (改正到位, 已劝退, 已除名 …)."""
    followup = (
        FollowUp.objects.select_for_update().select_related("participant__campaign").get(pk=followup.pk)
    )
    outcome = (outcome or "").strip()
    if followup.closed_on is not None:
        if (followup.closed_on, followup.outcome) == (closed_on, outcome):
            return followup
        raise ValidationError("该处置已办结。")
    if followup.voided_at:
        raise ValidationError("该处置已作废。")
    if not outcome:
        raise ValidationError({"outcome": "请填写办理结果。"})
    if closed_on > _today(today):
        raise ValidationError({"closed_on": "办结日期不能晚于今天。"})
    if closed_on < followup.proposed_on:
        raise ValidationError({"closed_on": "办结日期不能早于提出日期。"})
    followup.closed_on, followup.outcome = closed_on, outcome
    followup.save()
    _notify(followup.participant.campaign)
    return followup
