"""Reads behind the township overview and the branch home. Scoped through branches.access; the
number of queries does not depend on the number of branches or members.

Rule figures come from compliance.grid only (obligation_grid → ending_within → tally), the same
functions the 台账 export counts with: an obligation belongs to the month its period ends in, so a
quarter's or a year's figures are the sums of its months'.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q

from branches.access import get_organisation_for, scope_roots, visible_branches
from branches.models import Organisation, OrgLevel
from compliance import stamps
from compliance.grid import (
    COUNTS_TIMEOUT,
    Tally,
    counts_by_branch,
    ending_within,
    grid_since,
    obligation_grid,
    summed,
)
from compliance.local import fixed_theme_day, switched_off_since
from compliance.models import Flag
from compliance.periods import STATE_LABELS, Period, PeriodKind, State, period_containing
from compliance.rules import CATALOGUE
from compliance.selectors import WATCH_RULES, by_priority
from meetings.models import Meeting
from members import pipeline
from members.dues import next_month
from members.models import Category, Member, PipelineEvent

SCOPE_LEVELS = (OrgLevel.PARTY_COMMITTEE, OrgLevel.GENERAL_BRANCH, OrgLevel.BRANCH)
PERIOD_KINDS = {PeriodKind.MONTH: "月度", PeriodKind.QUARTER: "季度", PeriodKind.YEAR: "年度"}
TREND_MONTHS = 12
PIPELINE_DAYS = 30
LIST_LENGTH = 8

# Member lists of the overview: the open flags of these rules, in the work list (/todo/).
MEMBER_LISTS = (
    ("absence_ladder", "无故不参加组织生活"),
    ("dues_arrears", "党费欠缴"),
    ("mobile_member", "流动党员（外出满3个月未开证明、满6个月）"),
)
# What a branch home lists under 需要关注的党员 (the birthdays are greetings, not problems).
BRANCH_MEMBER_RULES = (*WATCH_RULES, "political_birthday")


# ---------------------------------------------------------------- scope and period


@dataclass
class Scope:
    """What an overview covers: the user's chosen organisation, or their whole view scope."""

    roots: list
    org: Organisation | None  # the organisation asked for (None: the user's whole scope)
    rows: list = field(default_factory=list)  # units the overview breaks down by (children or roots)
    branches: list = field(default_factory=list)
    _tokens: tuple | None = None

    @property
    def tokens(self):
        """The branches' GridStamp tokens (compliance.stamps), read once per request."""
        if self._tokens is None:
            self._tokens = stamps.tokens(self.branch_ids)
        return self._tokens

    @property
    def digest(self):
        """Changes when anything the overview reads changes in any of the scope's branches."""
        return stamps.digest(self.branch_ids, self.tokens)

    @property
    def title(self):
        return "、".join(r.name for r in self.roots) if self.roots else "（无）"

    @property
    def branch_ids(self):
        return [b.pk for b in self.branches]

    @property
    def is_branch(self):
        return len(self.roots) == 1 and self.roots[0].level == OrgLevel.BRANCH

    def under(self, lookup="branch__path"):
        """Q for rows whose organisation (through `lookup`) lies in the scope."""
        condition = Q(pk__in=[])
        for root in self.roots:
            condition |= Q(**{f"{lookup}__startswith": root.path})
        return condition

    def row_of(self, path):
        for row in self.rows:
            if path.startswith(row.path):
                return row
        return None


def resolve_scope(user, org_pk=None):
    """The scope of an overview. An organisation outside the user's scope is a 404 (get_organisation_for);
    a user whose scope holds no 党委, 党总支 or 党支部 (a 党小组长, a 党员) may not have one (403)."""
    if org_pk is not None:
        roots = [get_organisation_for(user, org_pk, levels=SCOPE_LEVELS)]
        org = roots[0]
    else:
        roots = sorted((r for r in scope_roots(user) if r.level in SCOPE_LEVELS), key=lambda r: r.path)
        org = None
        if not roots and not user.is_superuser:  # a superuser on a fresh install sees the empty state
            raise PermissionDenied("您的角色没有可查看的党组织概况。")
    scope = Scope(roots=roots, org=org)
    if len(roots) == 1 and roots[0].level != OrgLevel.BRANCH:
        scope.rows = list(
            Organisation.objects.get_children(roots[0]).filter(level__in=SCOPE_LEVELS).order_by("path")
        )
    else:
        scope.rows = roots
    scope.branches = list(
        visible_branches(user)
        .filter(scope.under("path"))
        .only("pk", "path", "name", "dissolved_on")
        .order_by("path")
    )
    used = {scope.row_of(b.path).pk for b in scope.branches if scope.row_of(b.path)}
    scope.rows = [r for r in scope.rows if r.pk in used]
    return scope


def chosen_period(kind, on):
    kind = kind if kind in PERIOD_KINDS else PeriodKind.MONTH
    return period_containing(kind, on)


def months_of(period):
    months, month = [], Period(period.start, PeriodKind.MONTH)
    while month.start <= period.end:
        months.append(month)
        month = month.next()
    return months


# ---------------------------------------------------------------- the township overview


@dataclass
class RuleFigure:
    rule: object
    tally: object


# Shapes as well as colours, so that no reader depends on telling colours apart.
SYMBOLS = {State.MET: "✓", State.DUE: "○", State.DUE_SOON: "!", State.OVERDUE: "×", State.NOT_APPLICABLE: "–"}


@dataclass
class HeatCell:
    month: Period
    state: str  # a State value, or "" when no obligation ends in that month
    met: int = 0
    applicable: int = 0
    overdue: int = 0

    @property
    def symbol(self):
        return SYMBOLS.get(self.state, "")

    @property
    def label(self):
        return STATE_LABELS.get(self.state, "")

    @property
    def count(self):
        """已完成/应完成 as the cell shows it, one obligation or many; "" when none applies (–)."""
        return f"{self.met}/{self.applicable}" if self.applicable else ""


def heat_state(t):
    """One state for a cell holding several obligations: overdue wins, then open, then met."""
    if t is None:
        return ""
    if t.overdue:
        return State.OVERDUE
    if t.due_soon:
        return State.DUE_SOON
    if t.due:
        return State.DUE
    if t.met:
        return State.MET
    return State.NOT_APPLICABLE


@dataclass(frozen=True)
class OverviewCounts:
    """The overview's figures as plain values: cached whole, per scope, day, period and rule, under a
    digest of the scope's GridStamp tokens (so any write in the scope makes a new entry)."""

    rule: str | None  # the rule the heatmap shows (None: all rules)
    rules_seen: frozenset
    by_rule: dict  # rule code -> Tally for the period
    by_branch: dict  # branch id -> Tally for the period (branches with obligations in it)
    heat: dict  # (row pk, month number) -> Tally for the year, of the chosen rule
    trend: dict  # (year, month) -> Tally


def trend_months_to(as_of):
    """The trend's months: the last TREND_MONTHS complete ones (the month in progress is the headline's,
    not a dip in the line)."""
    months = [Period(date(as_of.year, as_of.month, 1), PeriodKind.MONTH).previous()]
    for _ in range(TREND_MONTHS - 1):
        months.insert(0, months[0].previous())
    return months


def first_counted(period, as_of):
    """The first day whose obligations the overview of the period counts: the trend's, the year's or the
    period's start, whichever is earliest."""
    return min(period.start, trend_months_to(as_of)[0].start, date(period.start.year, 1, 1))


def overview(scope, *, period, as_of, rule=None):
    """The figures of the overview: everything on the page except the member lists."""
    trend_months = trend_months_to(as_of)
    year = Period(date(period.start.year, 1, 1), PeriodKind.YEAR)
    rule = rule if rule in CATALOGUE else None

    def figures():
        first = first_counted(period, as_of)
        counts = counts_by_branch(
            scope.branch_ids, since=grid_since(first), as_of=as_of, ending_from=first, tokens=scope.tokens
        )
        row_by_branch = {b.pk: scope.row_of(b.path).pk for b in scope.branches}
        return _overview_counts(counts, row_by_branch, period=period, year=year, trend_months=trend_months,
                                rule=rule)  # fmt: skip

    key = f"overview:{scope.digest}:{period.kind}:{period.start}:{as_of}:{rule}"
    return _present(scope, cached(key, figures), year=year, trend_months=trend_months)


WARM_CHUNK = (
    300  # branches evaluated at a time, so that the worker holds one chunk's obligations, not a district's
)


def warm_counts(*, as_of):
    """Count every branch's obligations for the overview as it first opens on as_of (this month, the
    trend, the year), each under the key the page will look for. Run at night, so that the first
    morning view of a county does not evaluate 1,700 branches while someone waits. Returns how many
    branches were counted."""
    first = first_counted(chosen_period(None, as_of), as_of)
    ids = list(Organisation.objects.filter(level=OrgLevel.BRANCH).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), WARM_CHUNK):
        counts_by_branch(
            ids[start : start + WARM_CHUNK], since=grid_since(first), as_of=as_of, ending_from=first
        )
    return len(ids)


def cached(key, compute):
    """compute(), kept in the cache under a key that names the state of what it read (see Scope.digest)."""
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, COUNTS_TIMEOUT)
    return value


def _overview_counts(counts, row_by_branch, *, period, year, trend_months, rule):
    """Add up the branches' counts (grid.counts_by_branch) into the overview's groups."""
    seen = set()
    for by_month in counts.values():
        for by_code in by_month.values():
            seen.update(by_code)
    rule = rule if rule in seen else None
    in_period = [(m.start.year, m.start.month) for m in months_of(period)]
    in_year = [(year.start.year, month) for month in range(1, 13)]
    in_trend = [(m.start.year, m.start.month) for m in trend_months]
    by_rule, by_branch, heat, trend = (defaultdict(list) for _ in range(4))
    for branch_id, by_month in counts.items():
        for month in in_period:
            for code, n in by_month.get(month, {}).items():
                by_rule[code].append(n)
                by_branch[branch_id].append(n)
        row = row_by_branch[branch_id]
        for month in in_year:
            by_code = by_month.get(month)
            if by_code and rule is None:
                heat[(row, month[1])] += by_code.values()
            elif by_code and rule in by_code:
                heat[(row, month[1])].append(by_code[rule])
        for month in in_trend:
            trend[month] += by_month.get(month, {}).values()

    def add_up(groups):
        return {key: summed(tuples) for key, tuples in groups.items()}

    return OverviewCounts(
        rule, frozenset(seen), add_up(by_rule), add_up(by_branch), add_up(heat), add_up(trend)
    )


def _present(scope, figures, *, year, trend_months):
    months = months_of(year)
    heatmap = [
        (row, [_heat_cell(m, figures.heat.get((row.pk, m.start.month))) for m in months])
        for row in scope.rows
    ]
    names = {b.pk: b for b in scope.branches}
    most_overdue = sorted(
        ((names[pk], t) for pk, t in figures.by_branch.items() if t.overdue),
        key=lambda item: (-item[1].overdue, item[0].path),
    )
    by_rule = figures.by_rule
    return {
        "total": summed([t.counts for t in by_rule.values()]),
        "figures": [RuleFigure(CATALOGUE[code], by_rule[code]) for code in CATALOGUE if code in by_rule],
        "rule": figures.rule,
        "rules": [CATALOGUE[code] for code in CATALOGUE if code in figures.rules_seen],
        "year": year,
        "months": months,
        "heatmap": [(row, row_cells) for row, row_cells in heatmap if any(c.state for c in row_cells)],
        "trend": [(m, figures.trend.get((m.start.year, m.start.month), Tally())) for m in trend_months],
        "most_overdue": most_overdue[:LIST_LENGTH],
        "most_overdue_count": len(most_overdue),
    }


@dataclass(frozen=True)
class ObligationRow:
    cell: object
    look_on: date  # the day whose 本期事项 page shows this obligation and its records

    @property
    def symbol(self):
        return SYMBOLS[self.cell.state]

    @property
    def label(self):
        return STATE_LABELS[self.cell.state]


def obligation_list(scope, *, period, as_of, rule=None, state=None):
    """The obligations behind an overview figure (same grid, same period selection)."""
    cells = ending_within(obligation_grid(scope.branch_ids, since=grid_since(period.start), as_of=as_of),
                          period.start, period.end)  # fmt: skip
    if rule:
        cells = [c for c in cells if c.rule.code == rule]
    if state == "applicable":
        cells = [c for c in cells if c.state != State.NOT_APPLICABLE]
    elif state == "open":
        cells = [c for c in cells if c.state in (State.DUE, State.DUE_SOON)]
    elif state:
        cells = [c for c in cells if c.state == state]
    return [ObligationRow(c, min(c.period.end, as_of)) for c in cells]


def _heat_cell(month, t):
    if t is None:
        return HeatCell(month, "")
    return HeatCell(month, heat_state(t), t.met, t.applicable, t.overdue)


def members_by_category(scope):
    return cached(f"members:{scope.digest}", lambda: _members_by_category(scope))


def _members_by_category(scope):
    rows = (
        Member.objects.filter(scope.under(), on_roster=True)
        .values("category")
        .annotate(n=Count("pk"))
        .values_list("category", "n")
    )
    counts = dict(rows)
    return [(value, label, counts.get(value, 0)) for value, label in Category.choices]


def backfill_figures(scope, *, period):
    key = f"backfill:{scope.digest}:{period.kind}:{period.start}"
    return cached(key, lambda: _backfill_figures(scope, period=period))


def _backfill_figures(scope, *, period):
    """Records held in the period, and how many were entered late (补录)."""
    return Meeting.objects.filter(
        scope.under(), voided_at__isnull=True, held_on__gte=period.start, held_on__lte=period.end
    ).aggregate(held=Count("pk"), backfill=Count("pk", filter=Q(is_backfill=True)))


def open_member_flags(scope):
    return Flag.objects.filter(scope.under(), resolved_on__isnull=True)


def member_lists(scope):
    """Cached until flags change or anything in the scope does (names and branches shown in the lists)."""
    return cached(f"lists:{scope.digest}:{stamps.flags_token()}", lambda: _member_lists(scope))


def _member_lists(scope):
    """{rule: (count, first flags)} for the overview's lists, plus the watch-list and committee terms."""
    flags = open_member_flags(scope)
    counts = dict(
        flags.filter(rule__in=[r for r, _ in MEMBER_LISTS] + ["committee_term"])
        .values("rule")
        .annotate(n=Count("pk"))
        .values_list("rule", "n")
    )
    lists = []
    for code, label in (*MEMBER_LISTS, ("committee_term", "支委会届满或即将届满")):
        first = list(by_priority(flags.filter(rule=code)).select_related("branch", "member")[:LIST_LENGTH])
        lists.append({"rule": code, "label": label, "count": counts.get(code, 0), "flags": first})
    watch = flags.filter(rule__in=WATCH_RULES, member__isnull=False).aggregate(
        members=Count("member", distinct=True), flags=Count("pk")
    )
    return lists, watch


@dataclass(frozen=True)
class PipelineItem:
    member_id: int
    name: str
    branch_name: str
    category: str
    deadline: pipeline.Deadline
    overdue: bool

    @property
    def category_label(self):
        return Category(self.category).label


def pipeline_deadlines(scope, *, as_of, days=PIPELINE_DAYS):
    key = f"pipeline:{scope.digest}:{as_of}:{days}"
    return cached(key, lambda: _pipeline_deadlines(scope, as_of=as_of, days=days))


def _pipeline_deadlines(scope, *, as_of, days):
    """Development deadlines not yet met that fall due within `days` (or already passed), soonest first.

    Read as plain rows: a county has thousands of applicants and 预备党员, and only a few are listed."""
    people = (
        Member.objects.filter(scope.under(), on_roster=True, status="normal",
                              category__in=[Category.APPLICANT, Category.PROBATIONARY])
        .order_by("pk")
        .values_list("pk", "name", "branch__name", "category", "applied_on", "activist_on", "joined_on",
                     "confirmed_on")
    )  # fmt: skip
    events = defaultdict(dict)
    for member_id, kind, happened_on, months in (
        PipelineEvent.objects.filter(
            member__in=people.values("pk"), kind__in=["talk", "approval", "extension"]
        )
        .order_by("happened_on")
        .values_list("member_id", "kind", "happened_on", "months")
    ):
        events[member_id].setdefault(kind, happened_on)
        if kind == "extension":  # each extension of the 预备期 adds its months
            known = events[member_id]
            known["extension_months"] = known.get("extension_months", 0) + (months or 0)
    horizon = as_of + timedelta(days=days)
    items = []
    for pk, name, branch_name, category, applied_on, activist_on, joined_on, confirmed_on in people:
        for deadline in pipeline.deadlines(
            category=category, applied_on=applied_on, talked_on=events[pk].get("talk"), activist_on=activist_on,
            joined_on=joined_on, approved_on=events[pk].get("approval"), confirmed_on=confirmed_on,
            extension_months=events[pk].get("extension_months", 0),
        ):  # fmt: skip
            if not deadline.is_met and deadline.code != "activist_year" and deadline.due_on <= horizon:
                items.append(PipelineItem(pk, name, branch_name, category, deadline, deadline.due_on < as_of))
    return sorted(items, key=lambda item: (item.deadline.due_on, item.name))


# ---------------------------------------------------------------- the branch home


def theme_day_held(branch, *, on):
    """The first non-void 主题党日 held in the month of `on` for the branch, or None. The rule is the
    branch's (RULES.md): one recorded for any of its 党小组 counts for it, as the engine counts it."""
    first = on.replace(day=1)
    return (
        Meeting.objects.filter(
            branch=branch,
            voided_at__isnull=True,
            types__type="theme_day",
            held_on__gte=first,
            held_on__lt=next_month(first),
        )
        .order_by("held_on", "pk")
        .first()
    )


def next_theme_day(branch, *, on):
    """(day, off, held): the branch's next fixed 主题党日 on or after `on` — next month's once this month's
    has been held (`held`, the meeting) or its day has passed — and the date since which a local rule no
    longer checks the 主题党日 for the branch on that day (None: checked): a branch home then announces
    no day."""
    held = theme_day_held(branch, on=on) if branch is not None else None
    day = fixed_theme_day(branch, on)
    if day < on or held is not None:
        day = fixed_theme_day(branch, next_month(on))
    off = switched_off_since(branch, "theme_day", on=day) if branch is not None else None
    return day, off, held


def with_records_warnings(rows, user_flags, branch):
    """Set each checklist row's .warnings: the open 组织生活会材料不全 flags of the records that meet it, as
    the engine raised them (read, not judged again), so that a ✓ does not hide what is missing. One
    query."""
    by_record = {}
    for row in rows:
        row.warnings = []
        if row.rule.code == "org_life_meeting":
            by_record.update({m.pk: row for m in row.records})
    if by_record:
        flags = user_flags.filter(branch=branch, rule="org_life_records", meeting_id__in=list(by_record))
        for flag in flags.order_by("period_end", "pk"):
            by_record[flag.meeting_id].warnings.append(flag)
    return rows


def members_needing_attention(user_flags, branch):
    """[(member, [flags])] of the branch's open member flags, the most pressing members first."""
    flags = by_priority(
        user_flags.filter(branch=branch, member__isnull=False, rule__in=BRANCH_MEMBER_RULES)
    ).select_related("member")
    grouped = {}
    for flag in flags:
        grouped.setdefault(flag.member_id, (flag.member, []))[1].append(flag)
    return list(grouped.values())
