"""集中学习培训 on plain values: what a member owes for a year, and how the year stands. No database."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from compliance.periods import State
from compliance.rules import (
    COMMITTEE_TRAINING_HOURS,
    TRAINING_HOURS,
    hours_text,
    training_due,
    training_hours_for,
    training_months,
    training_state,
)
from compliance.training import _due


def owed(year, starts_on, exemptions=(), hours=TRAINING_HOURS):
    return training_due(year, starts_on=starts_on, exemptions=exemptions, hours=hours)


@pytest.mark.parametrize(
    ("starts_on", "months", "hours"),
    [
        (date(2005, 7, 1), 12, 32),  # a member of long standing
        (date(2025, 1, 1), 12, 32),  # from the first day of the year: the whole year
        (date(2025, 1, 2), 11, 30),  # 32 × 11 / 12 = 29.3, rounded up
        (date(2025, 7, 1), 6, 16),
        (date(2025, 7, 15), 5, 14),  # the brief's example: August to December, 13.3 → 14
        (date(2025, 12, 1), 1, 3),  # 2.7 → 3
    ],
)
def test_a_member_owes_pro_rata_by_the_whole_months_left(starts_on, months, hours):
    due = owed(2025, starts_on)
    assert (due.months, due.hours, due.reason) == (months, hours, "")


def test_every_day_of_a_leap_and_a_common_year_gives_the_whole_months_left_rounded_up():
    for year in (2024, 2025):
        day, previous = date(year, 1, 1), TRAINING_HOURS
        while day.year == year:
            due = owed(year, day)
            whole = 12 - day.month + (day.day == 1)
            assert due.months == whole, day
            assert due.hours == -(-TRAINING_HOURS * whole // 12), day
            assert due.hours <= previous  # joining later never owes more
            previous = due.hours
            day += timedelta(days=1)


def test_nothing_is_owed_with_the_reason_when_the_year_has_no_whole_month():
    assert owed(2025, date(2025, 12, 2)) == owed(2025, date(2025, 12, 31))
    assert owed(2025, date(2025, 12, 2)).hours == 0
    assert "不满一个整月" in owed(2025, date(2025, 12, 2)).reason
    assert owed(2025, date(2026, 1, 1)).hours == 0 and "尚未入党" in owed(2025, date(2026, 1, 1)).reason
    assert owed(2025, None).hours == 0


def test_a_setting_that_turns_the_rule_off_owes_nothing_and_says_so():
    due = owed(2025, date(2005, 7, 1), hours=None)
    assert due.hours == 0 and "不检查" in due.reason


def test_the_setting_hours_are_what_is_prorated():
    assert owed(2025, date(2005, 7, 1), hours=40).hours == 40
    assert owed(2025, date(2025, 7, 1), hours=56).hours == 28
    assert owed(2025, date(2025, 10, 1), hours=56).hours == 14


@pytest.mark.parametrize(
    ("exemptions", "months"),
    [
        ([(date(2020, 3, 1), None)], 0),  # 年老体弱 with no end: the whole year
        ([(date(2025, 1, 1), date(2025, 6, 30))], 6),  # 产假 for the first half
        ([(date(2025, 1, 1), date(2025, 6, 29))], 7),  # June not wholly covered: owed
        ([(date(2025, 1, 10), date(2025, 6, 30))], 7),  # January not wholly covered: owed
        ([(date(2025, 1, 1), date(2025, 3, 31)), (date(2025, 4, 1), date(2025, 12, 31))], 0),  # end to end
        ([(date(2025, 1, 1), date(2025, 3, 30)), (date(2025, 4, 1), date(2025, 12, 31))], 1),  # 31 March owed
        ([(date(2025, 4, 1), date(2025, 12, 31)), (date(2025, 1, 1), date(2025, 3, 31))], 0),  # any order
        ([(date(2025, 2, 1), date(2025, 5, 31)), (date(2025, 3, 1), date(2025, 4, 30))], 8),  # overlapping
        ([(date(2024, 1, 1), date(2024, 12, 31))], 12),  # another year's
        ([(date(2025, 11, 15), None)], 11),  # from mid-November: December exempt, November owed
    ],
)
def test_months_wholly_inside_an_exemption_are_not_owed(exemptions, months):
    due = owed(2025, date(2005, 7, 1), exemptions)
    assert due.months == months
    assert due.hours == -(-TRAINING_HOURS * months // 12)
    if months == 0:
        assert "免于参加组织生活" in due.reason


def test_february_of_a_leap_year_is_covered_only_to_its_29th():
    assert 2 in training_months(
        2024, starts_on=date(2000, 1, 1), exemptions=[(date(2024, 2, 1), date(2024, 2, 28))]
    )
    assert 2 not in training_months(
        2024, starts_on=date(2000, 1, 1), exemptions=[(date(2024, 2, 1), date(2024, 2, 29))]
    )
    assert 2 not in training_months(
        2025, starts_on=date(2000, 1, 1), exemptions=[(date(2025, 2, 1), date(2025, 2, 28))]
    )


def test_joining_and_an_exemption_together():
    due = owed(2025, date(2025, 4, 1), [(date(2025, 6, 1), date(2025, 8, 31))])
    assert due.months == 6 and due.hours == 16  # April, May, September–December


def test_committee_hours_apply_only_to_the_committee_and_only_when_turned_on():
    assert training_hours_for(base=32) == 32
    assert training_hours_for(base=32, committee=None, on_committee=True) == 32
    assert training_hours_for(base=32, committee=COMMITTEE_TRAINING_HOURS, on_committee=False) == 32
    assert training_hours_for(base=32, committee=COMMITTEE_TRAINING_HOURS, on_committee=True) == 56
    assert training_hours_for(base=40, committee=24, on_committee=True) == 40  # never fewer than everyone's
    assert training_hours_for(base=None, committee=56, on_committee=True) is None  # the rule is off


@pytest.mark.parametrize(
    ("done", "as_of", "state"),
    [
        (Decimal("32.0"), date(2025, 6, 1), State.MET),
        (Decimal("40"), date(2026, 3, 1), State.MET),
        (Decimal("31.9"), date(2025, 11, 30), State.DUE),
        (Decimal("31.9"), date(2025, 12, 1), State.DUE_SOON),
        (Decimal("31.9"), date(2025, 12, 31), State.DUE_SOON),
        (Decimal("31.9"), date(2026, 1, 1), State.OVERDUE),
        (Decimal("0"), date(2027, 5, 1), State.OVERDUE),
    ],
)
def test_a_year_is_due_soon_in_december_and_overdue_once_over(done, as_of, state):
    assert training_state(owed(2025, date(2005, 7, 1)), done, year=2025, as_of=as_of) == state


def test_nothing_owed_is_not_applicable_whatever_was_done():
    due = owed(2025, date(2025, 12, 20))
    assert training_state(due, Decimal("0"), year=2025, as_of=date(2026, 2, 1)) == State.NOT_APPLICABLE


def test_hours_are_written_as_a_person_writes_them():
    assert [hours_text(h) for h in (Decimal("18.0"), Decimal("18.5"), Decimal("0"), Decimal("100.0"), 32)] == [
        "18", "18.5", "0", "100", "32",
    ]  # fmt: skip


def test_the_remembered_due_is_training_due_for_every_start_of_the_year():
    exempt = ((date(2025, 3, 10), date(2025, 6, 30)),)
    for offset in range(-3, 370):
        starts_on = date(2025, 1, 1) + timedelta(days=offset)
        for exemptions in ((), exempt):
            assert _due(2025, starts_on, exemptions, 32) == training_due(
                2025, starts_on=starts_on, exemptions=exemptions, hours=32
            ), (starts_on, exemptions)
