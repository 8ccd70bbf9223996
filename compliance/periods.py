"""Calendar periods and working days for compliance, in Asia/Shanghai. No Django imports.

A period is a calendar month, quarter, half-year or year. An obligation for a unit
(branch, group, committee) starts with the first *full* period after the unit was
created or the rule took effect for it, and stops accruing once the unit is dissolved:
a period counts only if the unit existed on every day of it.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
DUE_SOON_DAYS = 7


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half_year"
    YEAR = "year"


PERIOD_LABELS = {
    PeriodKind.MONTH: "月",
    PeriodKind.QUARTER: "季度",
    PeriodKind.HALF_YEAR: "半年",
    PeriodKind.YEAR: "年",
}
MONTHS_IN = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.HALF_YEAR: 6, PeriodKind.YEAR: 12}


class State(StrEnum):
    MET = "met"
    DUE = "due"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    NOT_APPLICABLE = "not_applicable"


STATE_LABELS = {
    State.MET: "已完成",
    State.DUE: "待完成",
    State.DUE_SOON: "即将到期",
    State.OVERDUE: "逾期未完成",
    State.NOT_APPLICABLE: "不适用",
}


def _add_months(first_of_month, months):
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, order=True)
class Period:
    start: date
    kind: PeriodKind

    @property
    def end(self):
        """The last day of the period (inclusive)."""
        return _end(self.start, self.kind)

    @property
    def label(self):
        year = self.start.year
        if self.kind == PeriodKind.MONTH:
            return f"{year}年{self.start.month}月"
        if self.kind == PeriodKind.QUARTER:
            return f"{year}年第{(self.start.month - 1) // 3 + 1}季度"
        if self.kind == PeriodKind.HALF_YEAR:
            return f"{year}年{'上' if self.start.month == 1 else '下'}半年"
        return f"{year}年"

    def contains(self, day):
        return self.start <= day <= self.end

    def next(self):
        return _next(self.start, self.kind)

    def previous(self):
        return Period(_add_months(self.start, -MONTHS_IN[self.kind]), self.kind)


# Periods are immutable and a refresh asks for the same few hundred of them hundreds of thousands
# of times: these are cached.
@lru_cache(maxsize=8192)
def _end(start, kind):
    return _add_months(start, MONTHS_IN[kind]) - timedelta(days=1)


@lru_cache(maxsize=8192)
def _next(start, kind):
    return Period(_add_months(start, MONTHS_IN[kind]), kind)


@lru_cache(maxsize=65536)
def period_containing(kind, day):
    kind = PeriodKind(kind)
    months = MONTHS_IN[kind]
    start_month = (day.month - 1) // months * months + 1
    return Period(date(day.year, start_month, 1), kind)


def first_full_period(kind, starts_on):
    """The first period that begins on or after the day the obligation starts."""
    period = period_containing(kind, starts_on)
    return period if period.start == starts_on else period.next()


def obligation_periods(kind, *, starts_on, as_of, ends_on=None, window_start=None, ends_before=None):
    """Every period the obligation accrues in, up to the one containing as_of.

    ends_on is the dissolution date: the period containing it, and later ones, do not accrue.
    window_start skips periods that ended before it (closed periods a refresh leaves standing);
    ends_before, those that end on or after it (a refresh wants only what is over or due soon).
    """
    period = first_full_period(kind, starts_on)
    if window_start is not None and period.end < window_start:
        period = max(period, period_containing(kind, window_start))
    return list(_periods_from(period, as_of, ends_on, ends_before))


def clear_day_caches():
    """Forget what is cached for a day (`_periods_from` takes as_of): for measuring a night as it comes."""
    _periods_from.cache_clear()


# Most units of a county were founded before the window a refresh judges, so they share one first
# period, and their lists of periods are the same few: built once each.
@lru_cache(maxsize=4096)
def _periods_from(period, as_of, ends_on, ends_before):
    periods = []
    while period.start <= as_of and (ends_on is None or period.end < ends_on):
        if ends_before is not None and period.end >= ends_before:
            break
        periods.append(period)
        period = period.next()
    return tuple(periods)


def obligation_state(period, *, required, held, as_of):
    """MET when enough records count; OVERDUE once the period has ended without them; DUE_SOON in its
    last 7 days; DUE before that."""
    if held >= required:
        return State.MET
    if as_of > period.end:
        return State.OVERDUE
    if (period.end - as_of).days < DUE_SOON_DAYS:
        return State.DUE_SOON
    return State.DUE


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar day of an aware moment (periods are always Shanghai periods)."""
    if moment.tzinfo is None:
        raise ValueError("需要带时区的时间")
    return moment.astimezone(SHANGHAI).date()


def is_workday(day: date) -> bool:
    """Mainland China working days: the State Council table via chinesecalendar (2004-2026 in the
    pinned release); for a year it does not know yet, weekends alone are days off, so a record is
    then judged a little more strictly around holidays, never more leniently."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    if end <= start:
        return 0  # also keeps date.max + 1 day from overflowing
    count, day = 0, start + timedelta(days=1)
    while day <= end:
        count += is_workday(day)
        day += timedelta(days=1)
    return count


def last_weekday_of_month(year: int, month: int, weekday: int) -> date:
    """E.g. the last Friday (weekday 4): the 街道 default 主题党日."""
    day = _add_months(date(year, month, 1), 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() - weekday) % 7)
