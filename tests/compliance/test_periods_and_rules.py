"""The pure compliance core: periods, states, the catalogue, evaluation and the member ladders."""

from datetime import UTC, date, datetime

import pytest

from compliance import rules
from compliance.periods import (
    Period,
    PeriodKind,
    State,
    first_full_period,
    local_date,
    obligation_periods,
    obligation_state,
    period_containing,
)
from compliance.rules import CATALOGUE, MemberMonth, Unit, absence_run, dues_step, evaluate, ladder_step


@pytest.mark.parametrize(
    ("kind", "day", "start", "end", "label"),
    [
        ("month", date(2024, 2, 10), date(2024, 2, 1), date(2024, 2, 29), "2024年2月"),
        ("month", date(2026, 2, 28), date(2026, 2, 1), date(2026, 2, 28), "2026年2月"),
        ("month", date(2026, 12, 31), date(2026, 12, 1), date(2026, 12, 31), "2026年12月"),
        ("quarter", date(2026, 3, 31), date(2026, 1, 1), date(2026, 3, 31), "2026年第1季度"),
        ("quarter", date(2026, 4, 1), date(2026, 4, 1), date(2026, 6, 30), "2026年第2季度"),
        ("quarter", date(2026, 11, 23), date(2026, 10, 1), date(2026, 12, 31), "2026年第4季度"),
        ("half_year", date(2026, 6, 30), date(2026, 1, 1), date(2026, 6, 30), "2026年上半年"),
        ("half_year", date(2026, 7, 1), date(2026, 7, 1), date(2026, 12, 31), "2026年下半年"),
        ("year", date(2024, 2, 29), date(2024, 1, 1), date(2024, 12, 31), "2024年"),
    ],
)
def test_period_boundaries(kind, day, start, end, label):
    period = period_containing(kind, day)
    assert (period.start, period.end, period.label) == (start, end, label)
    assert period.contains(day) and period.contains(start) and period.contains(end)
    assert not period.contains(period.next().start) and not period.contains(period.previous().end)


def test_next_and_previous_cross_years():
    q4 = period_containing("quarter", date(2026, 11, 23))
    assert q4.next() == Period(date(2027, 1, 1), PeriodKind.QUARTER)
    assert period_containing("month", date(2026, 1, 5)).previous() == Period(
        date(2025, 12, 1), PeriodKind.MONTH
    )


def test_obligations_start_with_the_first_full_period():
    assert first_full_period("month", date(2026, 3, 1)).start == date(2026, 3, 1)
    assert first_full_period("month", date(2026, 3, 2)).start == date(2026, 4, 1)
    assert first_full_period("quarter", date(2026, 2, 15)).start == date(2026, 4, 1)
    periods = obligation_periods("quarter", starts_on=date(2026, 2, 15), as_of=date(2026, 11, 23))
    assert [p.label for p in periods] == ["2026年第2季度", "2026年第3季度", "2026年第4季度"]


def test_a_refresh_asks_only_for_the_periods_that_end_before_a_day():
    def months(as_of, ends_before):
        periods = obligation_periods("month", starts_on=date(2026, 1, 1), as_of=as_of,
                                     window_start=date(2026, 10, 1), ends_before=ends_before)  # fmt: skip
        return [p.start.month for p in periods]

    assert months(date(2026, 11, 23), date(2026, 11, 30)) == [10]  # November ends on the 30th: not before it
    assert months(date(2026, 11, 24), date(2026, 12, 1)) == [10, 11]
    assert months(date(2026, 11, 24), None) == [10, 11]
    assert months(date(2026, 12, 1), date(2026, 12, 8)) == [10, 11]  # December is still running


def test_dissolved_units_stop_accruing():
    periods = obligation_periods(
        "month", starts_on=date(2026, 1, 1), as_of=date(2026, 11, 23), ends_on=date(2026, 4, 15)
    )
    assert [p.start.month for p in periods] == [1, 2, 3]
    whole_month = obligation_periods(
        "month", starts_on=date(2026, 1, 1), as_of=date(2026, 11, 23), ends_on=date(2026, 5, 1)
    )
    assert [p.start.month for p in whole_month] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("as_of", "held", "state"),
    [
        (date(2026, 11, 10), 0, State.DUE),
        (date(2026, 11, 23), 0, State.DUE),
        (date(2026, 11, 24), 0, State.DUE_SOON),
        (date(2026, 11, 30), 0, State.DUE_SOON),
        (date(2026, 12, 1), 0, State.OVERDUE),
        (date(2026, 12, 1), 1, State.MET),
        (date(2026, 11, 2), 1, State.MET),
    ],
)
def test_state_of_a_monthly_obligation(as_of, held, state):
    november = period_containing("month", date(2026, 11, 1))
    assert obligation_state(november, required=1, held=held, as_of=as_of) == state


def test_periods_are_shanghai_days():
    late_utc = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 01:00 on 1 December in Shanghai
    assert local_date(late_utc) == date(2026, 12, 1)
    with pytest.raises(ValueError):
        local_date(datetime(2026, 11, 30, 17, 0))


# ---------------------------------------------------------------- the catalogue


def test_every_rules_md_code_is_in_the_catalogue():
    codes = {
        "general_meeting", "committee_meeting", "group_meeting", "merged_meeting", "party_lecture",
        "secretary_lecture", "theme_day", "org_life_meeting", "member_review", "talk_coverage",
        "committee_term", "absence_ladder", "dues_arrears", "thought_report", "training_hours",
        "mobile_member", "lost_contact", "political_birthday",
    }  # fmt: skip
    assert set(CATALOGUE) == codes
    assert CATALOGUE["general_meeting"].frequency.label == "每季度至少1次"
    assert CATALOGUE["merged_meeting"].meeting_types == ("general_meeting",)


BRANCH = Unit(level="branch", founded_on=date(2010, 1, 1))


def test_quarterly_general_meeting_met_overdue_and_due():
    rule = CATALOGUE["general_meeting"]
    held = {date(2026, 1, 1): 1, date(2026, 4, 1): 2}
    result = evaluate(rule, BRANCH, held_by_period=held, as_of=date(2026, 11, 23))
    this_year = [o for o in result if o.period.start.year == 2026]
    assert [o.state for o in this_year] == [State.MET, State.MET, State.OVERDUE, State.DUE]


def test_not_applicable_says_why():
    small = Unit(level="branch", founded_on=date(2010, 1, 1), has_committee=False)
    [first, *_rest] = evaluate(
        CATALOGUE["committee_meeting"], small, held_by_period={}, as_of=date(2010, 3, 1)
    )
    assert (
        first.state == State.NOT_APPLICABLE
        and first.reason == "只设书记，未设支部委员会（正式党员不足7人的支部可不设）"
    )
    unrecorded = Unit(level="branch", founded_on=date(2010, 1, 1), has_committee=False, has_term=False)
    [first, *_rest] = evaluate(
        CATALOGUE["committee_meeting"], unrecorded, held_by_period={}, as_of=date(2010, 3, 1)
    )
    assert first.reason == "未登记支部委员会届次（正式党员7人以上的支部须设支部委员会）"
    merged_only = evaluate(CATALOGUE["merged_meeting"], BRANCH, held_by_period={}, as_of=date(2010, 2, 1))
    assert {o.reason for o in merged_only} == {"未实行支组合一"}
    group = Unit(level="group", founded_on=date(2010, 1, 1))
    assert (
        evaluate(CATALOGUE["theme_day"], group, held_by_period={}, as_of=date(2010, 2, 1))[0].reason
        == "只适用于党支部"
    )


def test_a_setting_changed_mid_year_judges_later_periods_only():
    rule = CATALOGUE["party_lecture"]
    four_a_year = rules.Frequency(4, PeriodKind.YEAR)
    result = evaluate(rule, BRANCH, held_by_period={date(2026, 1, 1): 3}, as_of=date(2027, 1, 5),
                      frequency=four_a_year, effective_from=date(2026, 1, 1))  # fmt: skip
    assert [(o.period.label, o.state, o.required, o.held) for o in result] == [
        ("2026年", State.OVERDUE, 4, 3), ("2027年", State.DUE, 4, 0)]  # fmt: skip
    mid_year = evaluate(rule, BRANCH, held_by_period={}, as_of=date(2026, 12, 31), frequency=four_a_year,
                        effective_from=date(2026, 7, 1))  # fmt: skip
    assert mid_year == []  # the first full year under the new setting is 2027


def test_a_unit_created_mid_quarter_owes_from_the_next_quarter():
    new_branch = Unit(level="branch", founded_on=date(2026, 8, 20))
    result = evaluate(CATALOGUE["general_meeting"], new_branch, held_by_period={}, as_of=date(2026, 11, 23))
    assert [o.period.label for o in result] == ["2026年第4季度"]


# ---------------------------------------------------------------- member ladders

A = MemberMonth(held=True, attended=False)  # absent without leave
P = MemberMonth(held=True, attended=True)
NONE = MemberMonth(held=False, attended=False)
LEAVE = MemberMonth(held=True, attended=False, excused=True)
EXEMPT = MemberMonth(held=True, attended=False, exempt=True)


@pytest.mark.parametrize(
    ("months", "run", "step"),
    [
        ([P, A], 1, None),
        ([P, A, A], 2, "criticism"),
        ([A, A, P, A], 1, None),
        ([A, NONE, A, LEAVE, A], 3, "criticism"),
        ([A, A, EXEMPT, A, A], 4, "organisational"),
        ([A, A, A, A, A, A], 6, "lapsed"),
        ([A] * 9, 9, "lapsed"),
        ([NONE, NONE], 0, None),
    ],
)
def test_absence_ladder(months, run, step):
    assert absence_run(months) == run
    found = ladder_step(run)
    assert (found.code if found else None) == step


def test_dues_steps():
    assert dues_step(2) is None
    assert dues_step(3).code == "dues_reminder"
    assert dues_step(6).code == "dues_lapsed"


def test_secretary_lecture_is_not_met_by_counting_any_lecture():
    assert "secretary_lecture" not in rules.MEETING_RULES
    assert "party_lecture" in rules.MEETING_RULES
    assert "secretary_lecture" in rules.UNIT_RULES


@pytest.mark.parametrize(
    ("lecturer", "name", "matches"),
    [
        ("张三", "张三", True),
        ("支部书记 张三", "张三", True),
        ("张三同志", "张三", True),
        ("张三丰", "张三", True),  # containment: a township office reads the name, not a person id
        ("李四", "张三", False),
        ("", "张三", False),
        ("张三", "", False),
    ],
)
def test_lecturer_is_the_named_person(lecturer, name, matches):
    assert rules.lecturer_is(lecturer, name) is matches


def test_talk_coverage_counts_committee_pairs_and_every_other_member():
    committee, members = {1, 2, 3}, {1, 2, 3, 4, 5, 6}
    assert rules.talk_coverage(committee, members, []) == (6, 0)  # 3 pairs + 3 other members
    talks = [(1, 2), (3, 2), (4, 1), (5, 6), (6, 6)]
    # pairs 1-2 and 2-3 covered; member 4 reached by a committee member; 5-6 talked only with each other
    assert rules.talk_coverage(committee, members, talks) == (6, 3)
    talks += [(1, 3), (5, 2), (3, 6)]
    assert rules.talk_coverage(committee, members, talks) == (6, 6)


def test_talk_coverage_without_a_committee_cannot_be_met():
    assert rules.talk_coverage(set(), {1, 2}, [(1, 2)]) == (2, 0)


def test_coverage_obligations_are_yearly_and_met_when_everyone_is_covered():
    unit = Unit(level="branch", founded_on=date(2020, 1, 1))
    rule = CATALOGUE["talk_coverage"]
    result = rules.evaluate_coverage(
        rule, unit, coverage_by_year={date(2025, 1, 1): (6, 6), date(2026, 1, 1): (6, 2)},
        as_of=date(2026, 12, 28), window_start=date(2025, 1, 1),
    )  # fmt: skip
    assert [(o.period.start.year, o.state, o.required, o.held) for o in result] == [
        (2025, State.MET, 6, 6),
        (2026, State.DUE_SOON, 6, 2),
    ]
    later = rules.evaluate_coverage(rule, unit, coverage_by_year={}, as_of=date(2027, 1, 2),
                                    window_start=date(2026, 1, 1), until=date(2027, 1, 1))  # fmt: skip
    assert [(o.period.start.year, o.state) for o in later] == [(2026, State.MET)]  # nobody to cover


def test_short_only_leaves_out_exactly_the_met_and_not_applicable_periods():
    rule = CATALOGUE["theme_day"]
    held = {date(2026, 1, 1): 1, date(2026, 3, 1): 2, date(2026, 4, 1): 0}
    as_of = date(2026, 5, 27)
    every = evaluate(rule, BRANCH, held_by_period=held, as_of=as_of, window_start=date(2026, 1, 1))
    short = evaluate(
        rule, BRANCH, held_by_period=held, as_of=as_of, window_start=date(2026, 1, 1), short_only=True
    )
    assert [(o.period.start, o.state) for o in short] == [
        (date(2026, 2, 1), State.OVERDUE),
        (date(2026, 4, 1), State.OVERDUE),
        (date(2026, 5, 1), State.DUE_SOON),
    ]
    assert short == [o for o in every if o.held < o.required]
    group = Unit(level="group", founded_on=date(2010, 1, 1))
    assert evaluate(rule, group, held_by_period={}, as_of=as_of, short_only=True) == []
