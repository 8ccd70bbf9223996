"""The rows of every 台账: plain Python values read from the apps' models and selectors, no Excel here.

A branch ledger is a list of sheets (data: BRANCH_SHEETS); each sheet's rows are built when the
renderer asks for them, from what Reads read beforehand: each kind of record in one query for a set of
branches (one branch, or a chunk of the county zip), so the queries depend on neither the size of a branch
nor the number of branches in a chunk. The 合规情况
sheet and the township summary take their figures from compliance.grid (obligation_grid and tally),
the same functions the checklist and the dashboard count with, so every page and workbook agrees.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from operator import attrgetter

from django.db.models import Prefetch, Q
from django.utils import timezone

from branches.models import CommitteePosition, Organisation, OrgLevel, Position
from compliance import training
from compliance.checklist import met_by
from compliance.engine import secretaries_of, settings_in_force
from compliance.grid import ending_within, grid_since, obligation_grid, tally, tally_by
from compliance.local import fixed_theme_day, preload_value_settings
from compliance.models import Flag
from compliance.periods import STATE_LABELS, State
from compliance.rules import CATALOGUE, hours_text
from compliance.selectors import WATCH_RULES
from evaluations.models import COUNTED_STATUSES, Campaign
from evaluations.selectors import results_by_campaign
from meetings.models import Attendance, AttendanceStatus, Meeting, MeetingType, MeetingTypeTag, Talk
from members import dues
from members import selectors as member_selectors
from members.masking import mask_id_number, mask_phone
from members.models import (
    PARTY_MEMBER_CATEGORIES,
    Category,
    CategoryChange,
    DuesPayment,
    Member,
    Membership,
    PipelineEvent,
    ThoughtReport,
    TrainingRecord,
)
from members.names import distinct_labels
from members.roster_export import HEADERS as ROSTER_HEADERS
from members.roster_export import roster_rows

from .xlsx import Book, Column, Sheet, Total

THREE_MEETINGS_ONE_LECTURE = (
    MeetingType.GENERAL_MEETING,
    MeetingType.COMMITTEE_MEETING,
    MeetingType.GROUP_MEETING,
    MeetingType.PARTY_LECTURE,
)
TYPE_ORDER = {code: i for i, code in enumerate(MeetingType.values)}
NO_REVIEW_NOTE = "本年度无已完成的民主评议"
TOTAL = "合计"
REVIEW_COLUMNS = [("序号", 6), "姓名", "人员类别", ("优秀票", 8), ("合格票", 8), ("基本合格票", 10),
                  ("不合格票", 9), "评议等次", Column("等次理由/不参评原因", wrap=True),
                  Column("后续处置", wrap=True), "状态"]  # fmt: skip


@dataclass
class Context:
    """What every sheet of one branch ledger shares: the branch, the year, who exports, as of when, and
    what was read for it (Reads, for this branch alone or for a chunk of branches at once)."""

    branch: Organisation
    year: int
    user: object
    as_of: date
    reads: "Reads" = None

    @property
    def start(self):
        return date(self.year, 1, 1)

    @property
    def end(self):
        return date(self.year, 12, 31)

    @property
    def on(self):
        """The roster date of the ledger: the year's last day, or today for the current year."""
        return min(self.end, self.as_of)


def _join(names):
    return "、".join(names)


def _yes(flag):
    return "是" if flag else ""


# ---------------------------------------------------------------- 党员名册


def roster_members(branch_ids, user, on):
    """The branches' roster on the day (members.selectors.roster_as_of, the ledger's day Context.on): each
    member as they stood then — branch, 党小组, 人员类别 and 党籍状态 of that day, an 入党 or 转正 date still
    to come left blank. ID numbers and phones as the 党员名册 page shows them to this user today: masked
    unless the user may see them where the member is now (one who has left since is masked)."""
    rows = list(
        member_selectors.roster_as_of(on=on, branch_ids=branch_ids)
        .select_related("branch", "member__branch", "member__group")
        .order_by("member__name_initials", "member__name", "member_id")
    )
    members = [row.member for row in rows]
    if user is None:  # the command line without --user: masked, like any role without the right
        for m in members:
            m.shown_id_number, m.shown_phone = mask_id_number(m.id_number), mask_phone(m.phone)
    else:
        member_selectors.present(user, members)
    for row, m in zip(rows, members, strict=True):
        m.branch, m.group, m.on_roster = row.branch, row.group, True
        m.category = row.category_then or m.category
        m.status = row.status_then or m.status
        if m.joined_on and m.joined_on > on:
            m.joined_on = None
        if m.confirmed_on and m.confirmed_on > on:
            m.confirmed_on = None
    return members


def labelled_roster_rows(members, labels):
    """roster_rows with each name as the ledger's labels give it (a namesake told apart)."""
    for member, row in zip(members, roster_rows(members), strict=True):
        row[1] = labels.get(member.pk, row[1])
        yield row


def roster_sheet(ctx):
    return Sheet("党员名册", [Column(t, w) for t, w in ROSTER_HEADERS],
                 lambda: labelled_roster_rows(ctx.reads.of("roster", ctx.branch), ctx.labels),
                 note="本支部暂无在册党员")  # fmt: skip


# ---------------------------------------------------------------- meetings


def year_meetings(branch_ids, year):
    """The branches' meetings held in the year, and 组织生活会 held for it; types and attendance loaded."""
    return list(
        Meeting.objects.filter(branch_id__in=branch_ids, voided_at__isnull=True)
        .filter(Q(held_on__year=year) | Q(for_year=year))
        .select_related("group")
        .prefetch_related(
            Prefetch("types", queryset=MeetingTypeTag.objects.order_by("pk")),
            Prefetch(
                "attendance",
                queryset=Attendance.objects.select_related("member").order_by(
                    "member__name_initials", "member__name"
                ),
            ),
            "rectifications",
        )
        .order_by("held_on", "pk")
    )


def _types(meeting):
    return sorted((t.type for t in meeting.types.all()), key=TYPE_ORDER.get)


def _attendance(meeting, labels=None):
    by_status = {status: [] for status in AttendanceStatus.values}
    for row in meeting.attendance.all():
        name = (labels or {}).get(row.member_id, row.member.name)
        if row.status == AttendanceStatus.LEAVE and row.leave_reason:
            name = f"{name}（{row.leave_reason}）"
        by_status[row.status].append(name)
    return by_status


def _counts(by_status):
    expected = sum(len(v) for v in by_status.values())
    return [expected, len(by_status["present"]), len(by_status["leave"]), len(by_status["absent"]),
            len(by_status["away"])]  # fmt: skip


# Excel holds at most this many characters in a cell (a longer one makes it report the file damaged).
CELL_LIMIT = 32767
CUT_SHORT = "……（以下略，全文见系统中的会议记录）"


def _cell_text(text):
    """Long text (minutes) whole, or cut to what one Excel cell holds, saying so."""
    return text if len(text) <= CELL_LIMIT else text[: CELL_LIMIT - len(CUT_SHORT)] + CUT_SHORT


def _time(value):
    return f"{value:%H:%M}" if value else ""


# What the meeting page shows of a meeting's substance: who else sat in, the minutes, what was decided,
# and what the reviewer said. An inspector checks a 三会一课 by its minutes and a 支委会 by its decisions.
MINUTES_COLUMNS = [
    Column("列席人员", wrap=True),
    Column("会议内容/记录", wrap=True),
    Column("决议事项", wrap=True),
]


def _minutes(m):
    return [m.guests, _cell_text(m.content), _cell_text(m.resolutions)]


MEETING_COLUMNS = [("序号", 6), ("召开日期", 12), ("开始时间", 8), "会议类型", "党小组", Column("会议主题", wrap=True),
                   "地点", "主持人", "主讲人", "记录人", ("应到", 6), ("实到", 6), ("请假", 6), ("缺席", 6),
                   ("外出", 6), Column("出席人员", wrap=True), Column("请假人员（事由）", wrap=True),
                   Column("缺席人员", wrap=True), Column("外出人员", wrap=True), *MINUTES_COLUMNS, ("补录", 6),
                   "补录原因", ("到会未过半", 10), "审核状态", Column("审核意见", wrap=True)]  # fmt: skip


def meeting_rows(meetings, year, labels=None):
    index = 0
    for m in meetings:
        types = _types(m)
        if m.held_on.year != year or not set(types) & set(THREE_MEETINGS_ONE_LECTURE):
            continue
        index += 1
        people = _attendance(m, labels)
        yield [index, m.held_on, _time(m.start_time), _join(MeetingType(t).label for t in types),
               m.group.name if m.group else "", m.topic, m.place, m.host, m.lecturer, m.recorder, *_counts(people),
               _join(people["present"]), _join(people["leave"]), _join(people["absent"]), _join(people["away"]),
               *_minutes(m), _yes(m.is_backfill), m.backfill_reason, _yes(m.low_quorum),
               m.get_review_state_display(), m.review_comment]  # fmt: skip


THEME_DAY_COLUMNS = [("序号", 6), ("召开日期", 12), ("开始时间", 8), ("固定日期", 12), "改期批准人",
                     ("改期批准日期", 12), Column("主题", wrap=True), "地点", "主持人", ("应到", 6), ("实到", 6),
                     ("请假", 6), ("缺席", 6), ("外出", 6), Column("出席人员", wrap=True),
                     Column("请假人员（事由）", wrap=True), Column("缺席人员", wrap=True), *MINUTES_COLUMNS,
                     ("补录", 6), "审核状态", Column("审核意见", wrap=True)]  # fmt: skip


def theme_day_rows(branch, meetings, year, labels=None):
    index = 0
    for m in meetings:
        if m.held_on.year != year or MeetingType.THEME_DAY not in _types(m):
            continue
        index += 1
        people = _attendance(m, labels)
        yield [index, m.held_on, _time(m.start_time), fixed_theme_day(branch, m.held_on), m.off_day_approved_by,
               m.off_day_approved_on, m.topic, m.place, m.host, *_counts(people), _join(people["present"]),
               _join(people["leave"]), _join(people["absent"]), *_minutes(m), _yes(m.is_backfill),
               m.get_review_state_display(), m.review_comment]  # fmt: skip


ORG_LIFE_COLUMNS = [("序号", 6), ("所属年度", 8), ("召开日期", 12), Column("主题", wrap=True), "主持人",
                    ("应到", 6), ("实到", 6), ("请假", 6), ("缺席", 6), Column("会前征求意见", wrap=True),
                    Column("会前谈心谈话", wrap=True), Column("对照检查材料", wrap=True),
                    Column("批评与自我批评", wrap=True), Column("整改清单（问题／措施／责任人／期限／完成）", wrap=True),
                    ("整改事项", 8), ("已完成", 8), ("报告上级日期", 12), ("补录", 6)]  # fmt: skip


def _rectifications(meeting):
    items = sorted(
        (r for r in meeting.rectifications.all() if r.voided_at is None), key=lambda r: (r.due_on, r.pk)
    )
    lines = [
        f"{i}. {r.problem}／{r.measure or '—'}／{r.owner}／{r.due_on:%Y-%m-%d}／"
        f"{f'{r.done_on:%Y-%m-%d}完成' if r.done_on else '未完成'}"
        for i, r in enumerate(items, start=1)
    ]
    return "\n".join(lines), len(items), sum(1 for r in items if r.done_on)


def org_life_rows(meetings, year):
    index = 0
    for m in meetings:
        if m.for_year != year or MeetingType.ORG_LIFE_MEETING not in _types(m):
            continue
        index += 1
        counts = _counts(_attendance(m))[:4]
        text, total, done = _rectifications(m)
        yield [index, m.for_year, m.held_on, m.topic, m.host, *counts, m.opinions, m.talks_summary,
               m.self_examination, m.criticism, text, total, done, m.reported_on, _yes(m.is_backfill)]  # fmt: skip


# ---------------------------------------------------------------- talks, reviews, dues, reports, pipeline

TALK_COLUMNS = [("序号", 6), ("谈话日期", 12), "谈话人", "谈话对象", Column("主要内容", wrap=True)]


def year_talks(branch_ids, year):
    return (
        Talk.objects.filter(branch_id__in=branch_ids, talked_on__year=year, voided_at__isnull=True)
        .select_related("initiator", "counterpart")
        .order_by("talked_on", "pk")
    )


def talk_rows(talks, labels=None):
    labels = labels or {}
    for index, t in enumerate(talks, start=1):
        yield [index, t.talked_on, labels.get(t.initiator_id, t.initiator.name),
               labels.get(t.counterpart_id, t.counterpart.name), t.topic]  # fmt: skip


def year_reviews(branch_ids, year):
    """({branch_id: (campaign, its results_rows)}, {branch_id: status label}): the year's 民主评议 results of the
    campaigns closed or reported (COUNTED_STATUSES, those that count for the year; the campaign not voided,
    one a branch and year), graded members first; and the status of a campaign not finished yet (草稿,
    进行中, 退回修改), whose tallies are not results and stay out of the ledger."""
    campaigns = list(Campaign.objects.filter(branch_id__in=branch_ids, year=year, voided_at__isnull=True))
    finished = [c for c in campaigns if c.status in COUNTED_STATUSES]
    results = results_by_campaign(finished)
    unfinished = {c.branch_id: c.get_status_display() for c in campaigns if c.status not in COUNTED_STATUSES}
    return {c.branch_id: (c, results[c.pk]) for c in finished}, unfinished


def review_rows(campaign, results, labels=None):
    status = campaign.get_status_display()
    labels = labels or {}
    return [
        [index, labels.get(r["member_id"], r["name"]), r["category"], r["votes_excellent"], r["votes_qualified"], r["votes_basic"],
         r["votes_unqualified"], r["grade"], r["grade_reason"] or r["exempt_reason"], r["followup"], status]
        for index, r in enumerate(results, start=1)
    ]  # fmt: skip


def review_note(year, unfinished_status):
    if not unfinished_status:
        return NO_REVIEW_NOTE
    return f"{NO_REVIEW_NOTE}（{year}年度民主评议目前为“{unfinished_status}”，完成后列入台账）"


def review_sheet(ctx):
    note = review_note(ctx.year, ctx.reads.unfinished_reviews.get(ctx.branch.pk))
    finished = ctx.reads.reviews.get(ctx.branch.pk)
    rows = review_rows(*finished, ctx.labels) if finished else []
    return Sheet("民主评议", REVIEW_COLUMNS, rows, note=note)


MONTHS = range(1, 13)
DUES_COLUMNS = [("序号", 6), "姓名", "人员类别", "党费类别", ("月应缴（元）", 12),
                *((f"{m}月", 8) for m in MONTHS), ("已缴月数", 9), ("合计（元）", 11),
                Column("变动情况", wrap=True)]  # fmt: skip
# A month the member owed this branch nothing: not in the branch then, or not yet a party member.
NOT_OWED_HERE = "—"
DUES_NOTE = "本年度本支部无党员"


@dataclass
class _Span:
    """A member's unbroken time in one branch (a change of 党小组 inside it does not break it): the days
    started_on ≤ day < ended_on, as members.selectors.roster_as_of counts them."""

    branch_id: int
    branch_name: str
    started_on: date
    ended_on: date | None
    start_reason: str
    end_reason: str

    def covers(self, first, last):
        """Whether the member was in the branch on some day from first to last."""
        return self.started_on <= last and (self.ended_on is None or self.ended_on > first)

    def last_day(self, end):
        return end if self.ended_on is None else min(end, self.ended_on - timedelta(days=1))


def _spans(memberships):
    spans = []
    for ms in memberships:
        if ms.ended_on is not None and ms.ended_on <= ms.started_on:
            continue  # a period of no day
        last = spans[-1] if spans else None
        if last and last.branch_id == ms.branch_id and last.ended_on == ms.started_on:
            last.ended_on, last.end_reason = ms.ended_on, ms.end_reason
            continue
        spans.append(_Span(ms.branch_id, ms.branch.name, ms.started_on, ms.ended_on, ms.start_reason,
                           ms.end_reason))  # fmt: skip
    return spans


def _category_on(member, changes, day):
    """The member's category on the day, from the dated category changes (the member's own when none was
    ever recorded); None before the first."""
    if not changes:
        return member.category
    found = None
    for changed_on, category in changes:
        if changed_on > day:
            break
        found = category
    return found


@dataclass
class DuesLine:
    """One member's row on one branch's 党费收缴 sheet: months are {month number: amount, None (owed
    here, unpaid) or NOT_OWED_HERE}."""

    member: Member
    category: str
    months: dict
    notes: list


def _span_notes(spans, index, start, end):
    span, notes = spans[index], []
    before = spans[index - 1] if index else None
    after = spans[index + 1] if index + 1 < len(spans) else None
    if start < span.started_on <= end:
        if before and before.ended_on == span.started_on:
            notes.append(f"{span.started_on:%Y-%m-%d}由{before.branch_name}转入")
        else:
            notes.append(f"{span.started_on:%Y-%m-%d}{span.start_reason or '编入'}")
    if span.ended_on is not None and span.ended_on <= end:
        if after and after.started_on == span.ended_on:
            notes.append(f"{span.ended_on:%Y-%m-%d}转至{after.branch_name}")
        else:
            notes.append(f"{span.ended_on:%Y-%m-%d}{span.end_reason or '离开本支部'}")
    return notes


def _member_lines(member, spans, changes, paid, *, year, branch_ids):
    """{branch_id: DuesLine} of the member for the branches among branch_ids the member owed dues to in
    the year. A month is owed to the branch the member belonged to last in it (one who moves mid-month owes
    that month to the new branch, as dues.owed_from counts a newcomer's first month), and only while a
    party member (预备 or 正式) by the month's end there."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    lines = {}
    for month in MONTHS:
        first = date(year, month, 1)
        last = dues.next_month(first) - timedelta(days=1)
        owners = [i for i, s in enumerate(spans) if s.covers(first, last)]
        if not owners:
            continue
        index = owners[-1]
        span = spans[index]
        if span.branch_id not in branch_ids:
            continue
        party = _category_on(member, changes, min(last, span.last_day(end))) in PARTY_MEMBER_CATEGORIES
        if not party and month not in paid:
            continue
        line = lines.get(span.branch_id)
        if line is None:
            line = lines[span.branch_id] = DuesLine(member, "", dict.fromkeys(MONTHS, NOT_OWED_HERE), [])
        line.months[month] = paid.get(month)
    for branch_id, line in lines.items():
        own = _own_spans(spans, branch_id, start, end)
        last_day = spans[own[-1]].last_day(end)
        line.category = Category(_category_on(member, changes, last_day) or member.category).label
        joined = member.joined_on
        if joined and start <= joined <= end and any(spans[i].covers(joined, joined) for i in own):
            line.notes.append(f"{member.joined_on:%Y-%m-%d}入党")
        for i in own:
            line.notes.extend(_span_notes(spans, i, start, end))
    return lines


def _own_spans(spans, branch_id, first, last):
    """The indexes of the member's spans in the branch that cover some day from first to last."""
    return [i for i, s in enumerate(spans) if s.branch_id == branch_id and s.covers(first, last)]


@dataclass
class YearHistory:
    """Who was in which branch, and what, on any day of the year: the dated memberships (as _Spans) and
    category changes of everyone who belonged to one of the branches at some time in it, as
    members.selectors.roster_as_of reads them; here: a subquery of their ids, to read their records."""

    here: object
    members: dict
    spans: dict
    changes: dict

    def category_on(self, member_id, day):
        member = self.members[member_id]
        return _category_on(member, self.changes[member_id], day) or member.category

    def branch_on(self, member_id, day):
        """The member's branch on the day (the new one on the day of a move). A day outside the year's
        memberships (a record dated after the member left): the last branch before it, else the first."""
        spans = self.spans.get(member_id, [])
        before = [s for s in spans if s.started_on <= day]
        found = [s for s in before if s.covers(day, day)] or before or spans[:1]
        return found[-1].branch_id if found else None


def year_history(branch_ids, year):
    """YearHistory of the branches' members of the year. Two queries."""
    start, end = date(year, 1, 1), date(year, 12, 31)

    def in_year(queryset):
        return queryset.filter(started_on__lte=end).filter(Q(ended_on__isnull=True) | Q(ended_on__gt=start))

    here = in_year(Membership.objects.filter(branch_id__in=branch_ids)).values("member_id")
    by_member = defaultdict(list)
    for ms in (in_year(Membership.objects.filter(member_id__in=here)).select_related("member", "branch")
               .order_by("member_id", "started_on", "pk")):  # fmt: skip
        by_member[ms.member_id].append(ms)
    changes = defaultdict(list)
    for member_id, category, changed_on in (
        CategoryChange.objects.filter(member_id__in=here)
        .order_by("changed_on", "pk")
        .values_list("member_id", "category", "changed_on")
    ):
        changes[member_id].append((changed_on, category))
    return YearHistory(
        here,
        members={member_id: memberships[0].member for member_id, memberships in by_member.items()},
        spans={member_id: _spans(memberships) for member_id, memberships in by_member.items()},
        changes=changes,
    )


def dues_payers(history, branch_ids, year):
    """{branch_id: [DuesLine]}: the branches' party members of the year — everyone on a branch's roster at
    some time in the year (YearHistory) while a party member — each with the year's payments of the months
    owed to that branch. One query."""
    paid = defaultdict(dict)
    for member_id, month, amount in DuesPayment.objects.filter(
        member_id__in=history.here, month__year=year, voided_at__isnull=True
    ).values_list("member_id", "month", "amount"):
        paid[member_id][month.month] = amount
    wanted = set(branch_ids)
    lines = defaultdict(list)
    for member_id, spans in history.spans.items():
        found = _member_lines(history.members[member_id], spans, history.changes[member_id], paid[member_id],
                              year=year, branch_ids=wanted)  # fmt: skip
        for branch_id, line in found.items():
            lines[branch_id].append(line)
    for rows in lines.values():
        rows.sort(key=lambda line: (line.member.name_initials, line.member.name, line.member.pk))
    return lines


def _amount(value):
    """An amount of money in yuan, to the fen (a Decimal: the renderer shows it with two decimals)."""
    return Decimal(value).quantize(Decimal("0.01"))


def _paid(values):
    """The amounts among a row's or a column's months (leaving out the unpaid and the “—”)."""
    return [v for v in values if v not in (None, NOT_OWED_HERE)]


def dues_rows(lines, labels=None):
    """Member × month: the amount paid for each month owed to the branch (blank when unpaid, “—” when the
    month was not the branch's to collect); then the 合计 of each month, of the months paid and of the year."""
    for index, line in enumerate(lines, start=1):
        m, paid = line.member, _paid(line.months.values())
        monthly = m.monthly_dues
        yield [index, (labels or {}).get(m.pk, m.name), line.category, m.get_dues_kind_display(),
               None if monthly is None else _amount(monthly),
               *(v if v in (None, NOT_OWED_HERE) else _amount(v) for v in (line.months[k] for k in MONTHS)),
               len(paid), _amount(sum(paid)), "；".join(line.notes)]  # fmt: skip
    if lines:
        months = [_amount(sum(_paid(line.months[k] for line in lines))) for k in MONTHS]
        yield Total([None, TOTAL, None, None, None, *months, sum(len(_paid(line.months.values())) for line in lines),
                     _amount(sum(months)), None])  # fmt: skip


REPORT_COLUMNS = [("序号", 6), "姓名", "人员类别", ("收到日期", 12), Column("标题/主要内容", wrap=True)]


def year_reports(history, branch_ids, year):
    """{branch_id: [ThoughtReport]}: the year's reports, each under the branch that received it (the member's
    on the day it was received), with the member's category that day (category_then). One query."""
    wanted = set(branch_ids)
    found = defaultdict(list)
    for r in (
        ThoughtReport.objects.filter(
            member_id__in=history.here, received_on__year=year, voided_at__isnull=True
        )
        .select_related("member")
        .order_by("received_on", "member__name_initials", "pk")
    ):
        branch_id = history.branch_on(r.member_id, r.received_on)
        if branch_id in wanted:
            r.category_then = Category(history.category_on(r.member_id, r.received_on)).label
            found[branch_id].append(r)
    return found


def report_rows(reports, labels=None):
    for index, r in enumerate(reports, start=1):
        yield [index, (labels or {}).get(r.member_id, r.member.name), r.category_then, r.received_on, r.title]


TRAINING_COLUMNS = [("序号", 6), "姓名", "人员类别", ("应完成学时", 11), ("已完成学时", 11), "完成情况",
                    Column("培训记录（日期 内容 形式 学时）", wrap=True)]  # fmt: skip


def year_training(branches, year, as_of):
    """(standing, records) of each party member on the branches' rosters: the year's 学时 against what they
    owe (compliance.training, the figures the flags and the branch's training page use), and the lines of
    the records that make up the total."""
    found = training.standings(branches={b.pk: b.path for b in branches}, years=[year], as_of=as_of,
                               settings=settings_in_force(as_of))  # fmt: skip
    # Only those on the branch's roster some time in the year (the dated memberships, as the 党费收缴 sheet
    # reads them): one who came later (转入, or entered here later: members.services.membership_start) is
    # not on a year's sheet of a year they were not in it, and a year already closed stays as it was.
    start, end = date(year, 1, 1), date(year, 12, 31)
    here = set(
        Membership.objects.filter(branch_id__in=[b.pk for b in branches], started_on__lte=end)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=start))
        .values_list("member_id", "branch_id")
    )
    found = [s for s in found if (s.member_id, s.branch_id) in here]
    records = defaultdict(list)
    for r in TrainingRecord.objects.filter(
        member_id__in=[s.member_id for s in found], held_on__year=year, voided_at__isnull=True
    ).order_by("held_on", "pk"):
        records[r.member_id].append(
            f"{r.held_on:%Y-%m-%d} {r.title} {r.get_kind_display()} {hours_text(r.hours)}学时"
        )
    return [(s, records[s.member_id]) for s in sorted(found, key=lambda s: (s.initials, s.name))]


def training_rows(standings, labels=None):
    for index, (s, records) in enumerate(standings, start=1):
        state = STATE_LABELS[State(s.state)] if s.due.hours else f"不适用：{s.due.reason}"
        if s.due.hours and s.due.months < 12:
            state += f"（按{s.due.months}个月折算）"
        yield [index, (labels or {}).get(s.member_id, s.name), Category(s.category).label, s.due.hours or None, s.done, state,
               "\n".join(records)]  # fmt: skip


PIPELINE_COLUMNS = [("序号", 6), "姓名", "人员类别", ("递交申请", 12), ("确定积极分子", 12), ("确定发展对象", 12),
                    ("接收预备党员", 12), ("转正", 12), Column("发展事项（日期 事项）", wrap=True),
                    Column("变动情况", wrap=True)]  # fmt: skip
IN_PIPELINE = (Category.APPLICANT, Category.ACTIVIST, Category.CANDIDATE, Category.PROBATIONARY)
# The dates of the steps, in the order of the sheet's columns.
STEPS = ("applied_on", "activist_on", "candidate_on", "joined_on", "confirmed_on")


@dataclass
class PipelineLine:
    """One member's row on one branch's 发展党员 sheet: the category at the end of their time in the branch
    that year, the dates of their steps (one not yet taken then blank) and that time's events."""

    member: Member
    category: str
    steps: list
    events: list
    notes: list


def _event_text(e):
    return f"{e.happened_on:%Y-%m-%d} {e.get_kind_display()}" + (f" {e.hours}学时" if e.hours else "")


def _pipeline_line(history, member_id, branch_id, events, start, on):
    """The member's PipelineLine for their time in the branch from start to on, or None when they were
    neither on the way in at its end nor took a step or had an event recorded in it."""
    member, spans = history.members[member_id], history.spans[member_id]
    own = _own_spans(spans, branch_id, start, on)
    if not own:
        return None
    last = spans[own[-1]].last_day(on)

    def here(day):
        return day is not None and start <= day <= on and any(spans[i].covers(day, day) for i in own)

    steps = [getattr(member, field) for field in STEPS]
    mine = [e for e in events if here(e.happened_on)]
    category = history.category_on(member_id, last)
    if category not in IN_PIPELINE and not mine and not any(here(day) for day in steps):
        return None
    return PipelineLine(member, Category(category).label, [day if day and day <= last else None for day in steps],
                        [_event_text(e) for e in mine],
                        [note for i in own for note in _span_notes(spans, i, start, on)])  # fmt: skip


def pipeline_members(history, branch_ids, year, on):
    """{branch_id: [PipelineLine]}: the year's 发展党员 work up to the day `on` (Context.on), each part under
    the branch that did it. A member is on a branch's sheet for their time in it that year when still on the
    way in (申请人 to 预备党员) at its end, or when a step or a recorded event of theirs falls in it. One query."""
    start = date(year, 1, 1)
    events = defaultdict(list)
    for e in PipelineEvent.objects.filter(member_id__in=history.here, happened_on__year=year).order_by(
        "happened_on", "pk"
    ):
        events[e.member_id].append(e)
    wanted = set(branch_ids)
    found = defaultdict(list)
    for member_id, spans in history.spans.items():
        for branch_id in dict.fromkeys(s.branch_id for s in spans if s.branch_id in wanted):
            line = _pipeline_line(history, member_id, branch_id, events[member_id], start, on)
            if line is not None:
                found[branch_id].append(line)
    for lines in found.values():
        lines.sort(key=lambda line: (line.member.applied_on is None, line.member.applied_on or start,
                                     line.member.name_initials, line.member.name, line.member.pk))  # fmt: skip
    return found


def pipeline_rows(lines, labels=None):
    for index, line in enumerate(lines, start=1):
        m = line.member
        yield [index, (labels or {}).get(m.pk, m.name), line.category, *line.steps, "\n".join(line.events),
               "；".join(line.notes)]  # fmt: skip


# ---------------------------------------------------------------- 合规情况 (compliance.grid)

COMPLIANCE_COLUMNS = [("序号", 6), "规则", "对象", "周期", ("开始", 12), ("结束", 12), ("应完成", 8), ("已完成", 8),
                      "状态", Column("完成记录", wrap=True), Column("说明", wrap=True)]  # fmt: skip


RULE_ORDER = {code: i for i, code in enumerate(CATALOGUE)}


def _cell_order(cell):
    return RULE_ORDER.get(cell.rule.code, len(RULE_ORDER)), cell.group_id or 0, cell.period.start


def year_cells(branch_ids, year, as_of):
    """Every obligation of the branches for periods of the year, judged as of as_of, selected as the
    dashboard selects them; in catalogue order of the rules, then unit and period."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    cells = ending_within(obligation_grid(branch_ids, since=grid_since(start), as_of=as_of), start, end)
    return sorted(cells, key=_cell_order)


def compliance_rows(cells, meetings, secretaries):
    """secretaries: the branch's (engine.secretaries_of), for 书记讲党课."""
    for index, cell in enumerate(cells, start=1):
        records = met_by(meetings, cell.rule, cell.obligation, cell.group_id, secretaries)
        shown = _join(f"{m.held_on:%Y-%m-%d} {m.topic}" for m in records)
        yield [index, cell.rule.name, cell.unit_name, cell.period.label, cell.period.start, cell.period.end,
               cell.obligation.required, cell.obligation.held, STATE_LABELS[cell.state], shown,
               cell.obligation.reason]  # fmt: skip


def _rate_text(t):
    return f"{t.met}/{t.applicable}（{t.rate}%）" if t.applicable else "无适用事项"


# ---------------------------------------------------------------- the branch ledger


NO_SECRETARY = "（未录入）"


# How the cover says a secretary left, by the reason their membership ended (members.services).
LEFT_AS = {"内部转接": "调离本支部"}


def _departures(branch_ids, names, on):
    """{(branch_id, name): (day, reason)} of the names that were members of the branch and had left it by
    the day, with no namesake still in it then (the term records names, as the compliance engine reads them)."""
    left, staying = {}, set()
    for branch_id, name, started_on, ended_on, reason in (
        Membership.objects.filter(branch_id__in=branch_ids, member__name__in=names, started_on__lte=on)
        .order_by("ended_on")
        .values_list("branch_id", "member__name", "started_on", "ended_on", "end_reason")
    ):
        if ended_on is None or ended_on > on:
            staying.add((branch_id, name))
        elif ended_on > started_on:
            left[(branch_id, name)] = (ended_on, reason)
    return {key: value for key, value in left.items() if key not in staying}


def secretary_names(branch_ids, on):
    """{branch_id: name} of the secretary in office on the day (the latest elected term's, the latest
    started among its secretaries). One whose position was not closed but who had left the branch by the
    day (transferred out or moved: a member of that name was in the branch, none is any more) is not named:
    the cover says the post has no secretary recorded, and why."""
    positions = (
        CommitteePosition.objects.filter(
            term__organisation_id__in=branch_ids,
            term__elected_on__lte=on,
            position=Position.SECRETARY,
            started_on__lte=on,
        )
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=on))
        .order_by("-term__elected_on", "-started_on")
        .values_list("term__organisation_id", "holder_name")
    )
    names = {}
    for branch_id, name in positions:
        names.setdefault(branch_id, name)
    gone = _departures(branch_ids, set(names.values()), on)
    for branch_id, name in names.items():
        if (branch_id, name) in gone:
            day, reason = gone[(branch_id, name)]
            names[branch_id] = (
                f"（未录入：原书记{name}已于{day:%Y-%m-%d}{LEFT_AS.get(reason, reason) or '离开本支部'}）"
            )
    return names


def parents_of(branches):
    """{branch_id: name of its parent organisation} (a branch at the root has none)."""
    step = Organisation.steplen
    names = dict(
        Organisation.objects.filter(
            path__in={b.path[:-step] for b in branches if len(b.path) > step}
        ).values_list("path", "name")
    )
    return {b.pk: names.get(b.path[:-step], "") for b in branches}


def _by_branch(rows, branch_of=attrgetter("branch_id")):
    grouped = defaultdict(list)
    for row in rows:
        grouped[branch_of(row)].append(row)
    return grouped


class Reads:
    """What the ledgers of some branches read for a year, each kind in one query for all of them and kept
    by branch: the county zip reads a chunk of branches at a time (ZIP_CHUNK), a branch export its own."""

    def __init__(self, branches, *, year, user, as_of):
        ids = [b.pk for b in branches]
        on = min(date(year, 12, 31), as_of)  # Context.on
        preload_value_settings(branches)  # 主题党日 fixed days
        self.roster = _by_branch(roster_members(ids, user, on))
        self.meetings = _by_branch(year_meetings(ids, year))
        self.talks = _by_branch(year_talks(ids, year))
        self.reviews, self.unfinished_reviews = year_reviews(ids, year)
        history = year_history(ids, year)
        self.dues = dues_payers(history, ids, year)
        self.reports = year_reports(history, ids, year)
        self.training = _by_branch(year_training(branches, year, as_of), lambda pair: pair[0].branch_id)
        self.pipeline = pipeline_members(history, ids, year, on)
        self.cells = _by_branch(year_cells(ids, year, as_of))
        self.secretaries = secretaries_of(ids)
        self.secretary_names = secretary_names(ids, on)
        self.parents = parents_of(branches)
        self.labels = self._name_labels()

    def of(self, kind, branch):
        return getattr(self, kind).get(branch.pk, [])

    def _name_labels(self):
        """{branch_id: {member id: label}}: everyone a branch's ledger names by name, labelled together
        (members.names.distinct_labels), so that namesakes read apart on every sheet and alike across
        them. One query for all the branches."""
        named = defaultdict(set)
        for branch_id, members in self.roster.items():
            named[branch_id].update(m.pk for m in members)
        for branch_id, meetings in self.meetings.items():
            named[branch_id].update(a.member_id for m in meetings for a in m.attendance.all())
        for branch_id, talks in self.talks.items():
            named[branch_id].update(pk for t in talks for pk in (t.initiator_id, t.counterpart_id))
        for branch_id, lines in self.dues.items():
            named[branch_id].update(line.member.pk for line in lines)
        for branch_id, reports in self.reports.items():
            named[branch_id].update(r.member_id for r in reports)
        for branch_id, pairs in self.training.items():
            named[branch_id].update(standing.member_id for standing, _records in pairs)
        for branch_id, (_campaign, results) in self.reviews.items():
            named[branch_id].update(r["member_id"] for r in results)
        for branch_id, lines in self.pipeline.items():
            named[branch_id].update(line.member.pk for line in lines)
        wanted = set().union(*named.values())
        people = Member.objects.filter(pk__in=wanted).select_related("group").only(
            "pk", "name", "birth_on", "joined_on", "group__name"
        ) if wanted else []  # fmt: skip
        by_pk = {p.pk: p for p in people}
        return {
            branch_id: distinct_labels(by_pk[pk] for pk in pks if pk in by_pk)
            for branch_id, pks in named.items()
        }


def exporter_name(user):
    """The exporter as the export log names them: the person's name, else the login; the command line."""
    if user is None:
        return "命令行"
    return user.get_full_name() or user.get_username()


def branch_book(branch, *, year, user, as_of=None, generated_at=None, reads=None):
    """The branch's 台账 for the year: a cover and the sheets of BRANCH_SHEETS, rows built on write.

    reads: what was read for a chunk of branches including this one (Reads); else read for it alone."""
    as_of = as_of or timezone.localdate()
    reads = reads or Reads([branch], year=year, user=user, as_of=as_of)
    ctx = Context(branch, year, user, as_of, reads)
    ctx.meetings, ctx.cells = reads.of("meetings", branch), reads.of("cells", branch)
    ctx.labels = reads.labels.get(branch.pk, {})
    dues_lines = reads.of("dues", branch)
    roster = reads.of("roster", branch)
    party = sum(m.category in PARTY_MEMBER_CATEGORIES for m in roster)
    on = f"{ctx.on.year}年{ctx.on.month}月{ctx.on.day}日"
    cover = [
        ("党支部", branch.name),
        ("上级党组织", reads.parents.get(branch.pk, "")),
        ("年度", f"{year}年"),
        ("支部书记", reads.secretary_names.get(branch.pk, NO_SECRETARY)),
        # The party members of the 党员名册 sheet, the roster on the ledger's day (Context.on); the 党费收缴
        # sheet also lists those who left or came during the year.
        (f"在册党员（{on}）", party),
        (
            "党员名册人数",
            f"{len(roster)}人（含入党申请人、入党积极分子、发展对象{len(roster) - party}人）"
            if len(roster) > party
            else f"{len(roster)}人",
        ),
        ("本年度曾在册党员", len(dues_lines)),
        ("合规完成率", _rate_text(tally(ctx.cells))),
        ("统计截至", as_of),
        ("生成时间", generated_at or timezone.now()),
        ("导出人", exporter_name(user)),
        (
            "说明",
            f"党员名册为{on}在册人员，人员类别、党小组、党籍状态为当日情况；"
            "党费收缴表列本年度曾在本支部的党员（含年内转出、转入、入党者），"
            "“—”为不在本支部或尚未入党、无需在本支部缴纳的月份；思想汇报、发展党员按当时所在支部列入；"
            "合规情况与“本期事项”、工作台按同一规则计算。",
        ),
    ]
    return Book(
        [build(ctx) for _title, build in BRANCH_SHEETS], f"{branch.name} {year}年度组织生活台账", cover
    )


# The sheets of a branch ledger, in order: (title, builder(ctx) -> Sheet). Data, so a sheet is added here.
BRANCH_SHEETS = [
    ("党员名册", roster_sheet),
    ("三会一课记录", lambda c: Sheet("三会一课记录", MEETING_COLUMNS, lambda: meeting_rows(c.meetings, c.year, c.labels),
                                      note="本年度无三会一课记录")),
    ("主题党日", lambda c: Sheet("主题党日", THEME_DAY_COLUMNS, lambda: theme_day_rows(c.branch, c.meetings, c.year, c.labels),
                                  note="本年度无主题党日记录")),
    ("组织生活会", lambda c: Sheet("组织生活会", ORG_LIFE_COLUMNS, lambda: org_life_rows(c.meetings, c.year),
                                    note="本年度组织生活会尚未召开或未录入")),
    ("谈心谈话", lambda c: Sheet("谈心谈话", TALK_COLUMNS, lambda: talk_rows(c.reads.of("talks", c.branch), c.labels),
                                  note="本年度无谈心谈话记录")),
    ("民主评议", review_sheet),
    ("党费收缴", lambda c: Sheet("党费收缴", DUES_COLUMNS, lambda: dues_rows(c.reads.of("dues", c.branch), c.labels),
                                  note=DUES_NOTE)),
    ("思想汇报", lambda c: Sheet("思想汇报", REPORT_COLUMNS, lambda: report_rows(c.reads.of("reports", c.branch), c.labels),
                                  note="本年度无思想汇报记录")),
    ("学习培训", lambda c: Sheet("学习培训", TRAINING_COLUMNS, lambda: training_rows(c.reads.of("training", c.branch), c.labels),
                                  note="本支部暂无在册党员")),
    ("发展党员", lambda c: Sheet("发展党员", PIPELINE_COLUMNS, lambda: pipeline_rows(c.reads.of("pipeline", c.branch), c.labels),
                                  note="本年度无发展党员工作记录")),
    ("合规情况", lambda c: Sheet("合规情况", COMPLIANCE_COLUMNS, lambda: compliance_rows(c.cells, c.meetings,
                                                                   c.reads.secretaries[c.branch.pk]),
                                  note="本年度无应完成事项")),
]  # fmt: skip


# ---------------------------------------------------------------- the township summary


def subtree_branches(organisation, year):
    """Branches under the organisation that existed at some point of the year, in tree order."""
    return list(
        Organisation.objects.filter(path__startswith=organisation.path, level=OrgLevel.BRANCH)
        .filter(founded_on__lte=date(year, 12, 31))
        .filter(Q(dissolved_on__isnull=True) | Q(dissolved_on__gte=date(year, 1, 1)))
        .order_by("path")
    )


SUMMARY_COLUMNS = [("序号", 6), "党支部", "规则", ("应完成事项", 10), ("已完成", 8), ("逾期", 8), ("即将到期", 10),
                   ("待完成", 8), ("不适用", 8), ("完成率（%）", 11)]  # fmt: skip
GRID_COLUMNS = [("序号", 6), "党支部", "对象", "规则", "周期", ("开始", 12), ("结束", 12), ("应完成", 8),
                ("已完成", 8), "状态", Column("说明", wrap=True)]  # fmt: skip
OVERDUE_COLUMNS = [("序号", 6), "党支部", "对象", "规则", "周期", ("结束", 12), ("应完成", 8), ("已完成", 8)]
WATCH_COLUMNS = [("序号", 6), "党支部", "党员", "事项", "状态", Column("说明", wrap=True), ("发现日期", 12)]


def _tally_row(t):
    return [t.applicable, t.met, t.overdue, t.due_soon, t.due, t.not_applicable, t.rate]


def summary_rows(branches, cells):
    """Branch × rule, each branch closed by its 合计; the township's 合计 last."""
    by_branch_rule = tally_by(cells, lambda c: (c.branch_id, c.rule.code))
    by_branch = tally_by(cells, lambda c: c.branch_id)
    rules = {}
    for c in cells:
        rules.setdefault(c.rule.code, c.rule.name)
    index = 0
    for b in branches:
        for code, name in rules.items():
            t = by_branch_rule.get((b.pk, code))
            if t is None or not t.applicable:  # a rule that does not apply to the branch at all
                continue
            index += 1
            yield [index, b.name, name, *_tally_row(t)]
        if b.pk in by_branch:  # a 合计 is not an item: no 序号
            yield Total([None, b.name, TOTAL, *_tally_row(by_branch[b.pk])])
    yield Total([None, TOTAL, TOTAL, *_tally_row(tally(cells))])


def grid_rows(cells):
    for index, c in enumerate(cells, start=1):
        yield [index, c.branch_name, c.unit_name, c.rule.name, c.period.label, c.period.start, c.period.end,
               c.obligation.required, c.obligation.held, STATE_LABELS[c.state], c.obligation.reason]  # fmt: skip


def overdue_rows(cells):
    overdue = (c for c in cells if c.state == State.OVERDUE)
    for index, c in enumerate(overdue, start=1):
        yield [index, c.branch_name, c.unit_name, c.rule.name, c.period.label, c.period.end,
               c.obligation.required, c.obligation.held]  # fmt: skip


def watch_rows(organisation, on):
    """Members who need attention: the watch-list (compliance.selectors.WATCH_RULES, the dashboard's 关注党员
    and the 待办 list's “关注党员” filter) of the branches under the organisation as it stood on the day
    (the year's last, or today in the current year: then the open flags): the flags raised by then and not
    yet resolved then."""
    flags = (
        Flag.objects.filter(
            branch__path__startswith=organisation.path,
            rule__in=WATCH_RULES,
            member__isnull=False,
            raised_on__lte=on,
        )
        .filter(Q(resolved_on__isnull=True) | Q(resolved_on__gt=on))
        .select_related("branch", "member")
        .order_by("branch__path", "rule", "member__name_initials", "pk")
    )
    for index, f in enumerate(flags, start=1):
        yield [index, f.branch.name, f.member.name, f.get_rule_display(), f.get_state_display(), f.message,
               f.raised_on]  # fmt: skip


def summary_book(organisation, *, year, user, as_of=None, generated_at=None):
    as_of = as_of or timezone.localdate()
    branches = subtree_branches(organisation, year)
    ids = [b.pk for b in branches]
    order = {b.pk: i for i, b in enumerate(branches)}
    cells = sorted(year_cells(ids, year, as_of), key=lambda c: (order[c.branch_id], *_cell_order(c)))
    total = tally(cells)
    on = min(date(year, 12, 31), as_of)  # Context.on
    cover = [
        ("党组织", organisation.name),
        ("年度", f"{year}年"),
        ("党支部数", len(branches)),
        ("合规完成率", _rate_text(total)),
        ("逾期事项", total.overdue),
        ("统计截至", as_of),
        ("生成时间", generated_at or timezone.now()),
        ("导出人", exporter_name(user)),
        ("说明", "完成率＝已完成÷应完成（不含不适用）；与工作台、本期事项按同一规则计算。"),
    ]
    sheets = [
        Sheet(
            "完成率汇总", SUMMARY_COLUMNS, lambda: summary_rows(branches, cells), note="本年度无应完成事项"
        ),
        Sheet("合规明细", GRID_COLUMNS, lambda: grid_rows(cells), note="本年度无应完成事项"),
        Sheet("逾期清单", OVERDUE_COLUMNS, lambda: overdue_rows(cells), note="无逾期事项"),
        Sheet("重点关注党员", WATCH_COLUMNS, lambda: watch_rows(organisation, on), note="暂无需要关注的党员"),
    ]
    return Book(sheets, f"{organisation.name} {year}年度组织生活情况汇总", cover)
