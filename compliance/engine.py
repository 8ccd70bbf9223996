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

import csv
import gc
import io
import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from operator import attrgetter
from types import MappingProxyType

from dateutil.relativedelta import relativedelta
from django.contrib.postgres.aggregates import ArrayAgg, BitOr
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import (
    Cast,
    Coalesce,
    ExtractMonth,
    ExtractYear,
    Greatest,
    Least,
    Left,
    Length,
)

from branches.models import CommitteeTerm, Organisation, OrgLevel, Position
from evaluations.selectors import closed_reviews, followup_reads, followups_from
from meetings.models import Attendance, Meeting, MeetingType, Talk
from members import dues, pipeline
from members.models import (
    PARTY_MEMBER_CATEGORIES,
    DuesPayment,
    Exemption,
    Member,
    Membership,
    Mobility,
    PipelineEvent,
    PipelineEventKind,
    Status,
    StatusChange,
    ThoughtReport,
)

from . import stamps, training
from .batch import fold, read_together
from .local import value_timeline
from .models import FLAG_RULES, Flag, FlagState, RuleSetting
from .periods import DUE_SOON_DAYS, PeriodKind, State, first_full_period, period_containing
from .rules import (
    CATALOGUE,
    DEFAULT_THEME_DAY,
    DUES_STEPS,
    MEETING_RULES,
    ORG_LIFE_RECORDS,
    THEME_DAY_SETTING,
    UNIT_RULES,
    Frequency,
    Unit,
    dues_step,
    evaluate,
    evaluate_coverage,
    hours_text,
    ladder_step,
    lecturer_is,
    missing_org_life_records,
    switched_off,
    talk_coverage,
    theme_day_in,
    value_in_force,
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


# Not frozen: a county's rebuild makes some 300,000, and a frozen dataclass is three times as slow to make.
@dataclass
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
# Member rules that records change, not days. The absence ladder counts consecutive months in which
# organisational life was held and the member was absent: a day passing adds no month and resets none.
# The nightly run leaves these flags as the writes left them (but resolves those of members who left the
# ladder, as it does their other flags); the weekly run judges them again, which
# also takes in the ladder's year-long window moving on a month (only a run of absences that began more
# than a year before, with no meeting since, can fall out of it).
RECORDS_ONLY_MEMBER_RULES = frozenset({"absence_ladder"})


# ---------------------------------------------------------------- reading the scope


ORG_FIELDS = ("pk", "path", "name", "founded_on", "dissolved_on", "merged_group")


@dataclass(frozen=True)
class Org:
    """A branch or group as the rules see it. branch_id: the branch itself, or a group's branch."""

    pk: int
    path: str
    name: str
    founded_on: date
    dissolved_on: date | None
    merged_group: bool
    branch_id: int


@dataclass(frozen=True)
class Scope:
    """The branches a refresh or a grid reads: every read filters by `filter`.

    `few`: a write's scope, whose reads go to the server as one statement; they filter by the list of
    ids, and a branch among them that is not live in the window (dissolved before it) is taken out by
    `live_scope` once the branches are read. Any other scope filters by a subquery selecting the live
    branches: rather than a list of 1,700 ids, it lets PostgreSQL scan and hash instead of probing an
    index once per id."""

    branch_ids: tuple | None
    since: date

    @property
    def branches(self):
        qs = _branches_query(self.since)
        return qs if self.branch_ids is None else qs.filter(pk__in=self.branch_ids)

    @property
    def filter(self):
        return list(self.branch_ids) if self.few else self.branches.values("pk")

    @property
    def few(self):
        return self.branch_ids is not None and len(self.branch_ids) <= FEW_BRANCHES


def scope_of(branch_ids, since):
    return Scope(None if branch_ids is None else tuple(branch_ids), since)


def _branches_query(since):
    return Organisation.objects.filter(level=OrgLevel.BRANCH).filter(
        Q(dissolved_on__isnull=True) | Q(dissolved_on__gt=since)
    )


FEW_BRANCHES = 20


def _groups_query(scope):
    """The live groups whose parent is a branch of the scope (a group's path is its parent's plus a step)."""
    parent = Left("path", Length("path") - Organisation.steplen)
    return (
        Organisation.objects.filter(level=OrgLevel.GROUP)
        .filter(Q(dissolved_on__isnull=True) | Q(dissolved_on__gt=scope.since))
        .annotate(parent_path=parent)
        .filter(parent_path__in=scope.branches.values("path"))
        .values(*ORG_FIELDS, "parent_path")
    )


def _units_from(branch_rows, group_rows):
    branches = [Org(**row, branch_id=row["pk"]) for row in branch_rows]
    by_path = {b.path: b for b in branches}
    groups = [
        Org(**{k: v for k, v in row.items() if k != "parent_path"}, branch_id=by_path[row["parent_path"]].pk)
        for row in group_rows
    ]
    return sorted(branches, key=lambda b: b.path), sorted(groups, key=lambda g: g.path)


@dataclass(frozen=True)
class Term:
    """A branch's current committee term as plain values: pk, ends_on, and its posts."""

    pk: int
    ends_on: date
    posts: tuple  # (position, holder_name, ended_on) of every post of the term


@dataclass(frozen=True)
class Committees:
    """What the scope's committee terms say: each branch's current term, every secretary it has had,
    and every post ever held (the 学时 of the committee are judged on a year's last day)."""

    terms: dict  # {branch_id: Term}
    secretaries: dict  # {branch_id: [(name, started_on, ended_on)]}
    posts: list  # [(branch_id, name, started_on, ended_on)]


def _terms_query(scope):
    return CommitteeTerm.objects.filter(organisation_id__in=scope.filter).values_list(
        "organisation_id", "pk", "elected_on", "ends_on", "positions__position", "positions__holder_name",
        "positions__started_on", "positions__ended_on",
    )  # fmt: skip


def _committees_from(rows, as_of):
    """The current term is the latest elected on or before as_of (the first created among equals)."""
    latest, posts, secretaries, held = {}, defaultdict(list), defaultdict(list), []
    for branch_id, pk, elected_on, ends_on, position, holder, started_on, ended_on in rows:
        if elected_on <= as_of:
            rank = (elected_on, -pk)
            if branch_id not in latest or rank > latest[branch_id][0]:
                latest[branch_id] = (rank, pk, ends_on)
        if position is None:
            continue
        posts[pk].append((position, holder, ended_on))
        held.append((branch_id, holder, started_on, ended_on))
        if position == Position.SECRETARY:
            secretaries[branch_id].append((holder, started_on, ended_on))
    terms = {
        branch_id: Term(pk, ends_on, tuple(posts[pk])) for branch_id, (_rank, pk, ends_on) in latest.items()
    }
    return Committees(terms, secretaries, held)


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


SETTING_FIELDS = ("pk", "rule", "enabled", "count", "period_kind", "effective_from", "organisation_id")


def _settings_query(as_of):
    return RuleSetting.objects.filter(effective_from__lte=as_of, voided_at__isnull=True).values(
        *SETTING_FIELDS, "organisation__path"
    )


def _settings_from(rows):
    return [
        RuleSetting(**{k: row[k] for k in SETTING_FIELDS},
                    organisation=Organisation(pk=row["organisation_id"], path=row["organisation__path"]))
        for row in rows
    ]  # fmt: skip


def settings_in_force(as_of):
    """Every local setting effective by as_of (few: a township changes a handful of rules)."""
    return _settings_from(_settings_query(as_of))


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


ROSTER_FIELDS = ("pk", "name", "branch_id", "category", "status", "joined_on", "lost_contact_on",
                 "records_from")  # fmt: skip
# The dates the development deadlines count from: read for the few people whose deadlines are counted
# (`DEADLINE_CATEGORIES`), not for the whole roster of a county.
PIPELINE_FIELDS = ("pk", "applied_on", "activist_on", "confirmed_on")


def _unit_reads(scope, *, since, as_of):
    """The querysets the unit rules need, by name: read together for a write's scope."""
    live = {"branch_id__in": scope.filter, "voided_at__isnull": True}
    meetings = Meeting.objects.filter(**live, held_on__gte=since, held_on__lte=as_of)
    return {
        "branches": scope.branches.values(*ORG_FIELDS),
        "groups": _groups_query(scope),
        "terms": _terms_query(scope),
        "settings": _settings_query(as_of),
        "by_month": _by_month_query(scope, months_from=since, as_of=as_of),
        "lectures": meetings.filter(types__type=MeetingType.PARTY_LECTURE)
        .exclude(lecturer="")
        .values_list("branch_id", "held_on", "lecturer"),
        "org_life": Meeting.objects.filter(**live, types__type=MeetingType.ORG_LIFE_MEETING,
                                           for_year__gte=since.year, held_on__lte=as_of)
        .values("branch_id", "for_year")
        .annotate(n=Count("id", distinct=True)),
        "roster": Member.objects.filter(branch_id__in=scope.filter, on_roster=True)
        .order_by()
        .values(*ROSTER_FIELDS),
        "talks": Talk.objects.filter(**live, talked_on__gte=date(since.year, 1, 1), talked_on__lte=as_of)
        .values_list("branch_id", "talked_on", "initiator_id", "counterpart_id"),
        "reviews": closed_reviews(scope.filter),
    }  # fmt: skip


def _by_month_query(scope, *, months_from, as_of):
    """The non-void meetings held from months_from on, by (branch_id, group_id, type, month): rows of
    (branch_id, group_id, type, month number, n), or on PostgreSQL (branch_id, group_id, type, [the
    month number of each meeting]). A county holds about one meeting per unit, type and month, so a
    row per month shrinks nothing (470,000 of them for 540,000 meetings); the arrays come in 11,000
    rows, from an aggregate that takes half the time. `_counted_by_month` reads either shape."""
    counted = _counted_meetings(Q(branch_id__in=scope.filter), months_from=months_from, as_of=as_of)
    if scope.branch_ids is None:  # the county's read has every meeting
        return counted
    # A 党小组 moved here from another branch left its past meetings on that branch's books; they still
    # count for the group, whichever branch is refreshed. A second arm, not an OR in one filter: each arm
    # finds its few meetings through its own index, where an OR scans the county's meetings (a write's
    # refresh at M: 20 ms → 600 ms). The arms are disjoint (the second is held elsewhere).
    moved_in = Q(group_id__in=_groups_query(scope).values("pk")) & ~Q(branch_id__in=scope.filter)
    return counted.union(_counted_meetings(moved_in, months_from=months_from, as_of=as_of), all=True)


def _counted_meetings(where, *, months_from, as_of):
    # Unordered: SQLite refuses an ORDER BY (the model's default) in an arm of a union.
    meetings = Meeting.objects.filter(
        where, voided_at__isnull=True, held_on__gte=months_from, held_on__lte=as_of
    ).order_by()
    unit = ("branch_id", "group_id", "types__type")
    meetings = meetings.annotate(month=_month_number("held_on"))
    if connection.vendor == "postgresql":
        return meetings.values(*unit).annotate(months=ArrayAgg("month")).values_list(*unit, "months")
    return meetings.values(*unit, "month").annotate(n=Count("id")).values_list(*unit, "month", "n")


def _month_number(field):
    """year × 12 + month of a date column, computed on the server: a whole number per row is cheaper
    to group and to send than a date."""
    return Cast(ExtractYear(field), IntegerField()) * 12 + Cast(ExtractMonth(field), IntegerField())


@lru_cache(maxsize=2048)
def _month_start(number):
    """The first day of the month `_month_number` numbers."""
    return date((number - 1) // 12, (number - 1) % 12 + 1, 1)


def _counted_by_month(rows):
    """{(branch_id, group_id, type, month start): n} from `_by_month_query`'s rows, of either shape."""
    by_month = defaultdict(int)
    for branch_id, group_id, type_, *months in rows:
        if len(months) == 2:  # (month number, n)
            by_month[(branch_id, group_id, type_, _month_start(months[0]))] += months[1]
            continue
        for number in months[0]:
            by_month[(branch_id, group_id, type_, _month_start(number))] += 1
    return by_month


# The rules judged on `by_month` (组织生活会 counts by its 所属年度, 书记讲党课 on the lectures read).
COUNTED_BY_MONTH = tuple(code for code in MEETING_RULES if code != "org_life_meeting")


def months_counted_from(judged_from, settings, *, as_of=None):
    """The first month whose meetings can change a verdict on a unit rule's period ending on or after
    judged_from: the start of the longest period, among the rules' own and those the local settings
    choose, that contains it. as_of: only the rules a refresh as of that day judges (`attention_due`;
    on 7 December, the monthly ones alone); None when it judges none of them."""
    codes = [code for code in COUNTED_BY_MONTH
             if as_of is None or attention_due(code, judged_from=judged_from, as_of=as_of, settings=settings)]  # fmt: skip
    kinds = {CATALOGUE[code].frequency.period for code in codes}
    kinds |= {PeriodKind(s.period_kind) for s in settings if s.rule in codes and s.period_kind}
    return min((period_containing(kind, judged_from).start for kind in kinds), default=None)


# Reads that count towards one rule only: yearly by default, so most nights judge none of its periods.
READS_FOR_ONE_RULE = {"lectures": SECRETARY_LECTURE, "org_life": "org_life_meeting", "talks": "talk_coverage"}


def attention_due(rule, *, judged_from, as_of, settings):
    """Whether a period of the rule that ends on or after judged_from is over or due soon as of as_of,
    under the rule's own period or one a local setting chooses. If none is, a refresh evaluates none
    of its periods (`obligations(attention_only=True)`) and need not read what counts towards it."""
    ends_before = as_of + timedelta(days=DUE_SOON_DAYS)
    kinds = {CATALOGUE[rule].frequency.period}
    kinds |= {PeriodKind(s.period_kind) for s in settings if s.rule == rule and s.period_kind}
    return any(period_containing(kind, judged_from).end < ends_before for kind in kinds)


@dataclass
class Units:
    """The scope as the unit rules see it, read from `_unit_reads`."""

    branches: list
    groups: list
    committees: Committees
    settings: list
    held: Held
    roster: list  # every member on the roster, as ROSTER_FIELDS dicts

    @property
    def terms(self):
        return self.committees.terms


def _units_read(rows, *, since, as_of):
    branches, groups = _units_from(rows["branches"], rows["groups"])
    committees = _committees_from(rows["terms"], as_of)
    by_month = _counted_by_month(rows.get("by_month") or ())
    # A read left out (None) counts towards no period judged (see READS_FOR_ONE_RULE).
    for (branch_id, month), n in _secretary_lectures(
        rows.get("lectures") or (), committees.secretaries
    ).items():
        by_month[(branch_id, None, SECRETARY_LECTURE, month)] += n
    org_life = defaultdict(int)
    for row in rows.get("org_life") or ():
        org_life[(row["branch_id"], row["for_year"])] += row["n"]
    coverage = {}
    if rows.get("talks") is not None:
        coverage = _talk_coverage([b.pk for b in branches], rows["roster"], rows["talks"], committees.terms, since,
                                  as_of)  # fmt: skip
    held = Held(by_month, org_life, coverage, set(rows["reviews"]))
    return Units(branches, groups, committees, _settings_from(rows["settings"]), held, rows["roster"])


def read_units(branch_ids, *, since, as_of):
    """The unit rules' view of the branches (None: every branch), in a fixed number of queries."""
    scope = scope_of(branch_ids, since)
    if branch_ids is not None and not branch_ids:
        return Units([], [], Committees({}, {}, []), [], Held({}, {}, {}, set()), [])
    reads = _unit_reads(scope, since=since, as_of=as_of)
    # One query per read whatever the number of branches, so that a page's count does not depend on it.
    rows = dict(zip(reads, read_together(reads.values(), together=False), strict=True))
    live = live_scope(scope, rows)
    if live is not scope:
        return read_units(live.branch_ids, since=since, as_of=as_of)
    return _units_read(rows, since=since, as_of=as_of)


def live_scope(scope, rows):
    """The scope without the listed branches that the branches read left out (dissolved before the
    window, or not branches): a rare second read, so that the common one stays a single statement."""
    if not scope.few or len(rows["branches"]) == len(set(scope.branch_ids)):
        return scope
    return scope_of(sorted(row["pk"] for row in rows["branches"]), scope.since)


def _secretary_lectures(lectures, secretaries):
    """{(branch_id, month start): n} of 党课 whose 主讲人 was the branch's sitting secretary that day."""
    counts = defaultdict(int)
    for branch_id, held_on, lecturer in lectures:
        if given_by_secretary(lecturer, held_on, secretaries.get(branch_id, ())):
            counts[(branch_id, held_on.replace(day=1))] += 1
    return counts


def secretaries_of(branch_ids):
    """{branch_id: [(name, started_on, ended_on)]} of every secretary the branches have had (one query)."""
    return _committees_from(_terms_query(scope_of(branch_ids, date.min)), date.max).secretaries


def given_by_secretary(lecturer, held_on, secretaries):
    """Whether the 主讲人 names the secretary in office on the day."""
    return any(
        lecturer_is(lecturer, name) and started_on <= held_on and (ended_on is None or held_on < ended_on)
        for name, started_on, ended_on in secretaries
    )


def _talk_coverage(branch_ids, roster_rows, talk_rows, terms, since, as_of):
    """谈心谈话 coverage per branch and year, judged against the current roster and committee
    (`talk_parties`): a past year is judged by who is on the roster now, less those whose records here
    began after it (`talk_people`)."""
    years = range(since.year, as_of.year + 1)
    roster = {year: talk_people(roster_rows, year=year) for year in years}
    talks = defaultdict(list)
    for branch_id, talked_on, a, b in talk_rows:
        talks[(branch_id, talked_on.year)].append((a, b))
    coverage = {}
    for branch_id in branch_ids:
        for year in years:
            committee, members = talk_parties(roster[year][branch_id], terms.get(branch_id))
            coverage[(branch_id, year)] = talk_coverage(committee, members, talks[(branch_id, year)])
    return coverage


def talk_people(roster_rows, *, year=None):
    """{branch_id: [(pk, name)]} of those a year's 谈心谈话 must reach (正式 and 预备党员 in good standing),
    in the order of roster_rows (ROSTER_FIELDS dicts). Not, for a year, a member whose records here began
    after it (Member.records_from: imported, or registered by hand, later): they were on no roster here
    then (members.services.membership_start), and a year already closed stays as it was."""
    last = date(year, 12, 31) if year is not None else date.max
    people = defaultdict(list)
    for m in roster_rows:
        if (
            m["status"] == Status.NORMAL
            and m["category"] in PARTY_MEMBER_CATEGORIES
            and (m["records_from"] is None or m["records_from"] <= last)
        ):
            people[m["branch_id"]].append((m["pk"], m["name"]))
    return people


def talk_parties(people, term):
    """(committee, members): the ids `talk_coverage` judges a branch by. Committee members are the sitting
    office-holders of its current term, matched to `people` by name (the term records names). Members
    who left are no longer required."""
    names = {name for _position, name, ended_on in term.posts if ended_on is None} if term else set()
    members = {pk for pk, _name in people}
    committee = {pk for pk, name in people if name in names}
    return committee, members


@dataclass(frozen=True)
class TalkParties:
    people: list  # [(pk, name)] by 姓名拼音
    committee: set
    members: set
    has_term: bool  # a committee term is recorded (without one nobody counts as committee)


def talk_parties_of(branch_id, *, as_of, year=None):
    """One branch's `talk_parties` for the year (as_of's if None) read as a refresh as of as_of reads them
    (two queries), for a page that names who is still missing."""
    rows = (
        Member.objects.filter(branch_id=branch_id, on_roster=True)
        .order_by("name_initials", "pk")
        .values(*ROSTER_FIELDS)
    )
    term = _committees_from(_terms_query(scope_of([branch_id], date.min)), as_of).terms.get(branch_id)
    people = talk_people(rows, year=year or as_of.year)[branch_id]
    return TalkParties(people, *talk_parties(people, term), has_term=term is not None)


# ---------------------------------------------------------------- what should be flagged


def _bucket(counts, kind):
    if kind == PeriodKind.MONTH:
        return counts  # already by month start
    buckets = defaultdict(int)
    for month, n in counts.items():
        buckets[period_containing(kind, month).start] += n
    return buckets


NOTHING_HELD = MappingProxyType({})


def obligations(units, *, as_of, since, judged_from=None, attention_only=False, rules=UNIT_RULES):
    """Yield (branch_id, group_id, org, rule, Obligation) for every unit rule (of `rules`) of every unit
    in scope.

    attention_only: only the periods that are over or due soon and short of their count, and applicable
    (a refresh flags nothing else); a met period, or one still running, not yet in its last days, is
    not yielded."""
    ends_before = as_of + timedelta(days=DUE_SOON_DAYS) if attention_only else None
    held, settings, terms = units.held, units.settings, units.terms
    months = {}  # (unit key, type) -> {month: n}, only where something was held
    for (branch_id, group_id, type_, month), n in held.by_month.items():
        for unit_key in (("b", branch_id), ("g", group_id)) if group_id else (("b", branch_id),):
            counted = months.setdefault((unit_key, type_), {})
            counted[month] = counted.get(month, 0) + n
    years = defaultdict(dict)  # branch -> {year start: 组织生活会 held for that year}
    for (branch_id, year), n in held.org_life.items():
        years[branch_id][date(year, 1, 1)] = n
    coverage = defaultdict(dict)
    for (branch_id, year), pair in held.coverage.items():
        coverage[branch_id][date(year, 1, 1)] = pair
    reviews = defaultdict(dict)
    for branch_id, year in held.reviews:
        reviews[branch_id][date(year, 1, 1)] = 1
    scope = [(("b", b.pk), b, _unit(b, "branch", terms.get(b.pk)), b.pk, None) for b in units.branches]
    scope += [(("g", g.pk), g, _unit(g, "group", None), g.branch_id, g.pk) for g in units.groups]
    codes = rules
    if attention_only:  # e.g. on 1 December, none of the yearly and quarterly rules
        codes = [code for code in codes
                 if attention_due(code, judged_from=judged_from or since, as_of=as_of, settings=settings)]  # fmt: skip
    # Each rule's level and what it counts, looked up once: a county has some 4,000 units.
    plan = [(code, CATALOGUE[code], CATALOGUE[code].scope.value,
             SECRETARY_LECTURE if code == SECRETARY_LECTURE else (CATALOGUE[code].meeting_types or (None,))[0])
            for code in codes]  # fmt: skip
    for key, org, unit, branch_id, group_id in scope:
        for code, rule, level, type_ in plan:
            if level != unit.level:
                continue
            if code == "org_life_meeting":
                counted = years[org.pk]
            elif code == "talk_coverage":
                counted = coverage[org.pk]
            elif code == "member_review":
                counted = reviews[org.pk]
            else:
                counted = months.get((key, type_), NOTHING_HELD)
            for obligation in _evaluate_with_settings(
                rule, org, unit, settings, counted, as_of, judged_from or since, ends_before, attention_only
            ):
                yield branch_id, group_id, org, rule, obligation


# How a flag names what is missing, by rule: (still open, period over, unit of the counts).
SHORTFALL_WORDS = {
    "talk_coverage": ("尚未谈到位", "未谈到位", "人次"),
    "member_review": ("尚未完成", "未完成", "次"),
    SECRETARY_LECTURE: ("书记尚未讲", "书记未讲", "次"),
}
DEFAULT_SHORTFALL = ("尚未召开", "未召开", "次")


def _meeting_flags(units, *, as_of, since, judged_from, rules=UNIT_RULES):
    wanted = []
    for branch_id, group_id, org, rule, obligation in obligations(
        units, as_of=as_of, since=since, judged_from=judged_from, attention_only=True, rules=rules
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
                merged_group=getattr(org, "merged_group", False), has_committee=has_committee,
                has_term=bool(term))  # fmt: skip


def _evaluate_with_settings(
    rule, org, unit, settings, held, as_of, since, ends_before=None, short_only=False
):
    """Evaluate each stretch of time under the setting then in force (held: {month or year start: n})."""
    segments = _settings_for(settings, org.path, rule.code) if settings else []
    if not segments or segments[0][0] > unit.founded_on:
        segments.insert(0, (unit.founded_on, True, rule.frequency))
    results = []
    for index, (effective_from, enabled, frequency) in enumerate(segments):
        until = min((_taken_over_on(later) for later in segments[index + 1 :]), default=None)
        if not enabled:
            if not short_only:  # a refresh flags only what is short; a page shows why nothing is owed
                results += switched_off(rule, unit, frequency=frequency, effective_from=effective_from,
                                        until=until, as_of=as_of, window_start=since, ends_before=ends_before)  # fmt: skip
            continue
        if rule.code == "talk_coverage":
            results += evaluate_coverage(rule, unit, coverage_by_year=held, as_of=as_of, effective_from=effective_from,
                                         until=until, window_start=since, ends_before=ends_before,
                                         short_only=short_only)  # fmt: skip
            continue
        by_period = held if rule.code == "org_life_meeting" else _bucket(held, frequency.period)
        results += evaluate(rule, unit, held_by_period=by_period, as_of=as_of, frequency=frequency,
                            effective_from=effective_from, until=until, window_start=since,
                            ends_before=ends_before, short_only=short_only)  # fmt: skip
    return results


def _taken_over_on(segment):
    """The start of the first period this (later) setting judges; an earlier setting judges the periods
    starting before the soonest such start among all the settings after it. A new frequency starts with
    its first full period, so that quarterly → yearly on 15 February leaves that year's remaining quarters
    to the old setting rather than to neither; a rule switched off stops on its date."""
    effective_from, enabled, frequency = segment
    return first_full_period(frequency.period, effective_from).start if enabled else effective_from


def _record_reads(scope, since, as_of):
    meetings = Meeting.objects.filter(
        branch_id__in=scope.filter, voided_at__isnull=True, held_on__gte=since, held_on__lte=as_of
    )
    return {
        "records": meetings
        # Whether any attendance row exists: one index probe per meeting, not a count of them all.
        .annotate(recorded=Exists(Attendance.objects.filter(meeting_id=OuterRef("pk"))))
        .filter(Q(is_backfill=True) | Q(low_quorum=True) | Q(recorded=False))
        .values("pk", "branch_id", "group_id", "held_on", "topic", "is_backfill", "low_quorum", "lateness_days",
                "recorded"),
        "theme_days": meetings.filter(types__type=MeetingType.THEME_DAY, off_day_approved_by="")
        .values("pk", "branch_id", "held_on", "topic"),
        "org_lives": meetings.filter(types__type=MeetingType.ORG_LIFE_MEETING)
        .annotate(items=Count("rectifications", filter=Q(rectifications__voided_at__isnull=True)))
        .values("pk", "branch_id", "held_on", *(field for field, _label in ORG_LIFE_RECORDS)),
    }  # fmt: skip


def _record_flags(rows):
    """Record-quality warnings: 补录, 到会未过半, and meetings recorded with nobody expected."""
    wanted = []
    for m in rows["records"]:
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
    fixed_day = _fixed_theme_days(rows["branches"], _settings_from(rows["settings"]))
    return wanted + _theme_day_flags(rows["theme_days"], fixed_day) + _org_life_flags(rows["org_lives"])


FOLLOWUP_STATES = {"overdue": FlagState.OVERDUE, "open": FlagState.WARNING, "missing": FlagState.WARNING}


def _review_flags(followups):
    """民主评议 follow-ups (限期改正, 劝退, 除名) still open, and low grades with none recorded."""
    return [
        Wanted(key=f"{item.key}:{item.state}", rule="review_followup", state=FOLLOWUP_STATES[item.state],
               branch_id=item.branch_id, member_id=item.member_id, period_end=item.due_on, message=item.message)
        for item in followups
    ]  # fmt: skip


def _fixed_theme_days(branches, settings):
    """fixed_day(branch_id, day): the branch's fixed 主题党日 in the month of `day`, under the local settings
    (`compliance.local`) read with the rest: no query, and each branch's timeline worked out once."""
    if not any(s.rule == THEME_DAY_SETTING for s in settings):
        return lambda _branch_id, day: theme_day_in(day.year, day.month, DEFAULT_THEME_DAY)
    paths = {row["pk"]: row["path"] for row in branches}
    timelines = {}

    def fixed_day(branch_id, day):
        timeline = timelines.get(branch_id)
        if timeline is None:
            timeline = timelines[branch_id] = value_timeline(
                settings, paths.get(branch_id, ""), THEME_DAY_SETTING
            )
        return theme_day_in(
            day.year, day.month, value_in_force(timeline, day.replace(day=1), DEFAULT_THEME_DAY)
        )

    return fixed_day


def _theme_day_flags(rows, fixed_day):
    """主题党日 held away from the fixed day without a recorded approval (a warning, not overdue)."""
    return [
        Wanted(key=f"theme_day_moved:m{m['pk']}", rule="theme_day_moved", state=FlagState.WARNING,
               branch_id=m["branch_id"], meeting_id=m["pk"], period_end=m["held_on"],
               message=f"{m['held_on']:%Y-%m-%d}“{m['topic']}”未在固定的主题党日召开，且未登记改期批准")
        for m in rows
        if m["held_on"] != fixed_day(m["branch_id"], m["held_on"])
    ]  # fmt: skip


def _org_life_flags(rows):
    """组织生活会 without its records (RULES.md): before — 征求意见, 谈心谈话, 对照检查材料; during —
    批评与自我批评; after — 整改清单, 报告上级."""
    wanted = []
    for m in rows:
        missing = missing_org_life_records(m)
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
        # The end date is in the key: a corrected 届满日期 resolves the flag that named the old one.
        wanted.append(Wanted(key=f"committee_term:t{term.pk}:{term.ends_on:%Y%m%d}:{state}", rule="committee_term", state=state,
                             branch_id=branch.pk, period_end=term.ends_on, message=message))  # fmt: skip
    return wanted


def _ladder_window(as_of):
    """(first, last) month read for the ladder: the twelve months before last month, and last month."""
    last_month = last_month_start(as_of)
    return last_month - relativedelta(years=1), last_month


FIRST_STEP_MONTHS = min(step.months for step in DUES_STEPS)


def _arrears_window(as_of):
    """(first, last) month of the arrears window: the months up to last month that a back-payment may still
    cover. A run of unpaid months counts if it ended in them (dues.arrears_run)."""
    last_month = last_month_start(as_of)
    return dues.lookback_from(last_month), last_month


def _member_reads(scope, as_of, *, time_only=False):
    reads = {"dues_paid": _dues_paid_query(scope, as_of)}
    if not time_only:
        reads["ladder"] = _ladder_query(scope, _ladder_window(as_of)[0], as_of)
    return reads


def _dues_paid_query(scope, as_of):
    """(member_id, bitmap of the months paid in the arrears window (bit 0 its first month), the latest
    month paid before it or None, their first day on a roster here) of the party members who may be in
    arrears: a few in a hundred, told apart on the server by two single-month lookups (`_probe_months`);
    only they have their months' bits built and their earlier payment looked up."""
    first, last_month = _arrears_window(as_of)
    live = DuesPayment.objects.filter(voided_at__isnull=True)
    unpaid_probe = Q(pk__in=[])
    for probe in _probe_months(first, last_month):
        paid = live.filter(month=probe)
        if scope.branch_ids is not None:  # a branch's refresh looks up its own members' payments only
            paid = paid.filter(member__branch_id__in=scope.filter)
        unpaid_probe |= ~Q(pk__in=paid.values("member_id"))
    month = Cast(ExtractYear("month"), IntegerField()) * 12 + Cast(ExtractMonth("month"), IntegerField())
    bits = (
        live.filter(member_id=OuterRef("pk"), month__gte=first, month__lte=last_month)
        .values("member_id")
        .annotate(bits=_bits_or(Value(1).bitleftshift(month - (first.year * 12 + first.month))))
        .values("bits")
    )
    before = live.filter(member_id=OuterRef("pk"), month__lt=first).order_by("-month").values("month")[:1]
    listed = (
        Membership.objects.filter(member_id=OuterRef("pk")).order_by("started_on").values("started_on")[:1]
    )
    return (
        Member.objects.filter(
            branch_id__in=scope.filter, on_roster=True, category__in=PARTY_MEMBER_CATEGORIES
        )
        .filter(unpaid_probe)
        .annotate(bits=Coalesce(Subquery(bits), 0), before=Subquery(before), listed=Subquery(listed))
        .order_by()
        .values_list("pk", "bits", "before", "listed", "records_from")
    )


def _probe_months(first, last_month):
    """Months of the window such that every run of at least the first step's length (3) ending in the
    window leaves one of them unpaid: every third month from the first. A member who paid all of them
    has no such run, whatever else is unpaid."""
    return dues.months_between(first, last_month)[::FIRST_STEP_MONTHS]


def _member_flags(roster, rows, as_of):
    """Dues arrears and the absence ladder for 正式 and 预备 members on the roster."""
    members = {m["pk"]: m for m in roster if m["category"] in PARTY_MEMBER_CATEGORIES}
    first, last_month = _arrears_window(as_of)
    months = dues.months_between(first, last_month)
    wanted = []
    # Not read on a night that cannot move arrears.
    for member_id, bits, before, listed, records_from in rows.get("dues_paid") or ():
        member = members.get(member_id)
        if (
            member is None or member["status"] != Status.NORMAL
        ):  # 停止党籍: no dues owed (the month page agrees)
            continue
        # An imported member's months before their records began here are not judged (back-paid or not).
        owed_from = dues.owed_from(
            member["joined_on"], max(filter(None, (listed, records_from)), default=None)
        )
        owed_from = owed_from or first
        if owed_from > last_month:
            continue
        # The window's months, and an unpaid run reaching into it from before: back to the last payment.
        paid = {month for index, month in enumerate(months) if bits >> index & 1}
        start = max(owed_from, dues.next_month(before)) if before else owed_from
        _first_unpaid, unpaid = dues.arrears_run(paid, start=start, end=last_month, ended_from=first)
        step = dues_step(unpaid)
        if step:
            wanted.append(Wanted(key=f"dues_arrears:p{member_id}:{step.code}", rule="dues_arrears",
                                 state=FlagState.OVERDUE, branch_id=member["branch_id"], member_id=member_id,
                                 message=f"{member['name']}：{step.label}"))  # fmt: skip
    if "ladder" in rows:  # 停止党籍: the ladder has done its work (`_ladder_members` agrees)
        in_good_standing = {pk: m for pk, m in members.items() if m["status"] == Status.NORMAL}
        wanted += _ladder_flags(in_good_standing, rows["ladder"])
    return wanted


def _ladder_members(scope):
    """The members whose absences the ladder counts: party members on the roster in good standing (as
    `_member_flags`)."""
    return Member.objects.filter(
        branch_id__in=scope.filter, on_roster=True, category__in=PARTY_MEMBER_CATEGORIES, status=Status.NORMAL
    ).values("pk")


def _ladder_query(scope, window, as_of):
    """(member_id, present, absent): bitmaps of the months since `window` (bit 0) in which the member
    has a 在场 (present) or a 缺席 (absent) row at a 党员大会, 党小组会, 党课 or 主题党日, outside an exemption.

    Each month is a power of two, OR-ed together (a meeting joined twice through two of its types
    counts once). A member's meetings count wherever they were held: one moved here keeps the absences
    of their old branch, so that the county-wide run and a write's refresh of the new branch agree.
    A county reads every branch's meetings. A few branches read their own, and all the meetings of
    their members who ever belonged elsewhere (a move may be recorded long after the day it took
    effect); not every member's, which would look up each of their meetings of five years to find
    the window's. Such a member may come back twice: `_ladder_flags` ORs the rows."""
    attendance = Attendance.objects.filter(
        meeting__voided_at__isnull=True, meeting__held_on__gte=window, meeting__held_on__lte=as_of,
        meeting__types__type__in=LADDER_TYPES, status__in=("present", "absent"),
    ).exclude(Exists(_exempt_on_the_day()))  # fmt: skip
    if scope.branch_ids is None:
        return _month_bits(attendance, window)
    moved_in = Membership.objects.filter(member_id__in=_ladder_members(scope)).exclude(
        branch_id__in=scope.filter
    )
    here = _month_bits(attendance.filter(meeting__branch_id__in=scope.filter), window)
    elsewhere = _month_bits(attendance.filter(member_id__in=moved_in.values("member_id")), window)
    return here.union(elsewhere, all=True)


def _exempt_on_the_day():
    """The member's approved exemption covering the meeting's day. A row inside one counts neither as
    an absence nor as attendance (RULES.md, Exemptions), even where the exemption was entered after the
    meeting, whose attendance then still lists the member as 缺席."""
    held_on = OuterRef("meeting__held_on")
    return Exemption.objects.filter(
        Q(ended_on__isnull=True) | Q(ended_on__gte=held_on),
        member_id=OuterRef("member_id"),
        voided_at__isnull=True,
        started_on__lte=held_on,
    )


def _month_bits(attendance, window):
    bit = Value(1).bitleftshift(_month_number("meeting__held_on") - (window.year * 12 + window.month))
    return (
        attendance.values("member_id")
        .annotate(
            present=_bits_or(Case(When(status="present", then=bit), default=0)),
            absent=_bits_or(Case(When(status="absent", then=bit), default=0)),
        )
        .values_list("member_id", "present", "absent")
    )


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


def _ladder_flags(members, rows):
    bits = defaultdict(lambda: (0, 0))
    for member_id, present, absent in rows:
        was_present, was_absent = bits[member_id]
        bits[member_id] = (was_present | present, was_absent | absent)
    wanted = []
    for member_id, (present, absent) in bits.items():
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
# The categories with a deadline the flags watch (an activist's year is a date to look forward to, not one to miss).
DEADLINE_CATEGORIES = frozenset({pipeline.APPLICANT, pipeline.PROBATIONARY})
REPORT_PERIODS = {"activist": PeriodKind.QUARTER, "candidate": PeriodKind.QUARTER,
                  "probationary": PeriodKind.HALF_YEAR, "full": PeriodKind.HALF_YEAR}  # fmt: skip
# The dates from which someone owes their category's reports: a 发展对象 owed the quarterly report as an
# activist already, so one named during a quarter owes that quarter's; a 预备党员 admitted during a half-year
# reported all along, and owes that half-year's.
CATEGORY_SINCE = {"activist": ("activist_on",), "candidate": ("activist_on", "candidate_on"),
                  "probationary": ("activist_on", "candidate_on", "joined_on"), "full": ("joined_on",)}  # fmt: skip


def _roster_reads(scope, as_of):
    # The people on the roster in good standing, as a join (no list of ids in the SQL).
    on_roster = {
        "member__branch_id__in": scope.filter,
        "member__on_roster": True,
        "member__status": Status.NORMAL,
    }
    return {
        "owing_reports": _owing_reports_query(scope, as_of),
        "in_pipeline": Member.objects.filter(branch_id__in=scope.filter, on_roster=True, status=Status.NORMAL,
                                             category__in=DEADLINE_CATEGORIES)
        .order_by()
        .values_list(*PIPELINE_FIELDS),
        "events": PipelineEvent.objects.filter(**on_roster).values_list(
            "member_id", "kind", "happened_on", "pk", "months"
        ),
        "away": Mobility.objects.filter(**on_roster, voided_at__isnull=True, started_on__lte=as_of)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=as_of))
        .values("pk", "member_id", "member__name", "member__branch_id", "started_on", "certificate_issued_on",
                "destination"),
        "suspended_on": StatusChange.objects.filter(member__branch_id__in=scope.filter, member__on_roster=True,
                                                    member__lost_contact_on__lte=as_of, status=Status.SUSPENDED)
        .values("member_id").annotate(on=Max("changed_on")).values_list("member_id", "on"),
    }  # fmt: skip


def _owing_reports_query(scope, as_of):
    """The people owing their category's thought report for the period before today's: on the roster
    in good standing, in the category and on a roster of this system since before that period began,
    with none received in it.

    Only they come back (a few in a hundred): the reports of each period are hashed once on the server."""
    owing = Q()
    for kind in set(REPORT_PERIODS.values()):
        previous = period_containing(kind, as_of).previous()
        received = ThoughtReport.objects.filter(
            voided_at__isnull=True, received_on__gte=previous.start, received_on__lte=previous.end
        )
        if scope.branch_ids is not None:  # a branch's refresh hashes its own few reports, not the county's
            received = received.filter(member__branch_id__in=scope.filter)
        received = received.values("member_id")
        owes = Q()
        for category in (category for category, its_kind in REPORT_PERIODS.items() if its_kind == kind):
            since = Q()
            for field in CATEGORY_SINCE[category]:
                since |= Q(**{f"{field}__lte": previous.start})
            owes |= Q(category=category) & since
        # An imported member owes no report of a period that ended before their records began here, and
        # one who came (转入, or registered by hand) after it began reported to the branch they were in.
        recorded = Q(records_from__isnull=True) | Q(records_from__lte=previous.end)
        listed = Exists(Membership.objects.filter(member_id=OuterRef("pk"), started_on__lte=previous.start))
        # Last, so that the server asks it only of the few still owing (a county's roster otherwise).
        owing |= owes & recorded & ~Q(pk__in=received) & listed
    return (
        Member.objects.filter(branch_id__in=scope.filter, on_roster=True, status=Status.NORMAL)
        .filter(owing)
        .order_by()
        .values_list("pk", flat=True)
    )


def _roster_flags(roster, rows, as_of, *, birthdays=True):
    """Thought reports, 外出, development deadlines and political birthdays, for people on the roster.
    The nightly run leaves the thought reports (not read) and the birthdays alone on nights that cannot
    move them."""
    owing = set(rows.get("owing_reports") or ())
    events = defaultdict(dict)
    # The first recorded event of each kind counts (in the order they were entered); every extension of
    # the 预备期 adds its months.
    for member_id, kind, happened_on, _pk, months in sorted(rows["events"], key=lambda event: event[3]):
        events[member_id].setdefault(kind, happened_on)
        if kind == PipelineEventKind.EXTENSION:
            known = events[member_id]
            known["extension_months"] = known.get("extension_months", 0) + (months or 0)
    previous = {kind: period_containing(kind, as_of).previous() for kind in set(REPORT_PERIODS.values())}
    dates = {row[0]: dict(zip(PIPELINE_FIELDS, row, strict=True)) for row in rows["in_pipeline"]}
    wanted = []
    for person in roster:  # a county's 35,000 people, every night
        if person["status"] != Status.NORMAL:
            continue
        pk, category = person["pk"], person["category"]
        kind = REPORT_PERIODS.get(category)
        if kind and pk in owing:
            wanted.append(_report_flag(person, previous[kind]))
        if pk in dates and category in DEADLINE_CATEGORIES:
            wanted += _pipeline_flags(person | dates[pk], events[pk], as_of)
        if birthdays and category == "full" and _birthday_month(person["joined_on"], as_of):
            wanted.append(_birthday_flag(person, as_of))
    wanted += _mobile_flags(rows["away"], as_of)
    wanted += _lost_contact_flags(roster, dict(rows["suspended_on"]), as_of)
    return wanted


LOST_CONTACT_DAYS = 183  # 失联满6个月: 停止党籍 (教育管理条例 第二十四条)
SUSPENDED_YEARS = 2  # 停止党籍满2年仍无下落: 除名


def _lost_contact_flags(roster, suspended_on, as_of):
    """失联党员: six months out of contact → the 停止党籍 procedure; two years after 停止党籍 → 除名.
    Both are decisions for the branch and the 党委; the flag only says the time has come."""
    # 停止党籍 and 除名 are a party member's: an applicant out of contact is simply not pursued further.
    people = [p for p in roster if p["lost_contact_on"] is not None and p["lost_contact_on"] <= as_of
              and p["category"] in PARTY_MEMBER_CATEGORIES]  # fmt: skip
    wanted = []
    for person in people:
        lost = person["lost_contact_on"]
        since = suspended_on.get(person["pk"])
        if person["status"] == Status.NORMAL and (as_of - lost).days >= LOST_CONTACT_DAYS:
            wanted.append(_member_wanted(person, "lost_contact", "suspend", FlagState.OVERDUE,
                                         f"自{lost:%Y-%m-%d}起失去联系已满6个月：应按规定停止其党籍（已恢复联系的，请在党员信息中清除失去联系日期）"))  # fmt: skip
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


def _report_flag(person, previous):
    """The flag of a person owing the report of the period `previous` (see `_owing_reports_query`)."""
    return _member_wanted(person, "thought_report", previous.start, FlagState.OVERDUE, f"{previous.label}未交思想汇报",
                          period_start=previous.start, period_end=previous.end)  # fmt: skip


def _pipeline_flags(person, events, as_of):
    wanted = []
    for deadline in pipeline.deadlines(
        category=person["category"], applied_on=person["applied_on"], talked_on=events.get("talk"),
        activist_on=person["activist_on"], joined_on=person["joined_on"], approved_on=events.get("approval"),
        extension_months=events.get("extension_months", 0), confirmed_on=person["confirmed_on"],
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


def _birthday_month(joined_on, as_of):
    """Whether as_of's month holds a 正式党员's political birthday (an anniversary, not the year they joined)."""
    return joined_on is not None and joined_on.month == as_of.month and joined_on.year < as_of.year


def _birthday_flag(person, as_of):
    joined = person["joined_on"]
    return _member_wanted(person, "political_birthday", as_of.year, FlagState.WARNING,
                          f"本月{joined.day}日是入党{as_of.year - joined.year}周年政治生日")  # fmt: skip


def _mobile_flags(away, as_of):
    wanted = []
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


def _training_reads(scope, *, as_of, since, settings=None):
    """settings: the local settings, when read already: then a year is read for its short members only."""
    years = training_years(as_of, since)
    if not years:
        return {}
    short_of = None if settings is None else training.most_hours_owed(settings)
    return training.standing_reads(branch_filter=scope.filter, years=years, short_of=short_of)


def _training_flags(units, rows, *, as_of, since):
    """集中学习培训: a year that ended short of its 学时 is overdue; the current year is due soon in
    December while still short. The choices (who, how many hours, pro rata) are in compliance.training."""
    years = training_years(as_of, since)
    if "training_short" in rows:
        rows = rows | {"training_people": training.short_people(rows, units.roster)}
    if not years or "training_people" not in rows:  # not read on a night that cannot move it
        return []
    wanted = []
    paths = {b.pk: b.path for b in units.branches}
    posts = units.committees.posts
    spans = {year: (date(year, 1, 1), date(year, 12, 31)) for year in years}
    for s in training.standings_from(rows, branches=paths, years=years, as_of=as_of, settings=units.settings,
                                     posts=posts, unmet_only=True):  # fmt: skip
        state = ATTENTION.get(s.state)
        if state is None:
            continue
        start, end = spans[s.year]
        # The hours are part of the key: a record that narrows the gap resolves the flag and raises one
        # that says how far short the member still is.
        person = {"pk": s.member_id, "name": s.name, "branch_id": s.branch_id}
        wanted.append(_member_wanted(person, training.RULE, f"{s.year}:{hours_text(s.done)}", state,
                                     _training_message(s, state), period_start=start, period_end=end))  # fmt: skip
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
def refresh(*, as_of, branch_ids=None, since=None, time_only=False, judged_through=None):
    """Bring the open flags of the scope in line with the data as of a date. Returns what changed.

    time_only: the nightly run, which only takes in a day passing. It judges from `nightly_since` and
    leaves the record-quality warnings and the absence ladder, which records change and days do not,
    as the writes left them (the weekly run judges them again). judged_through: the day of the last
    county-wide run that finished; the nightly run then also leaves alone the rules no day since has
    moved (`quiet_rules`).

    Everything is read first, in about thirty set-based queries for a county, or in one statement
    for a write's branch (`batch.fold`); then the rules are judged in memory and only the difference
    is written, in one statement for a write's branch."""
    since = since or (nightly_since(as_of) if time_only else default_since(as_of))
    window = Window(
        since,
        unit_from=max(since, last_month_start(as_of)) if time_only else since,
        time_only=time_only,
        quiet=_quiet_tonight(as_of, judged_through) if time_only else frozenset(),
    )
    scope = scope_of(branch_ids, since)
    if branch_ids is None:
        _no_jit()
    elif not branch_ids:
        return {"raised": 0, "resolved": 0, "open": 0}
    if not scope.few:  # a county, or a township's many branches
        with _no_cycle_collection():
            if connection.vendor == "postgresql":
                streamed = _Streamed(as_of)
                rows, wanted = _read_and_judge(scope, as_of=as_of, window=window, take=streamed)
                return _write_wanted(rows, wanted, as_of=as_of, streamed=streamed.keys)
            rows = _read_many(scope, as_of=as_of, window=window)
            return _write_wanted(rows, _judge(rows, as_of=as_of, window=window), as_of=as_of)
    rows = (_read_few if connection.vendor == "postgresql" else _read_many)(scope, as_of=as_of, window=window)
    live = live_scope(scope, rows)
    if live is not scope:
        if not live.branch_ids:
            return {"raised": 0, "resolved": 0, "open": 0}
        return refresh(
            as_of=as_of,
            branch_ids=live.branch_ids,
            since=since,
            time_only=time_only,
            judged_through=judged_through,
        )
    return _write_wanted(rows, _judge(rows, as_of=as_of, window=window), as_of=as_of)


def _judge(rows, *, as_of, window):
    """What every rule wants flagged, from the rows read (`_read_and_judge` runs the same stages)."""
    wanted = [] if window.time_only else _record_flags(rows)
    units, unit_flags = _judge_units(rows, as_of=as_of, window=window)
    wanted += unit_flags
    wanted += _training_flags(units, rows, as_of=as_of, since=window.since)
    wanted += _judge_roster(rows, as_of=as_of, window=window, units=units)
    return wanted + _member_flags(rows["roster"], rows, as_of)


def _write_wanted(rows, wanted, *, as_of, streamed=frozenset()):
    elsewhere = [*rows.get("moved_flags", ()), *rows.get("moved_group_flags", ())]
    messages = dict(rows["open_messages"]) if "open_messages" in rows else None
    return _write(
        {w.key: w for w in wanted}, rows["open_flags"], as_of=as_of, elsewhere=elsewhere, streamed=streamed,
        messages=messages,
    )  # fmt: skip


_GC_LOCK = threading.Lock()
_gc_holders = {"count": 0, "was_enabled": False}  # refreshes in this process holding the collector off


@contextmanager
def _no_cycle_collection():
    """A county's refresh makes a few million short-lived rows, tuples and dicts and no reference cycles:
    Python's cycle collector, set off by so many allocations, would walk the whole heap again and again
    (a tenth of a night's run after a rebuild). Reference counting frees them all the same. The switch is
    the process's: the first refresh in turns it off, the last one out gives it back as the first found it."""
    with _GC_LOCK:
        if _gc_holders["count"] == 0:
            _gc_holders["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_holders["count"] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_holders["count"] -= 1
            if _gc_holders["count"] == 0 and _gc_holders["was_enabled"]:
                gc.enable()


def _judge_units(rows, *, as_of, window):
    """(the units, what the unit rules, terms and 民主评议 follow-ups want flagged)."""
    since = window.since
    units = _units_read(rows, since=since, as_of=as_of)
    wanted = _meeting_flags(
        units,
        as_of=as_of,
        since=since,
        judged_from=window.units_from(rows["open_flags"]),
        rules=[code for code in UNIT_RULES if code not in window.quiet],
    )
    wanted += _term_flags(units.branches, units.terms, as_of)
    wanted += _review_flags(followups_from(rows, as_of=as_of))
    return units, wanted


def _judge_roster(rows, *, as_of, window, units):
    """Thought reports, 外出, 失联, development deadlines and political birthdays (`_roster_flags`), and the
    branches big enough to need a committee that have none (`_committee_missing_flags`)."""
    wanted = _roster_flags(rows["roster"], rows, as_of, birthdays="political_birthday" not in window.quiet)
    return wanted + _committee_missing_flags(units, rows["roster"])


COMMITTEE_FROM_FULL_MEMBERS = 7  # 支部条例 第十二条: 正式党员7人以上的党支部设立支部委员会


def _committee_missing_flags(units, roster):
    """Live branches with 7 or more 正式党员 on the roster and no 支部委员会 in office (none recorded, or
    only a 书记): RULES.md says they must have one. Flagged until a term with 委员 is recorded."""
    full = Counter(p["branch_id"] for p in roster if p["category"] == "full" and p["status"] == Status.NORMAL)
    wanted = []
    for branch in units.branches:
        count = full.get(branch.pk, 0)
        if branch.dissolved_on or count < COMMITTEE_FROM_FULL_MEMBERS:
            continue
        if _unit(branch, "branch", units.terms.get(branch.pk)).has_committee:
            continue
        wanted.append(Wanted(key=f"committee_term:b{branch.pk}:missing", rule="committee_term",
                             state=FlagState.OVERDUE, branch_id=branch.pk,
                             message=f"{branch.name}有正式党员{count}名，应设立支部委员会（支部条例第十二条），"
                                     "尚未登记支部委员会"))  # fmt: skip
    return wanted


def last_month_start(as_of):
    return (as_of.replace(day=1) - timedelta(days=1)).replace(day=1)


# Rules whose verdicts a day passing changes only on some days of the year; the other rules count
# deadlines in days (发展党员, 外出, 失联, 届满, 民主评议 follow-ups) and are judged every night.
# Every period of the unit rules, whatever its kind, ends at a month's end: their verdicts move on a
# month's first day (a period is over), on the first day of a month's last week (one comes due soon)
# and on the day a local setting takes effect. Arrears and political birthdays move on a month's first
# day, thought reports on a quarter's (their periods are quarters and half-years), 学习培训 on
# 1 December (due soon) and 1 January (overdue).
MONTHLY_MEMBER_RULES = frozenset({"dues_arrears", "political_birthday"})
CALENDAR_RULES = frozenset({*UNIT_RULES, *MONTHLY_MEMBER_RULES, "thought_report", training.RULE})
QUIET_AT_MOST_DAYS = 31


def quiet_rules(as_of, judged_through, setting_days=()):
    """The calendar rules that no day after judged_through, up to as_of, moves: their flags stand as the
    last run (and the writes since, which refresh their branch) left them.

    judged_through: the as_of of the last county-wide run that finished (None: unknown, nothing is
    quiet); setting_days: the days local settings take effect. After more than a month, or for a day
    before judged_through, nothing is quiet."""
    if judged_through is None or not 0 <= (as_of - judged_through).days <= QUIET_AT_MOST_DAYS:
        return frozenset()
    moved = set()
    day = judged_through + timedelta(days=1)
    while day <= as_of:
        if day.day == 1:
            moved |= {*UNIT_RULES, *MONTHLY_MEMBER_RULES}
            moved |= {"thought_report"} if day.month in (1, 4, 7, 10) else set()
            moved |= {training.RULE} if day.month in (12, 1) else set()
        if (day + timedelta(days=DUE_SOON_DAYS)).day == 1 or day in setting_days:
            moved |= set(UNIT_RULES)
        day += timedelta(days=1)
    return CALENDAR_RULES - moved


def _quiet_tonight(as_of, judged_through):
    if judged_through is None:
        return frozenset()
    setting_days = set(
        RuleSetting.objects.filter(
            effective_from__gt=judged_through, effective_from__lte=as_of, voided_at__isnull=True
        ).values_list("effective_from", flat=True)
    )
    return quiet_rules(as_of, judged_through, setting_days)


@dataclass(frozen=True)
class Window:
    """Which flags a refresh judges. Meetings are read from `since`. The flags of a period (the unit
    rules, 学习培训, record warnings) are judged only where the period ends on or after its rule's date:
    `unit_from` for the unit rules, `since` for the others; older ones stand as they are. The nightly
    run (time_only) judges the unit rules from the 1st of last month: the open periods and those that
    just closed; and leaves the record warnings and the absence ladder, which time never changes, as the
    writes left them. Deadlines (发展党员, 届满, 民主评议 follow-ups) and the member rules are judged whenever they are due."""

    since: date
    unit_from: date
    time_only: bool = False
    quiet: frozenset = frozenset()  # rules the nightly run leaves alone tonight (`quiet_rules`)

    def judged_from(self, rule):
        """The date from which the rule's flags are judged; None: all of them; date.max: none."""
        if rule in self.quiet:
            return date.max
        if rule in UNIT_RULES:
            return self.unit_from
        if rule in RECORD_RULES:
            return date.max if self.time_only else self.since
        if rule in RECORDS_ONLY_MEMBER_RULES:
            return date.max if self.time_only else None
        if rule == training.RULE:
            return self.since
        return None

    def open_flags(self, scope):
        """The Q of the open flags this window judges (the others are neither resolved nor raised again).

        A unit rule's flag still 即将到期 for a period that ended before `unit_from` (the nightly run
        missed the period's end) pulls the unit rules' window back to that period's end, bounded by
        `since`, so that it turns overdue or resolves; `units_from` gives the same date from the rows
        read. (A period still running is judged anyway: its end is on or after `unit_from`.)"""
        windowed = {}
        windowed_rules = (
            *UNIT_RULES,
            *sorted(RECORD_RULES),
            *sorted(RECORDS_ONLY_MEMBER_RULES),
            training.RULE,
        )
        for rule in dict.fromkeys((*windowed_rules, *sorted(self.quiet))):
            windowed.setdefault(self.judged_from(rule), []).append(rule)
        in_window = {rule for rules in windowed.values() for rule in rules}
        # The other rules named, not "rule NOT IN": each arm of the OR then finds its flags through
        # the open flags' (rule, period_end) index instead of a scan of every flag ever raised.
        judged = Q(rule__in=[code for code in FLAG_RULES if code not in in_window])
        if self.time_only:
            # A ladder flag of someone who left the ladder (off the roster, or no longer a party member)
            # resolves at night as the other member flags do, whatever wrote the change (a roster import,
            # the admin site) and whether or not a write's refresh already ran.
            judged |= Q(rule__in=RECORDS_ONLY_MEMBER_RULES) & ~Q(member_id__in=_ladder_members(scope))
        for day, rules in windowed.items():
            if day is None:
                judged |= Q(rule__in=rules)
            elif day == self.unit_from and self.unit_from > self.since:
                judged |= Q(rule__in=rules) & Q(period_end__gte=self._pulled_back(scope))
            elif day != date.max:
                judged |= Q(rule__in=rules) & Q(period_end__gte=day)
        return judged

    def _pulled_back(self, scope):
        due_soon = (
            Flag.objects.filter(branch_id__in=scope.filter, resolved_on__isnull=True, state=FlagState.DUE_SOON,
                                rule__in=UNIT_RULES, period_end__gte=self.since, period_end__lt=self.unit_from)
            .values("state")
            .annotate(first=Min("period_end"))
            .values("first")
        )  # fmt: skip
        return Greatest(
            Value(self.since),
            Least(Value(self.unit_from), Coalesce(Subquery(due_soon), Value(self.unit_from))),
        )

    def units_from(self, open_rows):
        """The unit rules' window as `open_flags` drew it, from the flags it read."""
        if self.unit_from <= self.since:
            return self.unit_from
        ends = [end for _key, _pk, end, rule, state, _branch in open_rows
                if state == FlagState.DUE_SOON and rule in UNIT_RULES and end < self.unit_from]  # fmt: skip
        return max(self.since, min([self.unit_from, *ends]))


def _refresh_reads(scope, *, as_of, window):
    """Every queryset a refresh reads, by name."""
    since = window.since
    reads = _unit_reads(scope, since=since, as_of=as_of)
    if not window.time_only:
        reads |= _record_reads(scope, since, as_of)
    reads |= followup_reads(scope.filter, as_of=as_of)
    reads |= _member_reads(scope, as_of, time_only=window.time_only)
    reads |= _roster_reads(scope, as_of)
    reads |= _training_reads(scope, as_of=as_of, since=since)
    judged = Flag.objects.filter(resolved_on__isnull=True).filter(window.open_flags(scope))
    reads["open_flags"] = judged.filter(branch_id__in=scope.filter).values_list(*OPEN_FIELDS)
    for name, rules in READS_FOR.items():
        if name in reads and rules <= window.quiet:
            del reads[name]  # counts only towards rules left alone tonight
    if scope.branch_ids is not None:
        # A member moved here from another branch (内部调整), or a 党小组 moved under this one: the flags
        # still open there are this branch's to judge, whichever of the two branches' refreshes runs first.
        # Two reads, not one with OR: each finds its few flags through its own index.
        elsewhere = judged.exclude(branch_id__in=scope.filter)
        reads["moved_flags"] = elsewhere.filter(member__branch_id__in=scope.filter).values_list(*OPEN_FIELDS)
        reads["moved_group_flags"] = elsewhere.filter(
            group_id__in=_groups_query(scope).values("pk")
        ).values_list(*OPEN_FIELDS)
        # A flag's words follow its counts (a meeting recorded, a local count changed): only a write or a
        # setting changes them, and its refresh is of its branches, so only such a refresh reads them.
        reads["open_messages"] = judged.filter(branch_id__in=scope.filter).values_list("pk", "message")
    return reads


OPEN_FIELDS = ("key", "pk", "period_end", "rule", "state", "branch_id")
TRAINING_READS = ("training_people", "training_done", "training_short", "training_exempt")
# What each read counts towards, for the reads a night may leave out (`Window.quiet`).
READS_FOR = {
    "by_month": frozenset(COUNTED_BY_MONTH),
    **{name: frozenset({rule}) for name, rule in READS_FOR_ONE_RULE.items()},
    "dues_paid": frozenset({"dues_arrears"}),
    "owing_reports": frozenset({"thought_report"}),
    **{name: frozenset({training.RULE}) for name in TRAINING_READS},
}


def _read_many(scope, *, as_of, window):
    """Every read of a refresh, one query each. The nightly run judges the unit rules only from
    `units_from` on, which the open flags tell: it reads them and the settings first, counts the
    meetings only from the start of the first period it judges that night (`months_counted_from`), and
    leaves out what counts only towards rules none of whose periods it judges (`attention_due`)."""
    reads, rows = _reads_of_many(scope, as_of=as_of, window=window)
    return rows | dict(zip(reads, read_together(reads.values(), together=scope.few), strict=True))


def _reads_of_many(scope, *, as_of, window):
    """(the querysets still to read, the rows read first) of `_read_many`."""
    reads = _refresh_reads(scope, as_of=as_of, window=window)
    rows = {}
    if window.unit_from > window.since:
        first = ("open_flags", "settings")
        rows = dict(
            zip(first, read_together([reads.pop(name) for name in first], together=False), strict=True)
        )
        judged_from = window.units_from(rows["open_flags"])
        settings = _settings_from(rows["settings"])
        if "by_month" in reads:
            months_from = months_counted_from(judged_from, settings, as_of=as_of)
            if months_from is None:
                del reads["by_month"]
            else:
                reads["by_month"] = _by_month_query(scope, months_from=months_from, as_of=as_of)
        for name, rule in READS_FOR_ONE_RULE.items():
            if not attention_due(rule, judged_from=judged_from, as_of=as_of, settings=settings):
                reads.pop(name, None)
        if "training_people" in reads:
            for name in TRAINING_READS:
                reads.pop(name, None)
            reads |= _training_reads(scope, as_of=as_of, since=window.since, settings=settings)
    return reads, rows


def _read_and_judge(scope, *, as_of, window, take=None):
    """(rows, wanted) of a big scope on PostgreSQL: `_read_many`'s reads, one query each, while a second
    thread judges what the rows read so far allow.

    The judging is pure Python over rows already read, and the server works on the next query while
    it runs: the record warnings are judged while the meetings are counted by month, the unit rules
    during the 学习培训 reads, 学习培训 during the roster's, the roster rules during the member rules'
    (`MEMBER_READS`), which are read last and judged last. Nothing but the order changes: the same reads,
    the same functions, the same flags as `_read_many` then judging. The second thread may not query
    (`_without_queries`).

    take: a `_Streamed`. The second thread prepares each stage's flags for it after judging them; this
    thread writes them in turn once everything is read, while the later stages are still being judged."""
    reads, rows = _reads_of_many(scope, as_of=as_of, window=window)
    for_units = frozenset(reads).difference(READS_AFTER_UNITS)
    judged, prepared = {}, {}

    def training_flags(rows):
        units, _wanted = judged["units"].result()  # judged already: one thread takes the stages in turn
        return _training_flags(units, rows, as_of=as_of, since=window.since)

    stages = [
        ("units", for_units, lambda rows: _judge_units(rows, as_of=as_of, window=window)),
        ("training", for_units | frozenset(reads).intersection(TRAINING_READS), training_flags),
        (
            "roster",
            frozenset(reads).difference(MEMBER_READS),
            lambda rows: _judge_roster(rows, as_of=as_of, window=window, units=judged["units"].result()[0]),
        ),
        ("members", frozenset(reads), lambda rows: _member_flags(rows["roster"], rows, as_of)),
    ]
    if not window.time_only:
        stages.insert(0, ("records", frozenset(reads).intersection(RECORD_READS), _record_flags))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="compliance-judge") as judge:
        try:
            for name in sorted(reads, key=_read_order):
                if any(job.done() and job.exception() for job in judged.values()):
                    break  # a stage failed: its error is raised below, without reading on
                (rows[name],) = read_together([reads[name]], together=False)
                while stages and stages[0][1] <= rows.keys():
                    stage, _needs, run = stages.pop(0)
                    judged[stage] = judge.submit(_without_queries, run, dict(rows))
                    if take is not None:
                        prepared[stage] = judge.submit(
                            _without_queries, _prepare(take, judged[stage]), dict(rows)
                        )
            results = {}
            for stage, job in judged.items():
                results[stage] = job.result()
                if take is not None:
                    take.write(prepared[stage].result())
        except BaseException:
            judge.shutdown(cancel_futures=True)  # a read failed, or a stage: judge no more
            raise
    _units, wanted = results.pop("units")
    return rows, wanted + [w for flags in results.values() for w in flags]


def _prepare(take, judged):
    """The job that prepares a judged stage's flags for `take` (run after it, on the same thread)."""

    def prepare(rows):
        result = judged.result()
        return take.prepare(rows, result[1] if isinstance(result, tuple) else result)  # units: (units, flags)

    return prepare


def _without_queries(stage, rows):
    """Run a judging stage on the second thread, refusing any query: one would go out on that thread's
    own connection, outside the refresh's transaction."""

    def refuse(execute, sql, params, many, context):
        raise RuntimeError(f"a judging stage queried the database: {sql[:80]}")

    try:
        with connection.execute_wrapper(refuse):
            return stage(rows)
    finally:
        connection.close()  # the thread's own connection, if a refused query opened it


# The reads of `_member_flags` (arrears, the absence ladder).
MEMBER_READS = ("dues_paid", "ladder")
# Read last, in this order, so that the unit rules can be judged while they are read.
READS_AFTER_UNITS = (
    *TRAINING_READS,
    "owing_reports",
    "in_pipeline",
    "events",
    "away",
    "suspended_on",
    *MEMBER_READS,
)


# Read first: the record warnings are judged from these while the rest is read (and their new flags
# told from the open ones).
RECORD_READS = ("open_flags", "moved_flags", "moved_group_flags", "branches", "settings", "records", "theme_days",
                "org_lives")  # fmt: skip


def _read_order(name):
    if name in RECORD_READS:
        return RECORD_READS.index(name) - len(RECORD_READS) - 1
    return READS_AFTER_UNITS.index(name) if name in READS_AFTER_UNITS else -1


# A write's refresh on PostgreSQL: one statement per (day, window, kind of run, number of branches),
# compiled once with stand-in branch ids, then bound to the branches of each write.
FOLDED = {}
STAND_IN = -(2**40)  # the i-th branch id is written as STAND_IN - i: no real id or other value is


def _read_few(scope, *, as_of, window):
    ids = scope.branch_ids
    key = (as_of, window, len(ids))
    entry = FOLDED.get(key)
    if entry is None:
        stand_in = Scope(tuple(STAND_IN - index for index in range(len(ids))), window.since)
        reads = _refresh_reads(stand_in, as_of=as_of, window=window)
        if len(FOLDED) >= 64:  # yesterday's statements
            FOLDED.clear()
        entry = FOLDED[key] = (list(reads), fold(list(reads.values())))
    names, folded = entry
    params = [
        ids[STAND_IN - p] if isinstance(p, int) and STAND_IN - len(ids) < p <= STAND_IN else p
        for p in folded.params
    ]
    return dict(zip(names, folded.run(params), strict=True))


def _no_jit():  # for a refresh of everything (one branch reads too little for it to matter)
    """For this transaction only: PostgreSQL's JIT compiles each big statement anew (0.1-0.3 s apiece),
    more than it saves here; and the aggregates over a county's meetings sort on disk in the default
    4 MB of work memory."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")


def _write(wanted, open_rows, *, as_of, elsewhere=(), streamed=frozenset(), messages=None):
    """open_rows: OPEN_FIELDS of the open flags the window judges. streamed: the keys of wanted flags
    already raised (`_Streamed`); none of them was open.

    A member's flag is kept by the branch the member is in: when they have moved, the flag open in the
    old branch is resolved and the same one raised in the new (resolved first: one key is open once).
    elsewhere: open flags of this scope's members held by other branches. Only those this refresh wants
    are its to move; the others stay with their branch (a 民主评议 follow-up belongs to the campaign's).

    A flag whose period now ends elsewhere (a local rule made the quarter's 党课 a year's) is another
    obligation under the same key: it is resolved and raised again, as a moved one. messages: {pk: the
    open flag's words}, read by a refresh of some branches: an open flag whose words changed (应2次 where
    it said 应1次, 已1次 after a meeting) keeps its date and takes the new words."""
    unknown = {w.rule for w in wanted.values()}.difference(FLAG_RULES)
    if unknown:  # a night would never judge such a flag again (Window.open_flags names the rules)
        raise ValueError(f"flags of rules not in compliance.models.RULE_CHOICES: {sorted(unknown)}")
    open_flags = {key: (pk, branch_id, end) for key, pk, end, _rule, _state, branch_id in open_rows}
    for key, pk, end, _rule, _state, branch_id in elsewhere:
        if key in wanted and key not in open_flags:
            open_flags[key] = (pk, branch_id, end)
    moved = {
        k for k, (_pk, branch_id, end) in open_flags.items()
        if k in wanted and (wanted[k].branch_id != branch_id or wanted[k].period_end != end)
    }  # fmt: skip
    stale = [pk for k, (pk, _branch, _end) in open_flags.items() if k not in wanted or k in moved]
    new = [w for k, w in wanted.items() if (k not in open_flags or k in moved) and k not in streamed]
    reworded = [] if messages is None else [
        (pk, wanted[k].message) for k, (pk, _branch, _end) in open_flags.items()
        if k in wanted and k not in moved and pk in messages and messages[pk] != wanted[k].message
    ]  # fmt: skip
    if stale or new or streamed or reworded:
        _apply(stale, new, as_of, resolve_first=bool(moved), streamed=len(streamed), reworded=reworded)
    return {"raised": len(new) + len(streamed), "resolved": len(stale), "open": len(wanted)}


class _Streamed:
    """A county's new flags, written stage by stage (`_read_and_judge`'s take) while the later stages are
    judged: the server takes in one stage's flags while Python judges the next, where otherwise each
    would wait for the other (a rebuild writes 280,000 flags). Only flags whose key is open nowhere the
    refresh read are written here; the rest (a member moved, a key to resolve first) wait for `_write`.

    `prepare` runs on the judging thread, after the stage: the CSV is Python's work, the COPY the server's."""

    def __init__(self, as_of):
        self.as_of = as_of
        self.keys = set()
        self._open_keys = None

    def prepare(self, rows, flags):
        """(the stage's new flags, their CSV), or None for a handful (they go in with the rest, in one
        statement). rows: those read so far, the open flags among them (`RECORD_READS`). Runs on the
        judging thread only, one stage after another."""
        if self._open_keys is None:
            self._open_keys = {key for key, *_ in (*rows["open_flags"], *rows.get("moved_flags", ()),
                                                   *rows.get("moved_group_flags", ()))}  # fmt: skip
        open_keys = self._open_keys
        new = list({w.key: w for w in flags if w.key not in open_keys}.values())  # one per key, as `_write`
        return (new, _csv(new, self.as_of)) if len(new) >= COPY_AT_LEAST else None

    def write(self, prepared):
        if prepared is not None:
            new, data = prepared
            _insert(new, self.as_of, data)
            self.keys.update(w.key for w in new)


RESOLVED_BY = "情况已改变（已完成、已转为逾期或不再适用）"
FLAG_COLUMNS = ("key", "rule", "state", "branch_id", "group_id", "member_id", "meeting_id", "period_start",
                "period_end", "message")  # fmt: skip
FLAG_FIELDS = attrgetter(*FLAG_COLUMNS)  # a Wanted's values for FLAG_COLUMNS, as a tuple
RESOLVE_FLAGS = "UPDATE compliance_flag SET resolved_on = %s, resolved_by = %s WHERE id = ANY(%s::bigint[])"
REWORD_FLAGS = """
    UPDATE compliance_flag SET message = words.message
    FROM unnest(%s::bigint[], %s::text[]) AS words (id, message) WHERE compliance_flag.id = words.id
"""
INSERT_FLAGS = """
    INSERT INTO compliance_flag (key, rule, state, branch_id, group_id, member_id, meeting_id, period_start,
                                 period_end, message, raised_on, resolved_on, resolved_by)
    SELECT *, %s::date, NULL::date, '' FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[],
                                                   %s::bigint[], %s::bigint[], %s::date[], %s::date[], %s::text[])
    ON CONFLICT DO NOTHING
"""
INSERT_BATCH = 20_000


def _insert(new, as_of, data=None):
    """New flags in by COPY (data: their `_csv`, if made); if another refresh opened one of their keys
    meantime, by INSERT … ON CONFLICT DO NOTHING (that one flag is kept once)."""
    if _copied(new, as_of, data):
        return
    with connection.cursor() as cursor:
        for start in range(0, len(new), INSERT_BATCH):
            batch = new[start : start + INSERT_BATCH]
            cursor.execute(INSERT_FLAGS, [as_of, *map(list, zip(*map(FLAG_FIELDS, batch), strict=True))])


def _apply(stale, new, as_of, *, resolve_first=False, streamed=0, reworded=()):
    """Resolve the stale flags, raise the new ones, and renew the open flags' token.

    Two refreshes of one branch may race (a write and the nightly run): the open-key constraint keeps
    one flag, and the later insert is dropped rather than failing the refresh. The counts shown on
    every page are cached under the token, renewed last so that concurrent refreshes wait on its row
    as briefly as possible.

    On PostgreSQL a write's refresh does all three in one statement (data-modifying WITH clauses);
    new flags go in through unnest(column arrays), 20,000 a statement, straight from the Wanted
    values: a full rebuild raises 200,000 flags, and a model instance for each costs more than the
    insert itself."""
    if connection.vendor != "postgresql":
        if stale:
            Flag.objects.filter(pk__in=stale).update(resolved_on=as_of, resolved_by=RESOLVED_BY)
        Flag.objects.bulk_update([Flag(pk=pk, message=message) for pk, message in reworded], ["message"])
        Flag.objects.bulk_create(
            [Flag(raised_on=as_of, **w.__dict__) for w in new], batch_size=1000, ignore_conflicts=True
        )
        stamps.renew([stamps.FLAGS])
        return
    if resolve_first and stale:
        # The data-modifying clauses of one statement see the same snapshot: an insert would find
        # the key it takes over still open.
        with connection.cursor() as cursor:
            cursor.execute(RESOLVE_FLAGS, [as_of, RESOLVED_BY, stale])
        stale = []
    many = len(new) + streamed >= COPY_AT_LEAST
    if len(new) >= COPY_AT_LEAST and _copied(new, as_of):
        new = []
    batches = [new[start : start + INSERT_BATCH] for start in range(0, len(new), INSERT_BATCH)] or [[]]
    with connection.cursor() as cursor:
        for index, batch in enumerate(batches):
            steps = []
            if index == 0 and stale:
                steps.append((RESOLVE_FLAGS, [as_of, RESOLVED_BY, stale]))
            if index == 0 and reworded:
                steps.append((REWORD_FLAGS, [*map(list, zip(*reworded, strict=True))]))
            if batch:
                steps.append((INSERT_FLAGS, [as_of, *map(list, zip(*map(FLAG_FIELDS, batch), strict=True))]))
            if index == len(batches) - 1:
                steps.append(stamps.renew_statement([stamps.FLAGS]))
            cursor.execute(*_one_statement(steps))
        if many:
            # Until autovacuum comes by, the planner would take the table for what it was before these
            # thousands of flags: the next night's and the dashboards' reads of the open flags would scan
            # it all instead of using its indexes.
            cursor.execute("ANALYZE compliance_flag")


COPY_AT_LEAST = 5_000
COPY_FLAGS = (
    f"COPY compliance_flag ({', '.join(FLAG_COLUMNS)}, raised_on, resolved_by) FROM STDIN"
    " WITH (FORMAT csv, FORCE_NOT_NULL (key, rule, state, message, resolved_by))"
)


def _csv(new, raised_on):
    """The flags as COPY_FLAGS reads them."""
    data = io.StringIO()
    writer = csv.writer(data, lineterminator="\n")
    writer.writerows((*FLAG_FIELDS(w), raised_on, "") for w in new)
    data.seek(0)
    return data


def _copied(new, raised_on, data=None):
    """Many new flags (a rebuild) go in by COPY: a third of the time of the INSERT, most of which is
    psycopg2 spelling out the arrays and the server parsing them. COPY cannot skip a key that another
    refresh opened meanwhile, so it runs in a savepoint, and on that conflict the caller inserts
    with ON CONFLICT DO NOTHING instead. Returns whether the flags are in. data: their `_csv`, if made."""
    data = _csv(new, raised_on) if data is None else data
    try:
        with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
            cursor.copy_expert(COPY_FLAGS, data)  # outside Django's execute: errors wrapped here
    except IntegrityError:
        return False
    return True


def _one_statement(steps):
    """The statements as one: all but the last in WITH clauses (PostgreSQL runs each exactly once)."""
    *first, (last_sql, last_params) = steps
    if not first:
        return last_sql, last_params
    clauses = ", ".join(f"step{index} AS ({sql})" for index, (sql, _params) in enumerate(first))
    params = [param for _sql, step_params in first for param in step_params]
    return f"WITH {clauses} {last_sql}", params + last_params
