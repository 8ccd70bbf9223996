"""集中学习培训 in the engine: a year short of its 学时 is flagged, pro rata, exemptions and local settings respected."""

import uuid
from datetime import date
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from branches.models import Role
from compliance import engine
from compliance.models import Flag, RuleSetting
from members import services as member_services
from tests.compliance.conftest import idn
from tests.conftest import make_member

AFTER_2025 = date(2026, 3, 2)


def train(branch, members, hours, held_on=date(2025, 5, 20), title="党章党规学习"):
    return member_services.record_training(
        branch=branch, members=members, held_on=held_on, hours=Decimal(str(hours)), title=title,
        token=uuid.uuid4().hex, today=max(held_on, timezone.localdate()),
    )  # fmt: skip


def training_flags(year=2025):
    """{member name: (state, message)} of the open training flags for the year."""
    flags = Flag.objects.filter(
        rule="training_hours", resolved_on__isnull=True, period_start=date(year, 1, 1)
    )
    return {f.member.name: (f.state, f.message) for f in flags.select_related("member")}


def test_a_year_short_of_32_hours_is_overdue_once_it_has_ended(branch):
    a, b, c, d = branch.people
    train(branch, [a, b], 24)
    train(branch, [a], 8, held_on=date(2025, 11, 3))
    train(branch, [b], Decimal("2.5"), held_on=date(2025, 11, 3))
    train(branch, [c], 40, held_on=date(2024, 6, 1))  # another year's hours count for that year only
    engine.refresh(as_of=date(2025, 11, 30))
    assert training_flags() == {}  # 2025 still running, and not yet December
    engine.refresh(as_of=AFTER_2025)
    flags = training_flags()
    assert set(flags) == {"党员1", "党员2", "党员3"}  # 党员0 has 32
    assert flags["党员1"] == ("overdue", "党员1：2025年度学习培训26.5学时，不足32学时")
    assert flags["党员2"] == ("overdue", "党员2：2025年度学习培训0学时，不足32学时")
    flag = Flag.objects.get(
        rule="training_hours", member=b, resolved_on__isnull=True, period_start__year=2025
    )
    assert (flag.period_start, flag.period_end, flag.branch_id) == (
        date(2025, 1, 1),
        date(2025, 12, 31),
        branch.pk,
    )


def test_the_current_year_is_due_soon_in_december_while_short(branch):
    a, b, c, d = branch.people
    for member in (a, b, c, d):  # 2025 met by everyone
        train(branch, [member], 32, held_on=date(2025, 3, 1))
    train(branch, [a, b, c], 32, held_on=date(2026, 4, 1))
    train(branch, [d], 20, held_on=date(2026, 4, 1))
    engine.refresh(as_of=date(2026, 11, 30))
    assert training_flags(2025) == training_flags(2026) == {}
    engine.refresh(as_of=date(2026, 12, 1))
    assert training_flags(2026) == {
        "党员3": ("due_soon", "党员3：2026年度学习培训已20学时，年底前还差12学时（应32学时）")
    }
    engine.refresh(as_of=date(2027, 1, 1))
    assert training_flags(2026) == {"党员3": ("overdue", "党员3：2026年度学习培训20学时，不足32学时")}
    due_soon = Flag.objects.get(rule="training_hours", state="due_soon")
    assert due_soon.resolved_on == date(2027, 1, 1)  # kept, resolved, never deleted


def test_a_void_record_no_longer_counts(branch):
    a = branch.people[0]
    rows = train(branch, [a], 32)
    engine.refresh(as_of=AFTER_2025)
    assert "党员0" not in training_flags()
    member_services.void_training(record=rows[0], reason="录错了人")
    engine.refresh(as_of=AFTER_2025)
    assert training_flags()["党员0"] == ("overdue", "党员0：2025年度学习培训0学时，不足32学时")


def test_members_exempt_all_year_owe_nothing_and_part_of_a_year_owe_pro_rata(branch):
    a, b, c, d = branch.people
    member_services.record_exemption(
        member=a, kind="frail", started_on=date(2023, 5, 1), approved_on=date(2023, 5, 1)
    )
    member_services.record_exemption(member=b, kind="maternity", started_on=date(2025, 1, 1),
                                     ended_on=date(2025, 6, 30), approved_on=date(2024, 12, 20))  # fmt: skip
    voided = member_services.record_exemption(member=c, kind="sick", started_on=date(2024, 1, 1),
                                              approved_on=date(2024, 1, 1))  # fmt: skip
    member_services.void_record(record=voided, reason="误登记")
    train(branch, [b], 15)
    train(branch, [d], 32)
    engine.refresh(as_of=AFTER_2025)
    flags = training_flags()
    assert "党员0" not in flags  # 年老体弱 all year
    assert flags["党员1"] == ("overdue", "党员1：2025年度学习培训15学时，不足16学时（按6个月折算）")
    assert "党员2" in flags  # a voided exemption exempts nothing
    train(branch, [b], 1)
    engine.refresh(as_of=AFTER_2025)
    assert "党员1" not in training_flags()


def test_members_who_joined_during_the_year_owe_for_the_whole_months_left(branch, tree):
    for member in branch.people:
        train(branch, [member], 32)
    july = make_member(tree.a1, tree.g1, idn(40), name="七月入党", category="probationary",
                       applied_on=date(2023, 1, 5), activist_on=date(2023, 3, 1), candidate_on=date(2024, 4, 1),
                       joined_on=date(2025, 7, 15))  # fmt: skip
    december = make_member(tree.a1, tree.g1, idn(41), name="年底入党", category="probationary",
                           applied_on=date(2023, 1, 5), activist_on=date(2023, 3, 1), candidate_on=date(2024, 4, 1),
                           joined_on=date(2025, 12, 10))  # fmt: skip
    moved_in = make_member(tree.a1, tree.g1, idn(42), name="转入党员", started_on=date(2025, 10, 1),
                           transfer={"counterpart": "外县某镇党委", "letter_no": "组转-9"})  # fmt: skip
    train(branch, [july], 13, held_on=date(2025, 8, 1))
    engine.refresh(as_of=AFTER_2025)
    flags = training_flags()
    assert flags == {
        "七月入党": ("overdue", "七月入党：2025年度学习培训13学时，不足14学时（按5个月折算）"),
        "转入党员": ("overdue", "转入党员：2025年度学习培训0学时，不足8学时（按3个月折算）"),
    }
    assert december.name not in flags  # no whole month in 2025
    train(branch, [july], 1, held_on=date(2025, 8, 2))
    train(branch, [moved_in], 8, held_on=date(2025, 10, 8))
    engine.refresh(as_of=AFTER_2025)
    assert training_flags() == {}


def test_a_township_turns_the_rule_off_or_changes_the_hours_for_its_subtree(branch, tree):
    train(branch, branch.people, 32)
    make_member(tree.b1, None, idn(50), name="乙镇党员")
    RuleSetting.objects.create(organisation=tree.township, rule="training_hours", count=40,
                               effective_from=date(2025, 1, 1))  # fmt: skip
    engine.refresh(as_of=AFTER_2025)
    assert set(training_flags()) == {"党员0", "党员1", "党员2", "党员3", "乙镇党员"}
    assert training_flags()["党员0"][1] == "党员0：2025年度学习培训32学时，不足40学时"
    assert (
        training_flags()["乙镇党员"][1] == "乙镇党员：2025年度学习培训0学时，不足32学时"
    )  # another township
    RuleSetting.objects.create(organisation=tree.community, rule="training_hours", enabled=False,
                               effective_from=date(2025, 1, 1))  # fmt: skip
    engine.refresh(as_of=AFTER_2025)
    assert set(training_flags()) == {"乙镇党员"}  # the community's branches are not checked


def test_a_setting_from_mid_year_judges_the_years_after_it(branch, tree):
    RuleSetting.objects.create(organisation=tree.township, rule="training_hours", enabled=False,
                               effective_from=date(2025, 6, 1))  # fmt: skip
    engine.refresh(as_of=AFTER_2025)
    assert len(training_flags()) == 4  # 2025 is judged by the rule in force on 1 January 2025
    engine.refresh(as_of=date(2027, 2, 1))
    assert not Flag.objects.filter(rule="training_hours", period_start=date(2026, 1, 1)).exists()


def test_56_hours_for_the_secretary_and_committee_only_when_a_township_turns_it_on(branch, tree):
    train(branch, branch.people, 40)
    engine.refresh(as_of=AFTER_2025)
    assert training_flags() == {}  # off by default: 40 ≥ 32 for everyone
    RuleSetting.objects.create(organisation=tree.township, rule="training_hours_committee", enabled=True,
                               effective_from=date(2025, 1, 1))  # fmt: skip
    engine.refresh(as_of=AFTER_2025)
    flags = training_flags()
    # 党员0 书记, 党员1 组织委员, 党员2 宣传委员 sit on the committee; 党员3 does not.
    assert set(flags) == {"党员0", "党员1", "党员2"}
    assert flags["党员0"] == ("overdue", "党员0：2025年度学习培训40学时，不足56学时")
    RuleSetting.objects.create(organisation=tree.township, rule="training_hours_committee", enabled=True, count=48,
                               effective_from=date(2026, 1, 1))  # fmt: skip
    train(branch, branch.people, 40, held_on=date(2026, 3, 1))
    engine.refresh(as_of=date(2027, 1, 4))
    assert Flag.objects.get(rule="training_hours", member=branch.people[0], period_start=date(2026, 1, 1),
                            resolved_on__isnull=True).message == "党员0：2026年度学习培训40学时，不足48学时"  # fmt: skip


def test_a_rerun_writes_nothing_and_recording_the_hours_resolves_the_flag_on_commit(
    branch, django_capture_on_commit_callbacks
):
    last_year = timezone.localdate().year - 1  # the write refreshes as of today: judge last year's hours
    first = engine.refresh(as_of=timezone.localdate())
    assert first["raised"] >= 4
    with CaptureQueriesContext(connection) as queries:
        again = engine.refresh(as_of=timezone.localdate())
    assert again == {"raised": 0, "resolved": 0, "open": first["open"]}
    assert not [q for q in queries if q["sql"].split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]
    flag = Flag.objects.get(rule="training_hours", member=branch.people[0], period_start=date(last_year, 1, 1),
                            resolved_on__isnull=True)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        train(branch, [branch.people[0]], 32, held_on=date(last_year, 6, 1))
    flag.refresh_from_db()
    assert flag.resolved_on == timezone.localdate()
    assert not Flag.objects.filter(rule="training_hours", member=branch.people[0],
                                   period_start=date(last_year, 1, 1), resolved_on__isnull=True).exists()  # fmt: skip


def test_suspended_and_off_roster_members_and_applicants_are_not_flagged(branch, tree):
    train(branch, branch.people, 32)
    make_member(tree.a1, None, idn(60), name="积极分子", category="activist", applied_on=date(2024, 1, 1),
                activist_on=date(2024, 3, 1))  # fmt: skip
    suspended = make_member(tree.a1, None, idn(61), name="停止党籍")
    member_services.change_status(member=suspended, status="suspended", on=date(2025, 2, 1), reason="处分")
    gone = make_member(tree.a1, None, idn(62), name="已转出")
    member_services.transfer_out(member=gone, on=date(2025, 8, 1), counterpart="外省")
    engine.refresh(as_of=AFTER_2025)
    assert training_flags() == {}


def test_the_office_sets_the_committee_hours_on_the_settings_page(client, personas, branch, tree):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    url = reverse("compliance:settings")
    data = {"organisation": tree.township.pk, "rule": "training_hours_committee", "enabled": "1",
            "effective_from": "2025-01-01", "confirm_rejudge": "1"}  # fmt: skip
    refused = client.post(url, {**data, "period_kind": "month"})
    assert "集中学习培训按年度计算学时，不能设置周期" in refused.content.decode()
    assert client.post(url, {**data, "count": "60"}).status_code == 302
    setting = RuleSetting.objects.get()
    assert (setting.rule, setting.count, setting.enabled) == ("training_hours_committee", 60, True)
    assert "60学时" in client.get(url).content.decode()
    train(branch, branch.people, 56)
    engine.refresh(as_of=AFTER_2025)
    assert set(training_flags()) == {"党员0", "党员1", "党员2"}
    assert training_flags()["党员0"][1] == "党员0：2025年度学习培训56学时，不足60学时"


def test_the_nightly_run_reads_only_the_short_members_and_flags_as_a_full_refresh_does(branch, tree):
    """At night a year is read for the members short of the most hours anyone owes (here 56, the
    committee's): the flags are those a full refresh raises."""
    secretary, organiser, member, newcomer = branch.people
    RuleSetting.objects.create(organisation=tree.township, rule="training_hours_committee", enabled=True,
                               effective_from=date(2025, 1, 1))  # fmt: skip
    train(branch, [secretary], 40)
    train(branch, [organiser], 56)
    train(branch, [member], Decimal("31.5"))
    train(branch, [secretary, organiser, member], 60, held_on=date(2026, 4, 1))
    train(branch, [newcomer], 20, held_on=date(2026, 4, 1))
    expected = {}
    for night in (date(2026, 1, 4), date(2026, 12, 2)):
        engine.refresh(as_of=night)
        expected[night] = training_flags(night.year - (night.month == 1))
        Flag.objects.filter(rule="training_hours").delete()
    assert set(expected[date(2026, 1, 4)]) == {"党员0", "党员2", "党员3"}
    assert set(expected[date(2026, 12, 2)]) == {"党员3"}
    for night, flags in expected.items():
        engine.refresh(as_of=night, time_only=True)
        assert training_flags(night.year - (night.month == 1)) == flags
