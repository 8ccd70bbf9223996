"""A year of organisational life for the demo township: what a real township's records look like,
gaps included (two branches skip months, some records are back-filled, one is void, one returned)."""

import random
import uuid
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from branches.models import CommitteePosition, Organisation, OrgLevel, Position
from compliance.local import backfill_days, fixed_theme_day
from compliance.periods import working_days_between

from . import services
from .models import (
    Attendance,
    AttendanceStatus,
    Meeting,
    MeetingType,
    MeetingTypeTag,
    RectificationItem,
    ReviewState,
    Talk,
)

SKIPPING = {"龙湾村党支部": {2, 3, 5, 8}, "青溪镇社会组织联合党支部": {1, 4, 6, 7, 9}}
GUEST_LECTURERS = ["宣传委员", "镇党校 周老师", "老党员 代表", "驻村第一书记"]
TALK_TOPICS = ["思想工作情况交流", "听取对支部工作的意见", "谈学习体会", "了解家庭和工作困难"]
PARTY_CATEGORIES = ("full", "probationary")
LEAVE_REASONS = ["外出务工", "生病住院", "照顾家人", "单位值班", "参加培训"]
TOPICS = {
    MeetingType.THEME_DAY: [
        "学习贯彻党的二十届四中全会精神",
        "开展“我为群众办实事”志愿服务",
        "重温入党誓词",
        "学习党章党规",
        "开展红色教育参观",
    ],
    MeetingType.GENERAL_MEETING: ["讨论发展党员事项", "通报支部工作情况", "民主评议党员", "研究年度工作计划"],
    MeetingType.PARTY_LECTURE: [
        "书记讲党课：坚定理想信念",
        "党课：全面从严治党永远在路上",
        "党课：弘扬伟大建党精神",
    ],
    MeetingType.COMMITTEE_MEETING: ["研究本月工作安排", "研究发展党员工作", "研究党费收缴和使用"],
    MeetingType.GROUP_MEETING: ["学习讨论", "交流思想，收集群众意见", "落实支部工作安排"],
}


def _months(today):
    """From January of last year: the window the compliance refresh judges."""
    first = date(today.year - 1, 1, 1)
    months = []
    while first < date(today.year, today.month, 1):
        months.append(first)
        first = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return months


def _plan(branch, groups, month, has_committee):
    """(types, group, day) of the meetings a conscientious branch holds in a month."""
    theme_day = fixed_theme_day(branch, month)
    plan = []
    types = [MeetingType.THEME_DAY]
    if month.month % 3 == 0:
        types.append(MeetingType.PARTY_LECTURE)
    if month.month % 3 == 1 or branch.merged_group:
        types.append(MeetingType.GENERAL_MEETING)
    plan.append((types, None, theme_day))
    if has_committee:
        plan.append(([MeetingType.COMMITTEE_MEETING], None, month + timedelta(days=4)))
    for index, group in enumerate(groups):
        plan.append(([MeetingType.GROUP_MEETING], group, month + timedelta(days=10 + index)))
    return plan


def _entered_at(rng, held_on, today):
    lag = 12 if rng.random() < 0.06 else rng.randint(0, 2)
    entered = min(held_on + timedelta(days=lag), today)
    return timezone.make_aware(datetime.combine(entered, time(20, 30)))


def _secretary_on(secretaries, held_on):
    for name, started_on, ended_on in secretaries:
        if started_on <= held_on and (ended_on is None or held_on < ended_on):
            return name
    return "支部书记"


def _lecturer(rng, types, secretaries, held_on):
    """Most 党课 are given by the secretary of the day; the rest by a committee member or a guest."""
    if MeetingType.PARTY_LECTURE not in types:
        return ""
    return _secretary_on(secretaries, held_on) if rng.random() < 0.6 else rng.choice(GUEST_LECTURERS)


def _meeting(rng, branch, types, group, held_on, today, chronic, secretaries=()):
    entered_at = _entered_at(rng, held_on, today)
    lateness = working_days_between(held_on, timezone.localdate(entered_at))
    backfill = lateness > backfill_days(branch, timezone.localdate(entered_at))
    expected = services.attendance_list(branch=branch, types=types, held_on=held_on, group=group)
    meeting = Meeting(
        branch=branch, group=group, held_on=held_on, start_time=time(14, 30) if rng.random() < 0.5 else time(9, 0),
        place="党员活动室", topic=rng.choice(TOPICS[types[0]]), host="支部书记", recorder="组织委员",
        lecturer=_lecturer(rng, types, secretaries, held_on), submit_token=uuid.uuid4().hex,
        content="传达学习有关精神，结合实际开展讨论，党员逐一发言。", lateness_days=lateness,
        is_backfill=backfill,
        backfill_reason="会议记录本遗失后据签到表补录" if backfill else "",
    )  # fmt: skip
    rows = []
    for row in expected:
        roll = rng.random()
        if row.away_then:
            status = AttendanceStatus.AWAY
        elif row.member_id in chronic or roll > 0.93:
            status = AttendanceStatus.ABSENT
        elif roll > 0.86:
            status = AttendanceStatus.LEAVE
        else:
            status = AttendanceStatus.PRESENT
        rows.append(Attendance(meeting=meeting, member_id=row.member_id, status=status,
                               leave_reason=rng.choice(LEAVE_REASONS) if status == AttendanceStatus.LEAVE else "",
                               is_full_member=row.category_then == "full"))  # fmt: skip
    meeting.low_quorum = services._low_quorum(types, rows)
    return meeting, entered_at, types, rows


@transaction.atomic
def seed(*, root, seed=2026, today):
    rng = random.Random(seed)
    branches = list(
        Organisation.objects.get_tree(root).filter(level=OrgLevel.BRANCH, dissolved_on__isnull=True)
    )
    if Meeting.objects.filter(branch__in=branches).exists():
        return {"meetings": 0}
    created = []
    for branch in branches:
        groups = list(
            Organisation.objects.get_children(branch).filter(level=OrgLevel.GROUP, dissolved_on__isnull=True)
        )
        has_committee = branch.terms.filter(positions__position="organisation").exists()
        members = list(branch.members.filter(category="full").values_list("pk", flat=True))
        chronic = set(rng.sample(members, 1)) if len(members) > 20 and rng.random() < 0.4 else set()
        # One who has lost contact (失联) has not come to a meeting all year.
        chronic |= set(branch.members.filter(lost_contact_on__isnull=False).values_list("pk", flat=True))
        secretaries = list(
            CommitteePosition.objects.filter(
                term__organisation=branch, position=Position.SECRETARY
            ).values_list("holder_name", "started_on", "ended_on")
        )
        for month in _months(today):
            if month.month in SKIPPING.get(branch.name, ()):
                continue
            for types, group, held_on in _plan(branch, groups, month, has_committee):
                if held_on <= today and rng.random() > 0.03:
                    created.append(_meeting(rng, branch, types, group, held_on, today, chronic, secretaries))
    _save(created)
    _special_cases(branches, today, rng)
    return {"meetings": len(created)}


def _save(created):
    meetings = [m for m, _e, _t, _r in created]
    Meeting.objects.bulk_create(meetings, batch_size=500)
    for meeting, entered_at, _types, _rows in created:
        meeting.entered_at = entered_at
    Meeting.objects.bulk_update(meetings, ["entered_at"], batch_size=500)
    MeetingTypeTag.objects.bulk_create(
        [MeetingTypeTag(meeting=m, type=t) for m, _e, types, _r in created for t in types], batch_size=2000
    )
    Attendance.objects.bulk_create([a for _m, _e, _t, rows in created for a in rows], batch_size=2000)


def _special_cases(branches, today, rng):
    """One returned record, one void record, last year's 组织生活会 with its 整改清单, and talks."""
    by_name = {b.name: b for b in branches}
    first = by_name.get("幸福里社区第一党支部")
    if first is None:
        return
    recent = Meeting.objects.filter(branch=first, voided_at__isnull=True).order_by("-held_on")
    returned = recent.filter(types__type=MeetingType.GROUP_MEETING).first()
    if returned:
        services.review_meeting(
            meeting=returned, decision=ReviewState.RETURNED, comment="会议记录过于简单，请补充党员发言要点。"
        )
    voided = recent.filter(types__type=MeetingType.COMMITTEE_MEETING).last()
    if voided:
        services.void_meeting(meeting=voided, reason="重复录入")
    for branch in branches[:12]:
        held_on = (
            date(today.year, 1, 15) if date(today.year, 1, 15) <= today else date(today.year - 1, 12, 20)
        )
        expected = services.attendance_list(
            branch=branch, types=[MeetingType.ORG_LIFE_MEETING], held_on=held_on
        )
        if not expected:
            continue
        meeting = services.record_meeting(
            branch=branch, types=[MeetingType.ORG_LIFE_MEETING, MeetingType.GENERAL_MEETING], held_on=held_on,
            topic=f"{held_on.year - 1}年度组织生活会", token=uuid.uuid4().hex, for_year=held_on.year - 1,
            attendance={row.member_id: (AttendanceStatus.PRESENT, "") for row in expected},
            now=timezone.make_aware(datetime.combine(held_on + timedelta(days=1), time(18))),
            opinions="会前通过座谈、个别访谈征求党员群众意见12条。", talks_summary="支委之间、支委与党员之间开展谈心谈话。",
            self_examination="支部班子和党员个人撰写对照检查材料。", criticism="逐一开展批评与自我批评。",
            rectifications=[{"problem": "理论学习形式单一", "measure": "每季度开展一次现场教学", "owner": "宣传委员", "due_on": held_on + timedelta(days=180)}],
        )  # fmt: skip
        # Reported and done after it was entered (never after today), as a later correction would write them.
        Meeting.objects.filter(pk=meeting.pk).update(reported_on=min(held_on + timedelta(days=10), today))
        if held_on + timedelta(days=120) <= today:
            RectificationItem.objects.filter(meeting=meeting).update(done_on=held_on + timedelta(days=120))
    _talks(branches, today, rng)


def _talks(branches, today, rng):
    """谈心谈话: most branches covered every committee pair and every member last year; this year
    about half have, the others are part-way."""
    talks = []
    for branch in branches:
        roster = list(
            branch.members.filter(on_roster=True, status="normal", category__in=PARTY_CATEGORIES)
            .order_by("pk")
            .values_list("pk", "name")
        )
        term = branch.terms.order_by("-elected_on").first()
        names = (
            set(term.positions.filter(ended_on__isnull=True).values_list("holder_name", flat=True))
            if term
            else set()
        )
        committee = [pk for pk, name in roster if name in names]
        if not committee:
            continue
        for year in (today.year - 1, today.year):
            pairs = [(a, b) for i, a in enumerate(committee) for b in committee[i + 1 :]]
            pairs += [(rng.choice(committee), pk) for pk, _name in roster if pk not in committee]
            if rng.random() > (0.85 if year < today.year else 0.5):
                pairs = pairs[: len(pairs) * 7 // 10]
            first, last = date(year, 1, 10), min(date(year, 12, 20), today - timedelta(days=1))
            talks += [
                Talk(branch=branch, talked_on=first + timedelta(days=rng.randint(0, (last - first).days)),
                     initiator_id=a, counterpart_id=b, topic=rng.choice(TALK_TOPICS))
                for a, b in pairs
            ]  # fmt: skip
    bulk_create_with_history(talks, Talk, batch_size=1000)


@transaction.atomic
def reset(*, root):
    """Remove the demo township's records of organisational life (development only)."""
    from .models import YearLock

    meetings = Meeting.objects.filter(branch__path__startswith=root.path)
    for model in (Attendance, MeetingTypeTag, RectificationItem):
        model.objects.filter(meeting__in=meetings).delete()
    meetings.delete()
    Talk.objects.filter(branch__path__startswith=root.path).delete()
    YearLock.objects.filter(branch__path__startswith=root.path).delete()
