"""The compliance refresh: compute what needs attention, compare with the open flags, write the difference.

Set-based: one refresh reads the units, the settings, the meetings (aggregated per branch,
group, type and month), the terms, the dues and the attendance of its scope in a handful of
queries, evaluates the pure rules in memory, and writes only what changed: new flags are
inserted, flags that no longer hold are resolved (kept, with the date and why). An
unchanged rerun writes nothing.

Choices a township office would defend in an inspection (RULES.md leaves them open):
- Flags are kept for what needs attention only: an obligation that is overdue or due within
  7 days, a ladder step, a record-quality warning. "Met" and "due" states are computed on read.
- A refresh re-judges periods that end on or after `since` (default: 1 January of last year,
  so the year-end 组织生活会 held early next year is caught); older closed periods stand.
- 组织生活会 counts for its 所属年度 (for_year), not the year it was held.
- 外出 and 请假 months neither add to nor reset the absence ladder; exempt months have no
  expected attendance, so they do neither either.
- A branch "has a committee" when its current term has 委员 beyond the 书记 and 副书记.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from django.contrib.postgres.aggregates import BitOr
from django.db import connection, transaction
from django.db.models import Case, Count, Exists, IntegerField, Max, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Cast, ExtractMonth, ExtractYear, TruncMonth

from branches.models import CommitteePosition, CommitteeTerm, Organisation, OrgLevel, Position
from evaluations.selectors import closed_review_years, open_followups
from meetings.models import Attendance, Meeting, MeetingType, Talk
from meetings.services import fixed_theme_day
from members import dues, pipeline
from members.models import (
    PARTY_MEMBER_CATEGORIES,
    DuesPayment,
    Member,
    Mobility,
    PipelineEvent,
    Status,
    StatusChange,
    ThoughtReport,
)

from . import stamps, training
from .models import Flag, FlagState, RuleSetting
from .periods import PeriodKind, State, period_containing
from .rules import (
    CATALOGUE,
    UNIT_RULES,
    Frequency,
    Unit,
    dues_step,
    evaluate,
    evaluate_coverage,
    hours_text,
    ladder_step,
    lecturer_is,
    talk_coverage,
)

ATTENTION = {State.OVERDUE: FlagState.OVERDUE, State.DUE_SOON: FlagState.DUE_SOON}
COMMITTEE_POSTS = {Position.ORGANISATION, Position.PROPAGANDA, Position.DISCIPLINE, Position.YOUTH,
                   Position.WOMEN, Position.MEMBER}  # fmt: skip
LADDER_TYPES = (
    MeetingType.GENERAL_MEETING,
    MeetingType.GROUP_MEETING,
    MeetingType.PARTY_LECTURE,
    MeetingType.THEME_DAY,
)
TERM_WARNING_DAYS = 183


@dataclass(frozen=True)
class Wanted:
    key: str
    rule: str
    state: str
    branch_id: int
    message: str
    group_id: int | None = None
    member_id: int | None = None
    meeting_id: int | None = None
    period_start: date | None = None
    period_end: date | None = None


def default_since(as_of):
    return date(as_of.year - 1, 1, 1)


def nightly_since(as_of):
    """Where the nightly run starts re-judging: 1 January of the year of last month.

    With no write, a period's state changes only as its end comes near (due soon) and passes
    (overdue); older periods stand. This takes in every open period and every one that closed
    within the last month (should beat have missed a few nights), and reads the meetings from the
    start of the year those periods lie in. In January it reaches back to last year's periods."""
    last_month = as_of.replace(day=1) - timedelta(days=1)
    return date(last_month.year, 1, 1)


# Warnings about a record as it was entered: time passing never changes them, only a write does.
RECORD_RULES = frozenset({"backfill", "low_quorum", "no_attendance", "theme_day_moved", "org_life_records"})


# ---------------------------------------------------------------- reading the scope


class AllBranches(list):
    """The ids of every branch in a refresh of everything; `query` selects the same ids in SQL.

    Filtering by the subquery rather than by a list of 1,700 ids lets PostgreSQL scan and hash
    instead of probing an index once per id (and spares Django building the list into the SQL).
    """

    def __init__(self, ids, query):
        super().__init__(ids)
        self.query = query


def _in(branch_ids):
    """What a `branch_id__in=` filter takes for these ids: the subquery when they are every branch."""
    return branch_ids.query if isinstance(branch_ids, AllBranches) else branch_ids


def _branches_query(since):
    return Organisation.objects.filter(level=OrgLevel.BRANCH).filter(
        Q(dissolved_on__isnull=True) | Q(dissolved_on__gt=since)
    )


def _branches(branch_ids, since):
    qs = _branches_query(since)
    if branch_ids is not None:
        qs = qs.filter(pk__in=branch_ids)
    return list(qs.only("pk", "path", "depth", "name", "founded_on", "dissolved_on", "merged_group"))


def branch_scope(branches, branch_ids, since):
    """The ids of the branches read, marked as every branch when branch_ids is None."""
    ids = [b.pk for b in branches]
    return AllBranches(ids, _branches_query(since).values("pk")) if branch_ids is None else ids


FEW_BRANCHES = 20


def _groups(branches, since):
    by_path = {b.path: b for b in branches}
    if not branches:
        return []
    qs = Organisation.objects.filter(level=OrgLevel.GROUP, depth__in={b.depth + 1 for b in branches}).filter(
        Q(dissolved_on__isnull=True) | Q(dissolved_on__gt=since)
    )
    if len(branches) <= FEW_BRANCHES:  # a write's refresh: walk the path index under its branches only
        under = Q(pk__in=[])
        for branch in branches:
            under |= Q(path__startswith=branch.path)
        qs = qs.filter(under)
    groups = []
    for group in qs.only("pk", "path", "name", "founded_on", "dissolved_on", "merged_group"):
        parent = by_path.get(group.path[: -group.steplen])
        if parent is not None:
            group.branch = parent
            groups.append(group)
    return groups


@dataclass(frozen=True)
class Term:
    """A branch's current committee term as plain values: pk, ends_on, and its posts."""

    pk: int
    ends_on: date
    posts: tuple  # (position, holder_name, ended_on) of every post of the term


def _current_terms(branch_ids, as_of):
    """The latest term elected on or before as_of for each branch, with its posts (one query)."""
    rows = (
        CommitteeTerm.objects.filter(organisation_id__in=_in(branch_ids), elected_on__lte=as_of)
        .order_by("organisation_id", "-elected_on", "pk")
        .values_list("organisation_id", "pk", "ends_on", "positions__position", "positions__holder_name",
                     "positions__ended_on")
    )  # fmt: skip
    latest, posts = {}, defaultdict(list)
    for branch_id, pk, ends_on, position, holder_name, ended_on in rows:
        term = latest.setdefault(branch_id, (pk, ends_on))
        if term[0] == pk and position is not None:
            posts[pk].append((position, holder_name, ended_on))
    return {branch_id: Term(pk, ends_on, tuple(posts[pk])) for branch_id, (pk, ends_on) in latest.items()}


def _settings_for(settings, path, rule):
    """[(effective_from, enabled, Frequency)] in force along the unit's ancestry, in date order.

    The nearest ancestor's setting wins from its effective date on.
    """
    chosen = {}
    for setting in settings:
        if setting.rule == rule and path.startswith(setting.organisation.path):
            current = chosen.get(setting.effective_from)
            if current is None or len(setting.organisation.path) > len(current.organisation.path):
                chosen[setting.effective_from] = setting
    default = CATALOGUE[rule].frequency
    result = []
    for effective_from in sorted(chosen):
        s = chosen[effective_from]
        frequency = Frequency(s.count or default.count, PeriodKind(s.period_kind or default.period))
        result.append((effective_from, s.enabled, frequency))
    return result


def settings_in_force(as_of):
    """Every local setting effective by as_of (few: a township changes a handful of rules)."""
    return list(RuleSetting.objects.select_related("organisation").filter(effective_from__lte=as_of))


SECRETARY_LECTURE = "secretary_lecture"  # the pseudo meeting type counted for 书记讲党课


@dataclass
class Held:
    """What the scope's records count towards the unit rules.

    by_month: {(branch_id, group_id, type, month start): n} of non-void meetings; lectures given by
        the sitting secretary are also counted under the type "secretary_lecture".
    org_life: {(branch_id, year): n} of 组织生活会 by their 所属年度.
    coverage: {(branch_id, year): (required, covered)} of 谈心谈话.
    reviews: {(branch_id, year)} of closed 民主评议 campaigns.
    """

    by_month: dict
    org_life: dict
    coverage: dict
    reviews: set


def held_records(branch_ids, terms, since, as_of):
    by_month = defaultdict(int)
    rows = (
        Meeting.objects.filter(
            branch_id__in=_in(branch_ids), voided_at__isnull=True, held_on__gte=since, held_on__lte=as_of
        )
        .annotate(month=TruncMonth("held_on"))
        .values("branch_id", "group_id", "types__type", "month")
        .annotate(n=Count("id"))
    )
    for row in rows:
        by_month[(row["branch_id"], row["group_id"], row["types__type"], row["month"])] += row["n"]
    for (branch_id, month), n in _secretary_lectures(branch_ids, since, as_of).items():
        by_month[(branch_id, None, SECRETARY_LECTURE, month)] += n
    org_life = defaultdict(int)
    rows = (
        Meeting.objects.filter(branch_id__in=_in(branch_ids), voided_at__isnull=True, types__type=MeetingType.ORG_LIFE_MEETING,
                               for_year__gte=since.year, held_on__lte=as_of)
        .values("branch_id", "for_year")
        .annotate(n=Count("id", distinct=True))
    )  # fmt: skip
    for row in rows:
        org_life[(row["branch_id"], row["for_year"])] += row["n"]
    coverage = _talk_coverage(branch_ids, terms, since, as_of)
    return Held(by_month, org_life, coverage, closed_review_years(_in(branch_ids)))


def _secretary_lectures(branch_ids, since, as_of):
    """{(branch_id, month start): n} of 党课 whose 主讲人 was the branch's sitting secretary that day."""
    secretaries = secretaries_of(branch_ids)
    lectures = (
        Meeting.objects.filter(branch_id__in=_in(branch_ids), voided_at__isnull=True, held_on__gte=since,
                               held_on__lte=as_of, types__type=MeetingType.PARTY_LECTURE)
        .exclude(lecturer="")
        .values_list("branch_id", "held_on", "lecturer")
    )  # fmt: skip
    counts = defaultdict(int)
    for branch_id, held_on, lecturer in lectures:
        if given_by_secretary(lecturer, held_on, secretaries[branch_id]):
            counts[(branch_id, held_on.replace(day=1))] += 1
    return counts


def secretaries_of(branch_ids):
    """{branch_id: [(name, started_on, ended_on)]} of every secretary the branches have had."""
    secretaries = defaultdict(list)
    for branch_id, name, started_on, ended_on in CommitteePosition.objects.filter(
        term__organisation_id__in=_in(branch_ids), position=Position.SECRETARY
    ).values_list("term__organisation_id", "holder_name", "started_on", "ended_on"):
        secretaries[branch_id].append((name, started_on, ended_on))
    return secretaries


def given_by_secretary(lecturer, held_on, secretaries):
    """Whether the 主讲人 names the secretary in office on the day."""
    return any(
        lecturer_is(lecturer, name) and started_on <= held_on and (ended_on is None or held_on < ended_on)
        for name, started_on, ended_on in secretaries
    )


def _talk_coverage(branch_ids, terms, since, as_of):
    """谈心谈话 coverage per branch and year, judged against the current roster and committee.

    Committee members are the sitting office-holders of the current term, matched to the
    roster by name (the term records names). Members who left are no longer required; a
    past year is judged by who is on the roster now.
    """
    roster = defaultdict(list)
    for pk, branch_id, name in Member.objects.filter(
        branch_id__in=_in(branch_ids),
        on_roster=True,
        status=Status.NORMAL,
        category__in=PARTY_MEMBER_CATEGORIES,
    ).values_list("pk", "branch_id", "name"):
        roster[branch_id].append((pk, name))
    talks = defaultdict(list)
    for branch_id, talked_on, a, b in Talk.objects.filter(
        branch_id__in=_in(branch_ids), voided_at__isnull=True, talked_on__gte=date(since.year, 1, 1),
        talked_on__lte=as_of,
    ).values_list("branch_id", "talked_on", "initiator_id", "counterpart_id"):  # fmt: skip
        talks[(branch_id, talked_on.year)].append((a, b))
    coverage = {}
    for branch_id in branch_ids:
        term = terms.get(branch_id)
        names = {name for _position, name, ended_on in term.posts if ended_on is None} if term else set()
        members = {pk for pk, _name in roster[branch_id]}
        committee = {pk for pk, name in roster[branch_id] if name in names}
        for year in range(since.year, as_of.year + 1):
            coverage[(branch_id, year)] = talk_coverage(committee, members, talks[(branch_id, year)])
    return coverage


# ---------------------------------------------------------------- what should be flagged


def _bucket(counts, kind):
    if kind == PeriodKind.MONTH:
        return counts  # already by month start
    buckets = defaultdict(int)
    for month, n in counts.items():
        buckets[period_containing(kind, month).start] += n
    return buckets


def obligations(branches, groups, terms, settings, held, *, as_of, since):
    """Yield (branch_id, group_id, org, rule, Obligation) for every unit rule of every unit in scope."""
    months = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))  # unit key -> type -> month -> n
    for (branch_id, group_id, type_, month), n in held.by_month.items():
        months[("b", branch_id)][type_][month] += n
        if group_id:
            months[("g", group_id)][type_][month] += n
    years = defaultdict(dict)  # branch -> {year start: 组织生活会 held for that year}
    for (branch_id, year), n in held.org_life.items():
        years[branch_id][date(year, 1, 1)] = n
    coverage = defaultdict(dict)
    for (branch_id, year), pair in held.coverage.items():
        coverage[branch_id][date(year, 1, 1)] = pair
    reviews = defaultdict(dict)
    for branch_id, year in held.reviews:
        reviews[branch_id][date(year, 1, 1)] = 1
    units = [(("b", b.pk), b, _unit(b, "branch", terms.get(b.pk)), b.pk, None) for b in branches]
    units += [(("g", g.pk), g, _unit(g, "group", None), g.branch.pk, g.pk) for g in groups]
    for key, org, unit, branch_id, group_id in units:
        for code in UNIT_RULES:
            rule = CATALOGUE[code]
            if rule.scope.value != unit.level:
                continue
            if code == "org_life_meeting":
                counted = years[org.pk]
            elif code == "talk_coverage":
                counted = coverage[org.pk]
            elif code == "member_review":
                counted = reviews[org.pk]
            else:
                counted = months[key][
                    SECRETARY_LECTURE if code == SECRETARY_LECTURE else rule.meeting_types[0]
                ]
            for obligation in _evaluate_with_settings(rule, org, unit, settings, counted, as_of, since):
                yield branch_id, group_id, org, rule, obligation


# How a flag names what is missing, by rule: (still open, period over, unit of the counts).
SHORTFALL_WORDS = {
    "talk_coverage": ("尚未谈到位", "未谈到位", "人次"),
    "member_review": ("尚未完成", "未完成", "次"),
    SECRETARY_LECTURE: ("书记尚未讲", "书记未讲", "次"),
}
DEFAULT_SHORTFALL = ("尚未召开", "未召开", "次")


def _meeting_flags(branches, groups, terms, settings, held, *, as_of, since):
    wanted = []
    for branch_id, group_id, org, rule, obligation in obligations(
        branches, groups, terms, settings, held, as_of=as_of, since=since
    ):
        state = ATTENTION.get(obligation.state)
        if state is None:
            continue
        period = obligation.period
        unit_key = f"g{group_id}" if group_id else f"b{branch_id}"
        still_open, missed, unit = SHORTFALL_WORDS.get(rule.code, DEFAULT_SHORTFALL)
        wanted.append(Wanted(
            key=f"{rule.code}:{unit_key}:{period.start}:{state}", rule=rule.code, state=state, branch_id=branch_id,
            group_id=group_id, period_start=period.start, period_end=period.end,
            message=f"{org.name}{period.label}{rule.name}{still_open if state == FlagState.DUE_SOON else missed}"
                    f"（应{obligation.required}{unit}，已{obligation.held}{unit}）",
        ))  # fmt: skip
    return wanted


def _unit(org, level, term):
    has_committee = bool(term) and any(
        position in COMMITTEE_POSTS and ended_on is None for position, _name, ended_on in term.posts
    )
    return Unit(level=level, founded_on=org.founded_on, dissolved_on=org.dissolved_on,
                merged_group=getattr(org, "merged_group", False), has_committee=has_committee)  # fmt: skip


def _evaluate_with_settings(rule, org, unit, settings, held, as_of, since):
    """Evaluate each stretch of time under the setting then in force (held: {month or year start: n})."""
    segments = _settings_for(settings, org.path, rule.code) or []
    if not segments or segments[0][0] > unit.founded_on:
        segments.insert(0, (unit.founded_on, True, rule.frequency))
    results = []
    for index, (effective_from, enabled, frequency) in enumerate(segments):
        if not enabled:
            continue
        until = segments[index + 1][0] if index + 1 < len(segments) else None
        if rule.code == "talk_coverage":
            results += evaluate_coverage(rule, unit, coverage_by_year=held, as_of=as_of,
                                         effective_from=effective_from, until=until, window_start=since)  # fmt: skip
            continue
        by_period = held if rule.code == "org_life_meeting" else _bucket(held, frequency.period)
        results += evaluate(rule, unit, held_by_period=by_period, as_of=as_of, frequency=frequency,
                            effective_from=effective_from, until=until, window_start=since)  # fmt: skip
    return results


def _record_flags(branch_ids, since, as_of):
    """Record-quality warnings: 补录, 到会未过半, and meetings recorded with nobody expected."""
    wanted = []
    qs = (
        Meeting.objects.filter(
            branch_id__in=_in(branch_ids), voided_at__isnull=True, held_on__gte=since, held_on__lte=as_of
        )
        # Whether any attendance row exists: one index probe per meeting, not a count of them all.
        .annotate(recorded=Exists(Attendance.objects.filter(meeting_id=OuterRef("pk"))))
        .filter(Q(is_backfill=True) | Q(low_quorum=True) | Q(recorded=False))
        .values(
            "pk",
            "branch_id",
            "group_id",
            "held_on",
            "topic",
            "is_backfill",
            "low_quorum",
            "lateness_days",
            "recorded",
        )
    )
    for m in qs:
        where = f"{m['held_on']:%Y-%m-%d}“{m['topic']}”"
        checks = (
            (m["is_backfill"], "backfill", f"{where}为补录（召开后第{m['lateness_days']}个工作日录入）"),
            (m["low_quorum"], "low_quorum", f"{where}到会正式党员未过半，会上表决无效"),
            (not m["recorded"], "no_attendance", f"{where}没有出勤记录"),
        )
        for applies, code, message in checks:
            if applies:
                wanted.append(Wanted(key=f"{code}:m{m['pk']}", rule=code, state=FlagState.WARNING,
                                     branch_id=m["branch_id"], group_id=m["group_id"], meeting_id=m["pk"],
                                     period_end=m["held_on"], message=message))  # fmt: skip
    return wanted + _theme_day_flags(branch_ids, since, as_of) + _org_life_flags(branch_ids, since, as_of)


FOLLOWUP_STATES = {"overdue": FlagState.OVERDUE, "open": FlagState.WARNING, "missing": FlagState.WARNING}


def _review_flags(branch_ids, as_of):
    """民主评议 follow-ups (限期改正, 劝退, 除名) still open, and low grades with none recorded."""
    return [
        Wanted(key=f"{item.key}:{item.state}", rule="review_followup", state=FOLLOWUP_STATES[item.state],
               branch_id=item.branch_id, member_id=item.member_id, period_end=item.due_on, message=item.message)
        for item in open_followups(_in(branch_ids), as_of=as_of)
    ]  # fmt: skip


def _theme_day_flags(branch_ids, since, as_of):
    """主题党日 held away from the fixed day without a recorded approval (a warning, not overdue)."""
    rows = Meeting.objects.filter(
        branch_id__in=_in(branch_ids), voided_at__isnull=True, held_on__gte=since, held_on__lte=as_of,
        types__type=MeetingType.THEME_DAY, off_day_approved_by="",
    ).values("pk", "branch_id", "held_on", "topic")  # fmt: skip
    return [
        Wanted(key=f"theme_day_moved:m{m['pk']}", rule="theme_day_moved", state=FlagState.WARNING,
               branch_id=m["branch_id"], meeting_id=m["pk"], period_end=m["held_on"],
               message=f"{m['held_on']:%Y-%m-%d}“{m['topic']}”未在固定的主题党日召开，且未登记改期批准")
        for m in rows
        if m["held_on"] != fixed_theme_day(None, m["held_on"])
    ]  # fmt: skip


def _org_life_flags(branch_ids, since, as_of):
    """组织生活会 without its before / after records: 征求意见, 对照检查材料, 整改清单, 报告上级."""
    rows = (
        Meeting.objects.filter(branch_id__in=_in(branch_ids), voided_at__isnull=True, held_on__gte=since,
                               held_on__lte=as_of, types__type=MeetingType.ORG_LIFE_MEETING)
        .annotate(items=Count("rectifications"))
        .values("pk", "branch_id", "held_on", "opinions", "self_examination", "reported_on", "items")
    )  # fmt: skip
    wanted = []
    for m in rows:
        missing = [label for label, present in (("会前征求意见", m["opinions"]), ("对照检查材料", m["self_examination"]),
                                                ("整改清单", m["items"]), ("报告上级党委", m["reported_on"])) if not present]  # fmt: skip
        if missing:
            wanted.append(Wanted(key=f"org_life_records:m{m['pk']}", rule="org_life_records", state=FlagState.WARNING,
                                 branch_id=m["branch_id"], meeting_id=m["pk"], period_end=m["held_on"],
                                 message=f"{m['held_on']:%Y-%m-%d}组织生活会缺少：{'、'.join(missing)}"))  # fmt: skip
    return wanted


def _term_flags(branches, terms, as_of):
    wanted = []
    for branch in branches:
        term = terms.get(branch.pk)
        if term is None or branch.dissolved_on:
            continue
        if term.ends_on < as_of:
            state, message = (
                FlagState.OVERDUE,
                f"{branch.name}委员会已于{term.ends_on:%Y-%m-%d}届满，应按期换届",
            )
        elif term.ends_on <= as_of + timedelta(days=TERM_WARNING_DAYS):
            state, message = (
                FlagState.DUE_SOON,
                f"{branch.name}委员会将于{term.ends_on:%Y-%m-%d}届满，请做好换届准备",
            )
        else:
            continue
        wanted.append(Wanted(key=f"committee_term:t{term.pk}:{state}", rule="committee_term", state=state,
                             branch_id=branch.pk, period_end=term.ends_on, message=message))  # fmt: skip
    return wanted


def _member_flags(branch_ids, as_of):
    """Dues arrears and the absence ladder for 正式 and 预备 members on the roster."""
    members = {
        m["pk"]: m
        for m in Member.objects.filter(branch_id__in=_in(branch_ids), on_roster=True, category__in=PARTY_MEMBER_CATEGORIES)
        .values("pk", "name", "branch_id", "joined_on")
    }  # fmt: skip
    last_month = dues.month_start(as_of.replace(day=1) - timedelta(days=1))
    window = dues.month_start(date(last_month.year - 1, last_month.month, 1))
    # The unpaid run ends at last month and goes back to the latest month paid: one row per member.
    last_paid = dict(
        DuesPayment.objects.filter(member__branch_id__in=_in(branch_ids), voided_at__isnull=True,
                                   month__gte=window, month__lte=last_month)
        .values("member_id").annotate(last=Max("month")).values_list("member_id", "last")
    )  # fmt: skip
    wanted = []
    for member in members.values():
        start = max(window, dues.month_start(member["joined_on"])) if member["joined_on"] else window
        if start > last_month:
            continue
        paid = last_paid.get(member["pk"])
        first_unpaid = start if paid is None or paid < start else dues.next_month(paid)
        step = dues_step(dues.month_count(first_unpaid, last_month))
        if step:
            wanted.append(Wanted(key=f"dues_arrears:p{member['pk']}:{step.code}", rule="dues_arrears",
                                 state=FlagState.OVERDUE, branch_id=member["branch_id"], member_id=member["pk"],
                                 message=f"{member['name']}：{step.label}"))  # fmt: skip
    wanted += _ladder_flags(members, branch_ids, window, as_of)
    return wanted


def _ladder_months(branch_ids, window, as_of):
    """{member_id: (present, absent)}: bitmaps of the months since `window` (bit 0) in which the member
    has a 在场 (present) or a 缺席 (absent) row at a 党员大会, 党小组会, 党课 or 主题党日.

    One row per member: each month is a power of two, OR-ed together (a meeting joined twice through
    two of its types counts once)."""
    month = Cast(ExtractYear("meeting__held_on"), IntegerField()) * 12 + Cast(
        ExtractMonth("meeting__held_on"), IntegerField()
    )
    bit = Value(1).bitleftshift(month - (window.year * 12 + window.month))
    rows = (
        Attendance.objects.filter(
            meeting__branch_id__in=_in(branch_ids), meeting__voided_at__isnull=True, meeting__held_on__gte=window,
            meeting__held_on__lte=as_of, meeting__types__type__in=LADDER_TYPES, status__in=("present", "absent"),
        )
        .values("member_id")
        .annotate(
            present=_bits_or(Case(When(status="present", then=bit), default=0)),
            absent=_bits_or(Case(When(status="absent", then=bit), default=0)),
        )
        .values_list("member_id", "present", "absent")
    )  # fmt: skip
    return {member_id: (present, absent) for member_id, present, absent in rows}


def _bits_or(expression):
    """The OR of month bits: bit_or on PostgreSQL (aggregated in parallel, no sort), else the sum of
    the distinct bits, which is the same number."""
    if connection.vendor == "postgresql":
        return BitOr(expression)
    return Sum(expression, distinct=True)


def ladder_run(present, absent):
    """absence_run over month bitmaps: months with an unexcused absence and no attendance, after the
    last month attended (months with only leave, 外出 or no meeting neither add nor reset)."""
    return ((absent & ~present) >> present.bit_length()).bit_count()


def _ladder_flags(members, branch_ids, window, as_of):
    wanted = []
    for member_id, (present, absent) in _ladder_months(branch_ids, window, as_of).items():
        member = members.get(member_id)
        if member is None:
            continue
        step = ladder_step(ladder_run(present, absent))
        if step:
            wanted.append(Wanted(key=f"absence_ladder:p{member_id}:{step.code}", rule="absence_ladder",
                                 state=FlagState.OVERDUE, branch_id=member["branch_id"], member_id=member_id,
                                 message=f"{member['name']}：{step.label}"))  # fmt: skip
    return wanted


MOBILE_CERTIFICATE_DAYS = 90  # 外出 3 months: a 证明信 or 流动党员活动证
MOBILE_TRANSFER_DAYS = 183  # 外出 6 months: transfer the 组织关系, or keep in regular contact
PROBATION_NOTICE_DAYS = 30
PIPELINE_RULE = "pipeline"
REPORT_PERIODS = {"activist": PeriodKind.QUARTER, "candidate": PeriodKind.QUARTER,
                  "probationary": PeriodKind.HALF_YEAR, "full": PeriodKind.HALF_YEAR}  # fmt: skip
CATEGORY_SINCE = {"activist": "activist_on", "candidate": "candidate_on", "probationary": "joined_on",
                  "full": "joined_on"}  # fmt: skip


def _roster_flags(branch_ids, as_of):
    """Thought reports, 外出, development deadlines and political birthdays, for people on the roster."""
    people = list(
        Member.objects.filter(branch_id__in=_in(branch_ids), on_roster=True, status="normal").values(
            "pk", "name", "branch_id", "category", "applied_on", "activist_on", "candidate_on", "joined_on",
            "confirmed_on",
        )
    )  # fmt: skip
    # The same people as a join (no list of ids in the SQL).
    on_roster = {
        "member__branch_id__in": _in(branch_ids),
        "member__on_roster": True,
        "member__status": "normal",
    }
    reports = defaultdict(list)
    for member_id, received_on in ThoughtReport.objects.filter(
        **on_roster, voided_at__isnull=True, received_on__gte=date(as_of.year - 1, 1, 1)
    ).values_list("member_id", "received_on"):
        reports[member_id].append(received_on)
    events = defaultdict(dict)
    for member_id, kind, happened_on in PipelineEvent.objects.filter(**on_roster).values_list(
        "member_id", "kind", "happened_on"
    ):
        events[member_id].setdefault(kind, happened_on)
    wanted = []
    for person in people:
        wanted += _report_flag(person, reports[person["pk"]], as_of)
        wanted += _pipeline_flags(person, events[person["pk"]], as_of)
        wanted += _birthday_flag(person, as_of)
    wanted += _mobile_flags(on_roster, as_of)
    wanted += _lost_contact_flags(branch_ids, as_of)
    return wanted


LOST_CONTACT_DAYS = 183  # 失联满6个月: 停止党籍 (教育管理条例 第二十四条)
SUSPENDED_YEARS = 2  # 停止党籍满2年仍无下落: 除名


def _lost_contact_flags(branch_ids, as_of):
    """失联党员: six months out of contact → the 停止党籍 procedure; two years after 停止党籍 → 除名.
    Both are decisions for the branch and the 党委; the flag only says the time has come."""
    people = list(
        Member.objects.filter(branch_id__in=_in(branch_ids), on_roster=True, lost_contact_on__lte=as_of)
        .values("pk", "name", "branch_id", "status", "lost_contact_on")
    )  # fmt: skip
    suspended_on = dict(
        StatusChange.objects.filter(member_id__in=[p["pk"] for p in people], status=Status.SUSPENDED)
        .values("member_id").annotate(on=Max("changed_on")).values_list("member_id", "on")
    )  # fmt: skip
    wanted = []
    for person in people:
        lost = person["lost_contact_on"]
        since = suspended_on.get(person["pk"])
        if person["status"] == Status.NORMAL and (as_of - lost).days >= LOST_CONTACT_DAYS:
            wanted.append(_member_wanted(person, "lost_contact", "suspend", FlagState.OVERDUE,
                                         f"自{lost:%Y-%m-%d}起失去联系已满6个月：应按规定停止其党籍"))  # fmt: skip
        elif (
            person["status"] == Status.SUSPENDED
            and since
            and as_of >= since + relativedelta(years=SUSPENDED_YEARS)
        ):
            wanted.append(_member_wanted(person, "lost_contact", "remove", FlagState.OVERDUE,
                                         f"{since:%Y-%m-%d}停止党籍已满2年仍无下落：应予除名"))  # fmt: skip
    return wanted


def _member_wanted(person, rule, code, state, message, **extra):
    return Wanted(key=f"{rule}:p{person['pk']}:{code}:{state}", rule=rule, state=state,
                  branch_id=person["branch_id"], member_id=person["pk"], message=f"{person['name']}：{message}",
                  **extra)  # fmt: skip


def _report_flag(person, received, as_of):
    kind = REPORT_PERIODS.get(person["category"])
    since = person.get(CATEGORY_SINCE.get(person["category"], ""), None)
    if kind is None or since is None:
        return []
    previous = period_containing(kind, as_of).previous()
    if since > previous.start or any(previous.contains(day) for day in received):
        return []
    return [_member_wanted(person, "thought_report", previous.start, FlagState.OVERDUE,
                           f"{previous.label}未交思想汇报", period_start=previous.start, period_end=previous.end)]  # fmt: skip


def _pipeline_flags(person, events, as_of):
    wanted = []
    for deadline in pipeline.deadlines(
        category=person["category"], applied_on=person["applied_on"], talked_on=events.get("talk"),
        activist_on=person["activist_on"], joined_on=person["joined_on"], approved_on=events.get("approval"),
        confirmed_on=person["confirmed_on"],
    ):  # fmt: skip
        if deadline.is_met or deadline.code == "activist_year":
            continue
        notice = PROBATION_NOTICE_DAYS if deadline.code == "probation_end" else 7
        if as_of > deadline.due_on:
            state = FlagState.OVERDUE
        elif (deadline.due_on - as_of).days < notice:
            state = FlagState.DUE_SOON
        else:
            continue
        wanted.append(_member_wanted(person, PIPELINE_RULE, deadline.code, state,
                                     f"{deadline.label}（期限 {deadline.due_on:%Y-%m-%d}）", period_end=deadline.due_on))  # fmt: skip
    return wanted


def _birthday_flag(person, as_of):
    joined = person["joined_on"]
    if (
        person["category"] != "full"
        or joined is None
        or joined.month != as_of.month
        or joined.year >= as_of.year
    ):
        return []
    return [_member_wanted(person, "political_birthday", as_of.year, FlagState.WARNING,
                           f"本月{joined.day}日是入党{as_of.year - joined.year}周年政治生日")]  # fmt: skip


def _mobile_flags(on_roster, as_of):
    wanted = []
    away = (
        Mobility.objects.filter(**on_roster, voided_at__isnull=True, started_on__lte=as_of)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=as_of))
        .values("pk", "member_id", "member__name", "member__branch_id", "started_on", "certificate_issued_on", "destination")
    )  # fmt: skip
    for row in away:
        person = {"pk": row["member_id"], "name": row["member__name"], "branch_id": row["member__branch_id"]}
        days = (as_of - row["started_on"]).days
        if days >= MOBILE_TRANSFER_DAYS:
            message = f"外出{row['destination']}已满6个月：应转移组织关系，或与其保持经常联系"
            wanted.append(
                _member_wanted(person, "mobile_member", f"m{row['pk']}-6", FlagState.OVERDUE, message)
            )
        elif days >= MOBILE_CERTIFICATE_DAYS and row["certificate_issued_on"] is None:
            message = f"外出{row['destination']}已满3个月，尚未开具证明信或《流动党员活动证》"
            wanted.append(
                _member_wanted(person, "mobile_member", f"m{row['pk']}-3", FlagState.OVERDUE, message)
            )
    return wanted


def training_years(as_of, since):
    """The years judged for 集中学习培训: each ended year from `since` on, and the current one in December."""
    return [year for year in range(since.year, as_of.year + 1) if year < as_of.year or as_of.month == 12]


def _training_flags(branches, branch_ids, settings, *, as_of, since):
    """集中学习培训: a year that ended short of its 学时 is overdue; the current year is due soon in
    December while still short. The choices (who, how many hours, pro rata) are in compliance.training."""
    wanted = []
    paths = {b.pk: b.path for b in branches}
    for s in training.standings(branches=paths, years=training_years(as_of, since), as_of=as_of,
                                settings=settings, branch_filter=_in(branch_ids)):  # fmt: skip
        state = ATTENTION.get(s.state)
        if state is None:
            continue
        done = hours_text(s.done)
        # The hours are part of the key: a record that narrows the gap resolves the flag and raises one
        # that says how far short the member still is.
        person = {"pk": s.member_id, "name": s.name, "branch_id": s.branch_id}
        wanted.append(_member_wanted(person, training.RULE, f"{s.year}:{done}", state, _training_message(s, state),
                                     period_start=date(s.year, 1, 1), period_end=date(s.year, 12, 31)))  # fmt: skip
    return wanted


def _training_message(standing, state):
    done, required = hours_text(standing.done), standing.due.hours
    prorated = f"按{standing.due.months}个月折算" if standing.due.months < 12 else ""
    if state == FlagState.OVERDUE:
        return f"{standing.year}年度学习培训{done}学时，不足{required}学时" + (
            f"（{prorated}）" if prorated else ""
        )
    return (f"{standing.year}年度学习培训已{done}学时，年底前还差{hours_text(standing.short)}学时"
            f"（应{required}学时" + (f"，{prorated}" if prorated else "") + "）")  # fmt: skip


# ---------------------------------------------------------------- writing the difference


@transaction.atomic
def refresh(*, as_of, branch_ids=None, since=None, time_only=False):
    """Bring the open flags of the scope in line with the data as of a date. Returns what changed.

    time_only: the nightly run, which only takes in a day passing. It judges from `nightly_since` and
    leaves the record-quality warnings as the writes left them."""
    since = since or (nightly_since(as_of) if time_only else default_since(as_of))
    if branch_ids is None:
        _no_jit()
    branches = _branches(branch_ids, since)
    ids = branch_scope(branches, branch_ids, since)
    groups = _groups(branches, since)
    terms = _current_terms(ids, as_of)
    settings = settings_in_force(as_of)
    held = held_records(ids, terms, since, as_of)
    wanted = _meeting_flags(branches, groups, terms, settings, held, as_of=as_of, since=since)
    if not time_only:
        wanted += _record_flags(ids, since, as_of)
    wanted += _term_flags(branches, terms, as_of)
    wanted += _review_flags(ids, as_of)
    wanted += _member_flags(ids, as_of)
    wanted += _roster_flags(ids, as_of)
    wanted += _training_flags(branches, ids, settings, as_of=as_of, since=since)
    unjudged = RECORD_RULES if time_only else frozenset()
    return _write({w.key: w for w in wanted}, ids, as_of=as_of, since=since, unjudged=unjudged)


def _no_jit():  # for a refresh of everything (one branch reads too little for it to matter)
    """For this transaction only: PostgreSQL's JIT compiles each big statement anew (0.1-0.3 s apiece),
    more than it saves here; and the aggregates over a county's meetings sort on disk in the default
    4 MB of work memory."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")


def _write(wanted, branch_ids, *, as_of, since, unjudged=frozenset()):
    """unjudged: rules this refresh did not judge, whose open flags stand whatever `wanted` holds."""
    open_flags = {
        key: (pk, end, rule)
        for key, pk, end, rule in Flag.objects.filter(
            branch_id__in=_in(branch_ids), resolved_on__isnull=True
        ).values_list("key", "pk", "period_end", "rule")
    }
    # Flags for closed periods outside the window stand as they are.
    stale = [
        pk
        for k, (pk, end, rule) in open_flags.items()
        if (end is None or end >= since) and rule not in unjudged and k not in wanted
    ]
    new = [w for k, w in wanted.items() if k not in open_flags]
    if stale:
        Flag.objects.filter(pk__in=stale).update(
            resolved_on=as_of, resolved_by="情况已改变（已完成、已转为逾期或不再适用）"
        )
    if new:
        # Two refreshes of one branch may race (a write and the nightly run): the open-key constraint
        # keeps one flag, and the later insert is dropped rather than failing the refresh.
        _insert(new, as_of)
    if stale or new:
        # The counts shown on every page are cached under this token. Renewed last, so that concurrent
        # refreshes wait on its row for as short a time as possible before this one commits.
        stamps.renew([stamps.FLAGS])
    return {"raised": len(new), "resolved": len(stale), "open": len(wanted)}


FLAG_COLUMNS = ("key", "rule", "state", "branch_id", "group_id", "member_id", "meeting_id", "period_start",
                "period_end", "message")  # fmt: skip
INSERT_FLAGS = """
    INSERT INTO compliance_flag (key, rule, state, branch_id, group_id, member_id, meeting_id, period_start,
                                 period_end, message, raised_on, resolved_on, resolved_by)
    SELECT *, %s::date, NULL::date, '' FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[],
                                                   %s::bigint[], %s::bigint[], %s::date[], %s::date[], %s::text[])
    ON CONFLICT DO NOTHING
"""
INSERT_BATCH = 20_000


def _insert(new, raised_on):
    """Insert new flags, dropping any whose key another refresh opened meanwhile.

    On PostgreSQL one INSERT … SELECT FROM unnest(column arrays) per 20,000 flags, straight from the
    Wanted values: a full rebuild raises 200,000 flags, and building a model instance for each costs
    more than the insert itself."""
    if connection.vendor != "postgresql":
        Flag.objects.bulk_create(
            [Flag(raised_on=raised_on, **w.__dict__) for w in new], batch_size=1000, ignore_conflicts=True
        )
        return
    with connection.cursor() as cursor:
        for start in range(0, len(new), INSERT_BATCH):
            batch = new[start : start + INSERT_BATCH]
            cursor.execute(
                INSERT_FLAGS, [raised_on] + [[getattr(w, name) for w in batch] for name in FLAG_COLUMNS]
            )
