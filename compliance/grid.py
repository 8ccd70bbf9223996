"""Obligations of many branches over a stretch of time, computed on read: the one source of the
figures that the checklist, the dashboards and the 台账 show.

`obligation_grid` runs a fixed number of queries whatever the number of branches (the engine's
set-based reads), then evaluates the pure rules in memory. `tally` turns cells into the figures
a dashboard or a ledger prints, so that every page and every workbook counts the same way.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass

from django.core.cache import cache

from . import engine, stamps
from .periods import State
from .rules import Obligation, Rule


@dataclass(frozen=True)
class Cell:
    branch_id: int
    branch_name: str
    group_id: int | None
    unit_name: str  # the branch's or the group's name
    rule: Rule
    obligation: Obligation

    @property
    def period(self):
        return self.obligation.period

    @property
    def state(self):
        return self.obligation.state


def obligation_grid(branch_ids, *, since, as_of):
    """Every meeting-rule obligation of the branches (and their groups) for periods ending on or after
    `since`, judged as of `as_of`. branch_ids=None means every branch."""
    units = engine.read_units(branch_ids, since=since, as_of=as_of)
    names = {b.pk: b.name for b in units.branches}
    return [
        Cell(branch_id, names[branch_id], group_id, org.name, rule, obligation)
        for branch_id, group_id, org, rule, obligation in engine.obligations(units, as_of=as_of, since=since)
    ]


@dataclass(frozen=True)
class Tally:
    """How a set of obligations stands. Not-applicable ones are left out of the rate."""

    met: int = 0
    due: int = 0
    due_soon: int = 0
    overdue: int = 0
    not_applicable: int = 0

    @property
    def applicable(self):
        return self.met + self.due + self.due_soon + self.overdue

    @property
    def closed(self):
        """Obligations whose outcome is settled: met, or overdue (the period ended without)."""
        return self.met + self.overdue

    @property
    def rate(self):
        """Share met among the applicable ones, in percent (None when nothing applies)."""
        return round(100 * self.met / self.applicable, 1) if self.applicable else None

    @property
    def counts(self):
        return (self.met, self.due, self.due_soon, self.overdue, self.not_applicable)


STATE_ORDER = (State.MET, State.DUE, State.DUE_SOON, State.OVERDUE, State.NOT_APPLICABLE)


def tally(cells):
    counts = Counter(cell.state for cell in cells)
    return Tally(*(counts[state] for state in STATE_ORDER))


def summed(count_tuples):
    """The Tally of many Tally.counts tuples (summed column by column)."""
    return Tally(*map(sum, zip(*count_tuples, strict=True))) if count_tuples else Tally()


def tally_by(cells, key):
    """{key(cell): Tally} e.g. key=lambda c: c.rule.code, or lambda c: (c.branch_id, c.period.start)."""
    groups = {}
    for cell in cells:
        groups.setdefault(key(cell), []).append(cell)
    return {k: tally(v) for k, v in groups.items()}


def ending_within(cells, start, end):
    """The cells whose period ends between start and end (inclusive).

    Every obligation belongs to the one month its period ends in, so month, quarter and year
    figures add up: a year's tally is the sum of its months' (a quarterly 党员大会 counts in the
    quarter's last month, a yearly 组织生活会 in December). Dashboards and ledgers select periods
    with this one function."""
    return [cell for cell in cells if start <= cell.period.end <= end]


def grid_since(start):
    """The `since` that obligation_grid needs for every period ending on or after `start`: 1 January
    of its year (a yearly period ending later counts meetings from its first day)."""
    return start.replace(month=1, day=1)


# ---------------------------------------------------------------- counted, and cached per branch

# Keys carry the day judged (as_of), so yesterday's entries are never read again and age out.
COUNTS_TIMEOUT = 36 * 3600


def count_cells(cells, *, ending_from=None):
    """{branch_id: {(year, month): {rule_code: Tally.counts}}}: the cells counted by the month their period
    ends in, which is all that the overview's figures select on (see ending_within). Cells whose period
    ends before `ending_from` are left out."""
    grouped = defaultdict(lambda: defaultdict(lambda: defaultdict(Counter)))
    for cell in cells:
        end = cell.period.end
        if ending_from is None or end >= ending_from:
            grouped[cell.branch_id][(end.year, end.month)][cell.rule.code][cell.state] += 1
    return {
        branch_id: {
            month: {code: tuple(c[state] for state in STATE_ORDER) for code, c in by_code.items()}
            for month, by_code in by_month.items()
        }
        for branch_id, by_month in grouped.items()
    }


def counts_by_branch(branch_ids, *, since, as_of, ending_from=None, tokens=None):
    """count_cells(obligation_grid(branch_ids, …)), each branch's part cached under its GridStamp token:
    after a write only the written branch is evaluated again, whatever the size of the scope.
    `tokens`: stamps.tokens(branch_ids) when the caller has read them already."""
    every, own = tokens or stamps.tokens(branch_ids)
    span = f"{since:%Y%m%d}:{ending_from or since:%Y%m%d}:{as_of:%Y%m%d}"
    keys = {pk: f"grid:{pk}:{own.get(pk, 0)}:{every}:{span}" for pk in branch_ids}
    found = cache.get_many(list(keys.values()))
    missing = [pk for pk, key in keys.items() if key not in found]
    if missing:
        cells = obligation_grid(missing, since=since, as_of=as_of)
        computed = count_cells(cells, ending_from=ending_from)
        fresh = {keys[pk]: computed.get(pk, {}) for pk in missing}
        cache.set_many(fresh, COUNTS_TIMEOUT)
        found.update(fresh)
    return {pk: found[keys[pk]] for pk in branch_ids}
