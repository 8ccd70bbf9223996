"""Gaps in the coverage of RULES.md: for each rule, a met, an overdue (or its attention state) and a
not-applicable case the other compliance tests leave out; the absence ladder month by month (empty months,
leave, exemptions); records counted by their held date; voids; settings from their effective date; --as-of."""

import io
import uuid
from datetime import date, datetime

from django.core.management import call_command
from django.utils import timezone

from branches import services as branch_services
from compliance import engine
from compliance.models import Flag, RuleSetting
from compliance.periods import State
from compliance.rules import CATALOGUE, Unit, evaluate
from evaluations import services as review_services
from meetings import services as meeting_services
from members import services as member_services
from members.models import DuesPayment, Member, Status
from tests.compliance.conftest import absent_from_theme_days, hold, idn
from tests.compliance.test_engine import open_keys
from tests.conftest import make_campaign, make_meeting, make_member, make_org

AS_OF = date(2026, 11, 23)  # last month is October 2026


def _ladder(member):
    """The open absence-ladder flag's step code and message for the member, or None."""
    flag = Flag.objects.filter(rule="absence_ladder", member=member, resolved_on=None).first()
    return (flag.key.rsplit(":", 1)[1], flag.message) if flag else None


def _theme_day(branch, held_on, statuses):
    """A 主题党日 with the given members' status ("leave", "away", "absent"); everyone else present."""
    expected = meeting_services.attendance_list(branch=branch, types=["theme_day"], held_on=held_on)
    attendance = {
        r.member_id: (
            statuses.get(r.member_id, "present"),
            "生病" if statuses.get(r.member_id) == "leave" else "",
        )
        for r in expected
    }
    return meeting_services.record_meeting(
        branch=branch, types=["theme_day"], held_on=held_on, topic="主题党日", attendance=attendance,
        token=uuid.uuid4().hex, now=timezone.make_aware(datetime.combine(held_on, datetime.min.time())),
    )  # fmt: skip


# ---------------------------------------------------------------- unit rules


def test_a_branch_founded_mid_quarter_owes_nothing_for_that_quarter_or_year(tree):
    """Not applicable: obligations start with the first full period after the branch was founded."""
    new = make_org(tree.township, "新成立党支部", founded_on=date(2026, 11, 10))
    engine.refresh(as_of=date(2027, 1, 2), since=date(2026, 1, 1))
    quarterly_and_yearly = ("general_meeting", "party_lecture", "secretary_lecture", "org_life_meeting",
                            "member_review")  # fmt: skip
    for rule in quarterly_and_yearly:
        assert not open_keys(rule, branch=new), rule
        # An old branch in the same run owes them (the refresh did judge those periods).
        assert open_keys(rule, branch=tree.a2, state="overdue"), rule
    assert open_keys("theme_day", branch=new) == {("theme_day", "2026-12-01", "overdue")}  # first full month


def test_group_meeting_is_not_applicable_to_a_branch():
    branch_unit = Unit(level="branch", founded_on=date(2010, 1, 1))
    result = evaluate(CATALOGUE["group_meeting"], branch_unit, held_by_period={}, as_of=date(2026, 11, 23))
    assert result and {(o.state, o.reason) for o in result} == {(State.NOT_APPLICABLE, "只适用于党小组")}


def test_merged_branch_one_monthly_general_meeting_meets_merged_and_general_and_others_not_applicable(tree):
    make_member(tree.a2, None, idn(50), name="村党员")
    hold(tree.a2, ["general_meeting", "theme_day"], date(2026, 10, 30))
    engine.refresh(as_of=date(2026, 12, 1), since=date(2026, 10, 1))
    # Met in October by the one meeting; November has none: overdue.
    assert open_keys("merged_meeting", branch=tree.a2) == {("merged_meeting", "2026-11-01", "overdue")}
    message = Flag.objects.get(rule="merged_meeting", branch=tree.a2, resolved_on=None).message
    assert message == "甲村党支部2026年11月支组合一未召开（应1次，已0次）"
    assert not open_keys("general_meeting", branch=tree.a2)  # the fourth quarter is met too
    assert ("theme_day", "2026-10-01", "overdue") not in open_keys("theme_day", branch=tree.a2)
    # A branch not flagged 支组合一 never owes it; a branch without groups owes no 党小组会.
    assert not Flag.objects.filter(rule="merged_meeting", branch=tree.a1).exists()
    assert not Flag.objects.filter(rule="group_meeting", branch=tree.a2).exists()


def test_org_life_meeting_counts_for_its_for_year_not_the_year_it_was_held(branch):
    # Held in January 2025 for 2024: it does not meet 2025.
    hold(branch, ["org_life_meeting"], date(2025, 1, 16), for_year=2024, opinions="征求意见")
    engine.refresh(as_of=date(2026, 1, 5), since=date(2025, 1, 1))
    flag = Flag.objects.get(
        rule="org_life_meeting", branch=branch, period_start=date(2025, 1, 1), resolved_on=None
    )
    assert (
        flag.state == "overdue" and flag.message == "甲社区第一党支部2025年组织生活会未召开（应1次，已0次）"
    )
    held = hold(branch, ["org_life_meeting"], date(2026, 1, 4), for_year=2025, opinions="征求意见")
    engine.refresh(as_of=date(2026, 1, 5), since=date(2025, 1, 1))
    flag.refresh_from_db()
    assert flag.resolved_on == date(2026, 1, 5)
    # Void: it no longer counts, and the year is overdue again.
    meeting_services.void_meeting(meeting=held, reason="录错年度")
    engine.refresh(as_of=date(2026, 1, 6), since=date(2025, 1, 1))
    assert ("org_life_meeting", "2025-01-01", "overdue") in open_keys("org_life_meeting", branch=branch)


def test_an_org_life_meeting_without_talks_or_criticism_recorded_is_warned(branch):
    rectification = {"problem": "学习不够深入", "owner": "党员0", "due_on": date(2026, 3, 31)}
    meeting = hold(branch, ["org_life_meeting"], date(2026, 1, 20), for_year=2025, opinions="征求意见12条",
                   self_examination="对照检查材料", reported_on=date(2026, 1, 20),
                   rectifications=[rectification])  # fmt: skip
    engine.refresh(as_of=AS_OF)
    flag = Flag.objects.get(rule="org_life_records", meeting=meeting, resolved_on=None)
    assert "谈心谈话" in flag.message and "批评与自我批评" in flag.message


def test_an_org_life_meeting_with_every_record_raises_no_records_warning(branch):
    rectification = {"problem": "学习不够深入", "owner": "党员0", "due_on": date(2026, 3, 31)}
    hold(branch, ["org_life_meeting"], date(2026, 1, 20), for_year=2025, opinions="征求意见12条",
         talks_summary="谈心谈话8人次", self_examination="对照检查材料", criticism="批评与自我批评",
         reported_on=date(2026, 1, 20), rectifications=[rectification])  # fmt: skip
    engine.refresh(as_of=AS_OF)
    assert not Flag.objects.filter(rule="org_life_records").exists()


def test_member_review_needs_the_campaign_closed_not_only_graded(branch):
    campaign = make_campaign(branch, year=2025, campaign_on=date(2025, 12, 1), grades={}, close=False)
    engine.refresh(as_of=AS_OF, since=date(2025, 1, 1))
    flag = Flag.objects.get(
        rule="member_review", branch=branch, period_start=date(2025, 1, 1), resolved_on=None
    )
    assert flag.state == "overdue" and "民主评议党员未完成" in flag.message
    review_services.close_campaign(campaign=campaign, closed_on=date(2025, 12, 4))
    engine.refresh(as_of=AS_OF, since=date(2025, 1, 1))
    flag.refresh_from_db()
    assert flag.resolved_on == AS_OF


def test_committee_meeting_met_then_overdue_with_its_message(branch):
    hold(branch, ["committee_meeting"], date(2026, 10, 9))
    engine.refresh(as_of=date(2026, 12, 1), since=date(2026, 10, 1))
    assert open_keys("committee_meeting", branch=branch) == {("committee_meeting", "2026-11-01", "overdue")}
    message = Flag.objects.get(rule="committee_meeting", branch=branch, resolved_on=None).message
    assert message == "甲社区第一党支部2026年11月支部委员会会议未召开（应1次，已0次）"


def test_committee_term_met_due_soon_and_overdue_for_the_same_term(branch, tree):
    """The fixture's 社区 branch was elected on 5 January 2024: a 5-year term (村/社区) to 5 January 2029."""
    assert branch.terms.get().ends_on == date(2029, 1, 5)

    def term_state(as_of):
        engine.refresh(as_of=as_of)
        return {f.state for f in Flag.objects.filter(rule="committee_term", branch=branch, resolved_on=None)}

    assert term_state(date(2028, 7, 1)) == set()  # more than 6 months left: nothing to do yet
    assert term_state(date(2028, 7, 10)) == {"due_soon"}  # within 6 months: remind
    assert term_state(date(2029, 1, 6)) == {"overdue"}
    # Not applicable: branches without a committee or secretary recorded.
    assert not Flag.objects.filter(rule="committee_term", branch__in=[tree.a2, tree.b1]).exists()


def test_a_corrected_term_end_date_is_the_one_on_the_flag(branch, tree):
    """届满日期 corrected from 5 January 2029 to 1 December 2028: the reminder names the new date."""
    engine.refresh(as_of=date(2028, 8, 1))
    old = Flag.objects.get(rule="committee_term", branch=branch, resolved_on=None)
    assert "将于2029-01-05届满" in old.message
    term = branch.terms.get()
    branch_services.update_term(term=term, ends_on=date(2028, 12, 1), note=term.note, positions=[])
    engine.refresh(as_of=date(2028, 10, 1))
    old.refresh_from_db()
    new = Flag.objects.get(rule="committee_term", branch=branch, resolved_on=None)
    assert old.resolved_on == date(2028, 10, 1)
    assert "将于2028-12-01届满" in new.message and new.period_end == date(2028, 12, 1)


def test_a_branch_of_seven_full_members_without_a_committee_is_flagged(tree):
    """支部条例 第十二条: 7 正式党员 need a 支部委员会; 6 do not, nor does a branch that has one."""
    for n in range(6):
        make_member(tree.a2, None, idn(60 + n), name=f"村党员{n}")
    engine.refresh(as_of=AS_OF)
    assert not Flag.objects.filter(rule="committee_term", branch=tree.a2).exists()
    make_member(tree.a2, None, idn(66), name="村党员6")
    engine.refresh(as_of=AS_OF)
    missing = Flag.objects.get(rule="committee_term", branch=tree.a2, resolved_on=None)
    assert missing.state == "overdue"
    assert (
        missing.message == "甲村党支部有正式党员7名，应设立支部委员会（支部条例第十二条），尚未登记支部委员会"
    )
    branch_services.record_term(organisation=tree.a2, elected_on=date(2026, 5, 8),
                                positions=[("secretary", "书记"), ("organisation", "组织委员"),
                                           ("propaganda", "宣传委员")])  # fmt: skip
    engine.refresh(as_of=AS_OF)
    missing.refresh_from_db()
    assert missing.resolved_on == AS_OF
    assert not Flag.objects.filter(rule="committee_term", branch=tree.a2, resolved_on=None).exists()


def test_a_dissolved_branch_stops_accruing_and_its_term_is_not_flagged(tree):
    branch_services.record_term(
        organisation=tree.a2, elected_on=date(2018, 3, 1), positions=[("secretary", "老书记")]
    )
    branch_services.dissolve_organisation(organisation=tree.a2, dissolved_on=date(2026, 9, 15), reason="合并")
    engine.refresh(as_of=AS_OF, since=date(2026, 1, 1))
    months = {key[1] for key in open_keys("theme_day", branch=tree.a2)}
    assert "2026-08-01" in months and not months & {"2026-09-01", "2026-10-01", "2026-11-01"}
    assert not Flag.objects.filter(rule="committee_term", branch=tree.a2).exists()


def test_a_general_meeting_at_half_is_low_quorum_but_still_counts(branch):
    p = branch.people
    half = make_meeting(branch, None, p[:2], types=("general_meeting",), held_on=date(2026, 10, 16))
    more = make_meeting(branch, None, p[:3], types=("general_meeting",), held_on=date(2026, 7, 17))
    engine.refresh(as_of=date(2027, 1, 2), since=date(2026, 7, 1))
    flags = Flag.objects.filter(rule="low_quorum", resolved_on=None)
    assert [(f.meeting_id, f.state) for f in flags] == [(half.pk, "warning")]
    assert flags[0].message == "2026-10-16“学习讨论”到会正式党员未过半，会上表决无效"
    assert more.pk not in {f.meeting_id for f in flags}
    assert not open_keys("general_meeting", branch=branch)  # both quarters met: it still happened


def test_a_local_setting_of_the_branch_wins_over_its_townships_on_the_same_date(branch, tree):
    RuleSetting.objects.create(organisation=tree.township, rule="theme_day", enabled=False,
                               effective_from=date(2026, 1, 1))  # fmt: skip
    RuleSetting.objects.create(organisation=branch, rule="theme_day", enabled=True,
                               effective_from=date(2026, 1, 1))  # fmt: skip
    engine.refresh(as_of=date(2026, 12, 1), since=date(2026, 1, 1))
    assert ("theme_day", "2026-11-01", "overdue") in open_keys("theme_day", branch=branch)
    assert not open_keys("theme_day", branch=tree.a2)  # the township's setting: not checked
    assert ("theme_day", "2026-11-01", "overdue") in open_keys(
        "theme_day", branch=tree.b1
    )  # another township


def test_a_setting_effective_mid_month_judges_that_month_by_the_old_setting(branch):
    RuleSetting.objects.create(organisation=branch, rule="theme_day", count=2, period_kind="month",
                               effective_from=date(2026, 10, 15))  # fmt: skip
    hold(branch, ["theme_day"], date(2026, 10, 30))
    hold(branch, ["theme_day"], date(2026, 11, 27))
    engine.refresh(as_of=date(2026, 12, 1), since=date(2026, 10, 1))
    assert open_keys("theme_day", branch=branch) == {("theme_day", "2026-11-01", "overdue")}
    message = Flag.objects.get(rule="theme_day", branch=branch, resolved_on=None).message
    assert message.endswith("（应2次，已1次）")


def test_a_change_from_quarterly_to_yearly_leaves_the_rest_of_the_year_to_the_quarterly_rule(branch):
    """The yearly rule starts with its first full year (2027): the quarters of 2026 after the change
    are still owed a 党课 each, not owed nothing."""
    RuleSetting.objects.create(organisation=branch, rule="party_lecture", count=2, period_kind="year",
                               effective_from=date(2026, 2, 15))  # fmt: skip
    hold(branch, ["party_lecture"], date(2026, 3, 10))
    engine.refresh(as_of=AS_OF, since=date(2026, 1, 1))
    assert open_keys("party_lecture", branch=branch) == {
        ("party_lecture", "2026-04-01", "overdue"),
        ("party_lecture", "2026-07-01", "overdue"),
    }


def test_settings_changed_twice_judge_each_period_once_and_stop_when_switched_off(branch, tree):
    """quarterly → yearly (15 Feb) → off (1 June): the quarters up to June are the old rule's, nothing after;
    yearly (15 Feb) → twice a quarter (1 March): from April by the newest, each quarter once."""
    RuleSetting.objects.create(organisation=branch, rule="general_meeting", period_kind="year",
                               effective_from=date(2026, 2, 15))  # fmt: skip
    RuleSetting.objects.create(organisation=branch, rule="general_meeting", enabled=False,
                               effective_from=date(2026, 6, 1))  # fmt: skip
    engine.refresh(as_of=AS_OF, since=date(2026, 1, 1))
    assert open_keys("general_meeting", branch=branch) == {
        ("general_meeting", "2026-01-01", "overdue"),
        ("general_meeting", "2026-04-01", "overdue"),
    }
    other = make_org(tree.township, "复议党支部")
    RuleSetting.objects.create(organisation=other, rule="general_meeting", period_kind="year",
                               effective_from=date(2026, 2, 15))  # fmt: skip
    RuleSetting.objects.create(organisation=other, rule="general_meeting", period_kind="quarter", count=2,
                               effective_from=date(2026, 3, 1))  # fmt: skip
    engine.refresh(as_of=AS_OF, since=date(2026, 1, 1))
    flags = Flag.objects.filter(rule="general_meeting", branch=other, resolved_on=None)
    assert sorted(flags.values_list("period_start", flat=True)) == [
        date(2026, 1, 1),
        date(2026, 4, 1),
        date(2026, 7, 1),
    ]
    assert all(f.message.endswith("（应2次，已0次）") for f in flags if f.period_start.month > 1)


def test_a_rule_switched_off_mid_quarter_owes_nothing_after_that_quarter(branch):
    RuleSetting.objects.create(organisation=branch, rule="party_lecture", enabled=False,
                               effective_from=date(2026, 2, 15))  # fmt: skip
    engine.refresh(as_of=AS_OF, since=date(2026, 1, 1))
    assert open_keys("party_lecture", branch=branch) == {("party_lecture", "2026-01-01", "overdue")}


# ---------------------------------------------------------------- records by their held date


def test_a_backfill_counts_for_the_month_it_was_held_not_the_month_it_was_entered(branch):
    meeting = hold(
        branch, ["theme_day"], date(2026, 10, 30), entered=date(2026, 11, 20), backfill_reason="外出学习"
    )
    engine.refresh(as_of=date(2026, 12, 1), since=date(2026, 10, 1))
    assert open_keys("theme_day", branch=branch) == {("theme_day", "2026-11-01", "overdue")}
    backfill = Flag.objects.get(rule="backfill", resolved_on=None)
    assert backfill.meeting == meeting and backfill.state == "warning"
    assert backfill.message == f"2026-10-30“学习”为补录（召开后第{meeting.lateness_days}个工作日录入）"


def test_the_command_as_of_a_day_ignores_what_was_held_after_it(branch):
    hold(branch, ["theme_day"], date(2026, 11, 27))
    out = io.StringIO()
    call_command("compliance_refresh", "--as-of", "2026-11-25", stdout=out)
    november = ("theme_day", "2026-11-01", "due_soon")
    assert november in open_keys("theme_day", branch=branch)  # the 27th had not come on the 25th
    first = sorted(Flag.objects.values_list("key", "raised_on", "resolved_on"))
    call_command("compliance_refresh", "--as-of", "2026-11-25", stdout=out)
    assert sorted(Flag.objects.values_list("key", "raised_on", "resolved_on")) == first
    call_command("compliance_refresh", "--as-of", "2026-11-28", stdout=out)
    assert november not in open_keys("theme_day", branch=branch)
    assert Flag.objects.get(key__startswith=f"theme_day:b{branch.pk}:2026-11-01").resolved_on == date(
        2026, 11, 28
    )


# ---------------------------------------------------------------- the absence ladder


def test_two_months_is_criticism_and_six_months_a_lapse_for_the_branch_to_decide(branch):
    two, six = branch.people[0], branch.people[1]
    absent_from_theme_days(branch, [six], range(5, 9))  # May to August
    absent_from_theme_days(branch, [two, six], (9, 10))  # and both in September and October
    engine.refresh(as_of=AS_OF)
    assert _ladder(two) == ("criticism", "党员0：连续2至3个月无故不参加组织生活：应批评教育、作出检查")
    step, message = _ladder(six)
    assert step == "lapsed" and "按自行脱党提请支部大会和党委研究（不自动处理）" in message
    six.refresh_from_db()
    assert six.on_roster and six.status == Status.NORMAL  # never automatic
    assert _ladder(branch.people[2]) is None


def test_a_month_without_meetings_and_a_month_on_leave_neither_add_nor_reset(branch):
    person = branch.people[0]
    absent_from_theme_days(branch, [person], (4, 5, 8, 9, 10))  # none in June
    _theme_day(branch, date(2026, 7, 20), {person.pk: "leave"})
    engine.refresh(as_of=AS_OF)
    # 5 months (April, May, August–October): a reset would give 3, counting June or July 6.
    assert _ladder(person)[0] == "organisational"


def test_attending_once_in_a_month_resets_the_count(branch):
    person = branch.people[0]
    absent_from_theme_days(branch, [person], range(4, 10))  # April to September
    _theme_day(branch, date(2026, 10, 8), {person.pk: "absent"})
    _theme_day(branch, date(2026, 10, 23), {})  # present at the second October meeting
    engine.refresh(as_of=AS_OF)
    assert _ladder(person) is None


def test_months_marked_away_neither_add_nor_reset(branch):
    person = branch.people[0]
    absent_from_theme_days(branch, [person], (4, 5, 9, 10))
    for month in (6, 7, 8):
        _theme_day(branch, date(2026, month, 20), {person.pk: "away"})
    engine.refresh(as_of=AS_OF)
    assert _ladder(person)[0] == "organisational"  # 4 months: April, May, September, October


def test_an_exemption_recorded_before_the_meetings_takes_its_months_out_of_the_count(branch):
    person = branch.people[0]
    member_services.record_exemption(member=person, kind="sick", started_on=date(2026, 6, 1),
                                     ended_on=date(2026, 8, 31), approved_on=date(2026, 5, 28))  # fmt: skip
    absent_from_theme_days(branch, [person], range(4, 11))  # April to October; not 应到 in June–August
    engine.refresh(as_of=AS_OF)
    # April, May, September, October: 4. Resetting would give 2; counting the exempt months, 7.
    assert _ladder(person)[0] == "organisational"


def test_an_exemption_approved_before_but_entered_after_the_meetings_takes_its_months_out(branch):
    person = branch.people[0]
    absent_from_theme_days(branch, [person], range(4, 11))  # April to October, all absent
    member_services.record_exemption(member=person, kind="sick", started_on=date(2026, 6, 1),
                                     ended_on=date(2026, 8, 31), approved_on=date(2026, 5, 28))  # fmt: skip
    engine.refresh(as_of=AS_OF)
    assert _ladder(person)[0] == "organisational"  # 4 months, as when entered in time (not 7: lapsed)


# ---------------------------------------------------------------- other member rules


def test_a_voided_dues_payment_no_longer_counts(branch):
    payer = branch.people[0]
    payments = [
        DuesPayment.objects.create(member=payer, month=date(2026, m, 1), amount=1, paid_on=date(2026, m, 5))
        for m in range(1, 11)
    ]
    engine.refresh(as_of=AS_OF)
    assert not Flag.objects.filter(rule="dues_arrears", member=payer).exists()
    for payment in payments[-3:]:  # August to October
        member_services.void_record(record=payment, reason="重复登记")
    engine.refresh(as_of=AS_OF)
    flag = Flag.objects.get(rule="dues_arrears", member=payer, resolved_on=None)
    assert flag.message == "党员0：连续3个月未交纳党费：提醒补交"


def test_dues_are_owed_from_joining_and_not_by_people_who_are_not_yet_members(branch, tree):
    newcomer = make_member(tree.a1, None, idn(30), name="新党员", category="probationary",
                           applied_on=date(2023, 1, 5), activist_on=date(2023, 3, 1), candidate_on=date(2024, 4, 1),
                           joined_on=date(2026, 9, 10))  # fmt: skip
    activist = make_member(tree.a1, None, idn(31), name="积极分子", category="activist",
                           applied_on=date(2024, 1, 5), activist_on=date(2024, 3, 1))  # fmt: skip
    engine.refresh(as_of=AS_OF)
    unpaid = set(
        Flag.objects.filter(rule="dues_arrears", resolved_on=None).values_list("member_id", flat=True)
    )
    assert branch.people[0].pk in unpaid  # never paid: flagged
    assert newcomer.pk not in unpaid  # September and October only: 2 months
    assert activist.pk not in unpaid


def test_thought_reports_of_candidates_quarterly_probationers_half_yearly_applicants_never(tree):
    def person(serial, name, category, **dates):
        # On the books here since they joined: on the roster from their first date (a 编入日期), their
        # records not begun only at the registration (records_from).
        member = member_services.register_member(branch=tree.a1, id_number=idn(serial), name=name,
                                                 category=category, today=AS_OF, started_on=min(dates.values()),
                                                 **dates)  # fmt: skip
        Member.objects.filter(pk=member.pk).update(records_from=None)
        return member

    pipeline = {"applied_on": date(2024, 1, 5), "activist_on": date(2024, 3, 1)}
    candidate = person(20, "发展对象", "candidate", **pipeline, candidate_on=date(2025, 6, 1))
    from_july = person(
        25, "七月发展", "candidate", **pipeline, candidate_on=date(2026, 7, 1)
    )  # the quarter's first day
    probationer = person(21, "预备党员", "probationary", **pipeline, candidate_on=date(2025, 4, 1),
                         joined_on=date(2025, 9, 1))  # fmt: skip
    reporting = person(22, "按时预备党员", "probationary", **pipeline, candidate_on=date(2025, 4, 1),
                       joined_on=date(2025, 9, 1))  # fmt: skip
    applicant = person(23, "申请人", "applicant", applied_on=date(2025, 5, 1))
    member_services.record_thought_report(member=reporting, received_on=date(2026, 5, 6), today=AS_OF)
    engine.refresh(as_of=AS_OF)
    messages = {f.member_id: f.message for f in Flag.objects.filter(rule="thought_report", resolved_on=None)}
    assert messages[candidate.pk] == "发展对象：2026年第3季度未交思想汇报"
    assert messages[from_july.pk] == "七月发展：2026年第3季度未交思想汇报"
    assert messages[probationer.pk] == "预备党员：2026年上半年未交思想汇报"
    assert reporting.pk not in messages and applicant.pk not in messages


def test_an_activist_who_became_a_candidate_during_the_quarter_still_owes_its_report(tree):
    promoted = member_services.register_member(branch=tree.a1, id_number=idn(24), name="八月发展", category="candidate",
                                               applied_on=date(2024, 1, 5), activist_on=date(2024, 3, 1),
                                               candidate_on=date(2026, 8, 15), today=AS_OF)  # fmt: skip
    engine.refresh(as_of=AS_OF)
    flag = Flag.objects.get(rule="thought_report", member=promoted, resolved_on=None)
    assert flag.message == "八月发展：2026年第3季度未交思想汇报"


def test_a_candidate_admitted_during_the_half_year_still_owes_its_report(tree):
    admitted = member_services.register_member(branch=tree.a1, id_number=idn(25), name="二月入党", category="probationary",
                                               applied_on=date(2024, 1, 5), activist_on=date(2024, 3, 1),
                                               candidate_on=date(2025, 4, 1), joined_on=date(2026, 2, 15), today=AS_OF,
                                               started_on=date(2024, 1, 5))  # fmt: skip
    Member.objects.filter(pk=admitted.pk).update(records_from=None)  # on the books here since they joined
    engine.refresh(as_of=AS_OF)
    flag = Flag.objects.get(rule="thought_report", member=admitted, resolved_on=None)
    assert flag.message == "二月入党：2026年上半年未交思想汇报"


def test_away_with_a_certificate_or_back_home_is_not_flagged(branch):
    certified, returned, away = branch.people[0], branch.people[1], branch.people[2]
    member_services.start_mobility(member=certified, destination="苏州", started_on=date(2026, 7, 1), today=AS_OF,
                                   certificate_issued_on=date(2026, 7, 3))  # fmt: skip
    trip = member_services.start_mobility(member=returned, destination="杭州", started_on=date(2026, 3, 1),
                                          today=AS_OF)  # fmt: skip
    member_services.start_mobility(member=away, destination="南京", started_on=date(2026, 7, 1), today=AS_OF)
    engine.refresh(as_of=AS_OF)
    flagged = {f.member_id for f in Flag.objects.filter(rule="mobile_member", resolved_on=None)}
    assert flagged == {returned.pk, away.pk}  # 3 months without a certificate; 6 months away
    member_services.end_mobility(mobility=trip, ended_on=date(2026, 11, 20), today=AS_OF)
    engine.refresh(as_of=AS_OF)
    assert {f.member_id for f in Flag.objects.filter(rule="mobile_member", resolved_on=None)} == {away.pk}
    assert Flag.objects.get(rule="mobile_member", member=returned).resolved_on == AS_OF


def test_no_political_birthday_for_a_probationer(branch, tree):
    probationer = make_member(tree.a1, None, idn(32), name="预备党员", category="probationary",
                              applied_on=date(2023, 1, 5), activist_on=date(2023, 3, 1),
                              candidate_on=date(2024, 4, 1), joined_on=date(2025, 7, 10))  # fmt: skip
    engine.refresh(as_of=date(2026, 7, 3))
    flagged = {f.member_id for f in Flag.objects.filter(rule="political_birthday", resolved_on=None)}
    assert flagged == {p.pk for p in branch.people}  # 正式党员 who joined on 1 July 2005
    assert probationer.pk not in flagged
    message = Flag.objects.get(rule="political_birthday", member=branch.people[0]).message
    assert message == "党员0：本月1日是入党21周年政治生日"


def test_a_member_who_paid_the_probe_months_has_no_arrears_run_to_find():
    """The county's read looks up only the members who left a probe month unpaid: every pattern of payments
    over the window and the two months before it that holds a run of 3 or more ending in the window leaves
    one of them unpaid."""
    from itertools import product

    from members import dues

    first, last = date(2026, 6, 1), date(2026, 11, 1)
    months = dues.months_between(date(2026, 4, 1), last)
    probes = engine._probe_months(first, last)
    for pattern in product((False, True), repeat=len(months)):
        paid = {month for month, was_paid in zip(months, pattern, strict=True) if was_paid}
        _start, run = dues.arrears_run(paid, start=months[0], end=last, ended_from=first)
        if run >= 3:
            assert not paid.issuperset(probes), sorted(paid)


def test_an_imported_roster_is_judged_from_the_month_it_was_imported(tree):
    """A township starting on the system imports its roster on 23 November 2026: none of its dues,
    reports or training from before are here. Those months are not flagged (an old member entered by
    hand is); from November on, the imported members are judged like everyone."""
    from tests.members.test_roster_import import row, run, workbook

    _results, counts = run(workbook([row(1), row(2)]))
    assert counts["created"] == 2
    imported = set(Member.objects.filter(name__in=["党员1", "党员2"]).values_list("pk", flat=True))
    assert set(Member.objects.filter(pk__in=imported).values_list("records_from", flat=True)) == {
        date(2026, 11, 1)
    }
    by_hand = make_member(tree.a1, tree.g1, idn(70), name="手工登记")

    def open_rules(as_of, member_ids):
        engine.refresh(as_of=as_of)
        return set(
            Flag.objects.filter(member_id__in=member_ids, resolved_on=None).values_list("rule", flat=True)
        )

    assert {"dues_arrears", "thought_report", "training_hours"} <= open_rules(date(2026, 12, 7), [by_hand.pk])
    assert open_rules(date(2026, 12, 7), imported) == {"training_hours"}
    # 2026's hours are prorated from November, the year's last two months (and due soon in December).
    training = Flag.objects.filter(member_id__in=imported, rule="training_hours", resolved_on=None)
    assert {(f.state, f.message.split("：", 1)[1]) for f in training} == {
        ("due_soon", "2026年度学习培训已0学时，年底前还差6学时（应6学时，按2个月折算）")
    }
    # The member's page counts the same: November unpaid, not the twenty years before the import.
    from members.selectors import dues_summary

    summary = dues_summary(Member.objects.get(name="党员1"), today=date(2026, 12, 7))
    assert (summary["arrears"], summary["arrears_from"]) == (1, date(2026, 11, 1))
    assert summary["records_from"] == date(2026, 11, 1)
    # November, December and January unpaid by 3 February: the first step of the arrears ladder.
    assert "dues_arrears" in open_rules(date(2027, 2, 3), imported)


def test_a_suspended_member_is_not_flagged_for_dues(branch):
    """停止党籍: no dues are owed (the dues month page lists them apart), so no arrears reminder either."""
    payer = branch.people[0]
    engine.refresh(as_of=date(2026, 12, 1))
    flag = Flag.objects.get(rule="dues_arrears", member=payer, resolved_on=None)
    member_services.change_status(member=payer, status=Status.SUSPENDED, on=date(2026, 11, 20),
                                  reason="失联满六个月", today=date(2026, 12, 1))  # fmt: skip
    engine.refresh(as_of=date(2026, 12, 1))
    flag.refresh_from_db()
    assert flag.resolved_on == date(2026, 12, 1)
    assert not Flag.objects.filter(rule="dues_arrears", member=payer, resolved_on=None).exists()
