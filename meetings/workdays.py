"""Working days in mainland China, for 补录 (backfill) detection.

The State Council publishes each year's holidays and make-up working days in the
autumn before; chinesecalendar carries them (2004-2026 in the pinned release). For a
year it does not yet know, weekends alone count as days off: a record is then judged
a little more strictly around holidays, never more leniently. Upgrading the package
brings the new year's table.
"""

from datetime import date, timedelta

import chinese_calendar


def is_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    count, day = 0, start + timedelta(days=1)
    while day <= end:
        count += is_workday(day)
        day += timedelta(days=1)
    return count


def last_weekday_of_month(year: int, month: int, weekday: int) -> date:
    """E.g. the last Friday (weekday 4): the 街道 default 主题党日."""
    first_next = date(year + month // 12, month % 12 + 1, 1)
    day = first_next - timedelta(days=1)
    return day - timedelta(days=(day.weekday() - weekday) % 7)
