"""The compliance refresh on the database: flags raised, resolved, never deleted, nothing written twice."""

from datetime import date, timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from branches import services as branch_services
from branches.models import Role
from compliance import engine, services
from compliance.models import Flag, RuleSetting
from meetings import services as meeting_services
from meetings.models import Attendance
from members.models import DuesPayment, Member
from tests.compliance.conftest import absent_from_theme_days, hold, idn
from tests.conftest import make_campaign, make_member, make_org

AS_OF = date(2026, 11, 23)


def open_keys(rule=None, **filters):
    qs = Flag.objects.filter(resolved_on__isnull=True, **filters)
    if rule:
        qs = qs.filter(rule=rule)
    return {(f.rule, str(f.period_start), f.state) for f in qs}


def test_a_missed_month_is_overdue_and_the_open_month_due_soon(branch):
    for month in range(1, 11):
        hold(branch, ["theme_day"], date(2026, month, 20))
    engine.refresh(as_of=date(2026, 11, 25), since=date(2026, 1, 1))
    theme = open_keys("theme_day", branch=branch)
    assert theme == {("theme_day", "2026-11-01", "due_soon")}
    engine.refresh(as_of=date(2026, 12, 1), since=date(2026, 1, 1))
    assert open_keys("theme_day", branch=branch) == {
        ("theme_day", "2026-11-01", "overdue"),
    }
    resolved = Flag.objects.get(rule="theme_day", state="due_soon", branch=branch)
    assert resolved.resolved_on == date(2026, 12, 1) and resolved.resolved_by


def test_one_meeting_counts_for_each_type_it_carries_and_void_ones_never(branch):
    meeting = hold(branch, ["general_meeting", "party_lecture", "theme_day"], date(2026, 10, 9))
    engine.refresh(as_of=AS_OF, since=date(2026, 10, 1))
    assert not open_keys("general_meeting", branch=branch) and not open_keys("party_lecture", branch=branch)
    meeting_services.void_meeting(meeting=meeting, reason="录错")
    engine.refresh(as_of=date(2027, 1, 2), since=date(2026, 10, 1))
    assert ("general_meeting", "2026-10-01", "overdue") in open_keys("general_meeting", branch=branch)
    assert ("party_lecture", "2026-10-01", "overdue") in open_keys("party_lecture", branch=branch)


def test_a_backfilled_record_counts_by_its_held_date_and_is_flagged(branch):
    meeting = hold(
        branch, ["theme_day"], date(2026, 10, 30), entered=date(2026, 11, 20), backfill_reason="外出学习"
    )
    engine.refresh(as_of=AS_OF, since=date(2026, 10, 1))
    assert not open_keys("theme_day", branch=branch)
    assert Flag.objects.get(rule="backfill").meeting == meeting


@pytest.mark.parametrize("refreshed", ["new", "old", "both"])
def test_a_moved_groups_past_meetings_still_count_for_it(branch, tree, refreshed):
    """A 党小组 moved to another branch leaves its meetings on the old branch's books; its October
    党小组会 is still held, whichever branch's refresh (a write there) judges it."""
    new_branch = make_org(tree.community, "甲社区第二党支部")
    hold(branch, ["group_meeting"], date(2026, 10, 12), group=tree.g1)
    engine.refresh(as_of=AS_OF, since=date(2026, 10, 1))
    branch_services.move_organisation(organisation=tree.g1, new_parent=new_branch)
    ids = {"new": [new_branch.pk], "old": [tree.a1.pk], "both": [new_branch.pk, tree.a1.pk]}[refreshed]
    engine.refresh(as_of=AS_OF, since=date(2026, 10, 1), branch_ids=ids)
    engine.refresh(as_of=AS_OF, since=date(2026, 10, 1), branch_ids=[new_branch.pk])
    october = Flag.objects.filter(
        rule="group_meeting", period_start=date(2026, 10, 1), resolved_on__isnull=True
    )
    assert set(october.values_list("group_id", flat=True)) == {tree.g2.pk}


def test_no_committee_means_no_committee_meeting_flags(tree):
    make_member(tree.a2, None, idn(50), name="村党员")
    engine.refresh(as_of=AS_OF, since=date(2026, 1, 1))
    assert open_keys("committee_meeting", branch=tree.a2) == set()
    assert open_keys("merged_meeting", branch=tree.a2)  # 支组合一: monthly 党员大会 expected instead
    assert not open_keys("group_meeting", branch=tree.a2)


def test_group_meetings_are_owed_by_each_group(branch, tree):
    hold(branch, ["group_meeting"], date(2026, 10, 12), group=tree.g1)
    engine.refresh(as_of=AS_OF, since=date(2026, 10, 1))
    owing = {f.group_id for f in Flag.objects.filter(rule="group_meeting", period_start=date(2026, 10, 1))}
    assert owing == {tree.g2.pk}


def test_org_life_meeting_counts_for_its_year(branch):
    hold(branch, ["org_life_meeting"], date(2026, 1, 15), for_year=2025, opinions="征求意见")
    engine.refresh(as_of=AS_OF, since=date(2025, 1, 1))
    assert ("org_life_meeting", "2025-01-01", "overdue") not in open_keys("org_life_meeting", branch=branch)


def test_a_local_setting_judges_periods_from_its_date(branch, tree):
    RuleSetting.objects.create(organisation=tree.township, rule="party_lecture", count=4, period_kind="year",
                               effective_from=date(2026, 1, 1))  # fmt: skip
    for day in (date(2026, 2, 1), date(2026, 5, 1), date(2026, 8, 1)):
        hold(branch, ["party_lecture"], day)
    engine.refresh(as_of=date(2027, 1, 3), since=date(2025, 1, 1))
    lectures = open_keys("party_lecture", branch=branch)
    assert ("party_lecture", "2026-01-01", "overdue") in lectures  # 3 of 4 this year
    assert ("party_lecture", "2025-10-01", "overdue") in lectures  # 2025 judged quarterly, as then in force
    RuleSetting.objects.create(organisation=tree.township, rule="party_lecture", enabled=False,
                               effective_from=date(2027, 1, 1))  # fmt: skip
    engine.refresh(as_of=date(2027, 4, 2), since=date(2025, 1, 1))
    assert not any(key[1].startswith("2027") for key in open_keys("party_lecture", branch=branch))


def test_a_period_made_longer_raises_its_own_flag_in_place_of_the_old_one(branch, tree):
    """The quarter's 党课 and the year's begin on the same day; the year's flag is not the quarter's."""
    engine.refresh(as_of=date(2026, 4, 2), since=date(2026, 1, 1))
    quarter = Flag.objects.get(
        rule="party_lecture", branch=branch, period_start=date(2026, 1, 1), resolved_on=None
    )
    assert quarter.period_end == date(2026, 3, 31)
    RuleSetting.objects.create(organisation=tree.township, rule="party_lecture", count=4, period_kind="year",
                               effective_from=date(2026, 1, 1))  # fmt: skip
    hold(branch, ["party_lecture"], date(2026, 2, 1))
    engine.refresh(as_of=date(2027, 1, 3), since=date(2026, 1, 1), branch_ids=[branch.pk])
    year = Flag.objects.get(
        rule="party_lecture", branch=branch, period_start=date(2026, 1, 1), resolved_on=None
    )
    assert year.period_end == date(2026, 12, 31) and year.pk != quarter.pk
    assert "应4次，已1次" in year.message
    assert Flag.objects.get(pk=quarter.pk).resolved_on == date(2027, 1, 3)


def test_an_open_flag_takes_the_new_counts_after_a_write(branch, tree):
    """The 待办 list and the email say what 本期事项 says: 应2次，已1次 once one of two meetings is recorded."""
    RuleSetting.objects.create(organisation=tree.township, rule="committee_meeting", count=2,
                               effective_from=date(2026, 1, 1))  # fmt: skip
    engine.refresh(as_of=date(2026, 11, 3))
    october = Flag.objects.get(rule="committee_meeting", branch=branch, period_start=date(2026, 10, 1))
    assert "应2次，已0次" in october.message
    hold(branch, ["committee_meeting"], date(2026, 10, 20), entered=date(2026, 11, 3), backfill_reason="漏录")
    with CaptureQueriesContext(connection) as queries:
        engine.refresh(as_of=date(2026, 11, 3), branch_ids=[branch.pk])
    again = Flag.objects.get(pk=october.pk)
    assert again.resolved_on is None and again.raised_on == october.raised_on
    assert "应2次，已1次" in again.message
    if connection.vendor == "postgresql":
        assert len(queries) <= 5
    assert engine.refresh(as_of=date(2026, 11, 3), branch_ids=[branch.pk])["raised"] == 0
    assert Flag.objects.get(pk=october.pk).message == again.message


def test_a_deadline_moved_by_an_extension_is_flagged_with_its_new_date(branch, tree):
    """Once the flag kept "期限 2026-01-10" while the member's page said 预备期满 2026-07-10."""
    from members import services as member_services

    member = member_services.register_member(
        branch=tree.a1, id_number=idn(74), name="预备党员", category="probationary", applied_on=date(2022, 3, 1),
        activist_on=date(2022, 9, 1), candidate_on=date(2023, 10, 1), joined_on=date(2025, 1, 10), today=AS_OF,
    )  # fmt: skip
    engine.refresh(as_of=AS_OF, branch_ids=[branch.pk])
    before = Flag.objects.get(rule="pipeline", member=member, key__contains="probation_end", resolved_on=None)
    assert "期限 2026-01-10" in before.message
    member_services.record_pipeline_event(member=member, kind="extension", happened_on=date(2026, 1, 5), months=6,
                                          today=AS_OF)  # fmt: skip
    engine.refresh(as_of=AS_OF, branch_ids=[branch.pk])
    after = Flag.objects.get(rule="pipeline", member=member, key__contains="probation_end", resolved_on=None)
    assert "期限 2026-07-10" in after.message and after.period_end == date(2026, 7, 10)


def test_a_rerun_writes_nothing(branch):
    hold(branch, ["theme_day"], date(2026, 10, 30), entered=date(2026, 11, 20), backfill_reason="外出")
    first = engine.refresh(as_of=AS_OF)
    assert first["raised"] > 0
    with CaptureQueriesContext(connection) as queries:
        again = engine.refresh(as_of=AS_OF)
    assert again == {"raised": 0, "resolved": 0, "open": first["open"]}
    writes = [q["sql"] for q in queries if q["sql"].split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]
    assert writes == []


def test_logging_the_missing_meeting_resolves_the_flag_on_commit(branch, django_capture_on_commit_callbacks):
    today = timezone.localdate()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    engine.refresh(as_of=today)
    flag = Flag.objects.get(
        rule="theme_day", branch=branch, period_start=last_month, resolved_on__isnull=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        hold(
            branch,
            ["theme_day"],
            last_month + timedelta(days=20),
            entered=today,
            backfill_reason="补记",
        )
    flag.refresh_from_db()
    assert flag.resolved_on == today and flag.state == "overdue"
    assert Flag.objects.filter(pk=flag.pk).exists()  # resolved, never deleted


def test_a_back_payment_or_a_departure_resolves_member_flags_on_commit(
    branch, django_capture_on_commit_callbacks
):
    from members import services as member_services

    today = timezone.localdate()
    payer, leaver = branch.people[0], branch.people[1]
    engine.refresh(as_of=today)
    arrears = Flag.objects.get(rule="dues_arrears", member=payer, resolved_on=None)
    assert Flag.objects.filter(member=leaver, resolved_on=None).exists()
    month = today.replace(day=1)
    for back in range(6):  # the back-payment: the six months up to last month (all 第十二条 allows)
        month = (month - timedelta(days=1)).replace(day=1)
        with django_capture_on_commit_callbacks(execute=True):
            member_services.record_dues_payment(member=payer, month=month, paid_on=today, amount=1)
        arrears.refresh_from_db()
        assert arrears.resolved_on == (today if back == 5 else None)  # not before the last month owed
    with django_capture_on_commit_callbacks(execute=True):
        member_services.transfer_out(member=leaver, on=today, counterpart="外县某党支部")
    assert not Flag.objects.filter(member=leaver, resolved_on=None).exists()


def test_the_write_succeeds_and_refreshes_in_process_when_the_broker_is_down(branch, monkeypatch,
                                                                             django_capture_on_commit_callbacks):  # fmt: skip
    from compliance import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker unreachable")

    monkeypatch.setattr(tasks.refresh_branch, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        meeting = hold(branch, ["theme_day"], timezone.localdate(), entered=timezone.localdate())
    assert meeting.pk
    assert Flag.objects.filter(branch=branch).exists()  # the in-process refresh ran


@pytest.mark.parametrize("broker", ["up", "down"])
def test_a_setting_for_a_big_subtree_is_judged_in_the_worker(client, personas, branch, tree, monkeypatch, broker,
                                                             django_capture_on_commit_callbacks):  # fmt: skip
    """A county's subtree would keep the page waiting: the worker judges it, and the page says so. With
    the broker down it is judged in the request rather than not at all."""
    from compliance import tasks

    monkeypatch.setattr(services, "IN_REQUEST_BRANCHES", 1)  # the township's branches count as many
    queued = []

    def enqueue(args):
        if broker == "down":
            raise ConnectionRefusedError("broker unreachable")
        queued.append(args)

    monkeypatch.setattr(tasks.refresh_branches, "apply_async", enqueue)
    engine.refresh(as_of=timezone.localdate())
    owed = Flag.objects.filter(rule="theme_day", branch=branch, resolved_on__isnull=True)
    assert owed.exists()
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    data = theme_day_off(tree)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(reverse("compliance:settings"), data, follow=True).content.decode()
    assert "提醒正在后台按新规则重新判定，稍后刷新页面即可看到" in page
    if broker == "down":
        assert not owed.exists()
        return
    assert owed.exists()
    [(branch_ids, since)] = queued
    assert branch.pk in branch_ids and since is None
    tasks.refresh_branches.run(branch_ids, since)  # the worker
    assert not owed.exists()


def test_a_burst_of_writes_schedules_one_refresh_of_the_branch(branch, monkeypatch,
                                                               django_capture_on_commit_callbacks):  # fmt: skip
    from compliance import tasks

    scheduled = []
    monkeypatch.setattr(
        tasks.refresh_branch, "apply_async", lambda args, countdown: scheduled.append((args, countdown))
    )
    with django_capture_on_commit_callbacks(execute=True):
        for day in (3, 4, 5):
            hold(branch, ["theme_day"], date(2026, 11, day))
    assert scheduled == [((branch.pk,), services.DEBOUNCE_SECONDS)]
    tasks.refresh_branch.run(branch.pk)  # the worker runs it: the next write schedules again
    with django_capture_on_commit_callbacks(execute=True):
        hold(branch, ["general_meeting"], date(2026, 11, 6))
    assert len(scheduled) == 2


def test_a_lost_refresh_does_not_stop_later_ones(branch, monkeypatch, django_capture_on_commit_callbacks):
    from compliance import tasks

    scheduled = []
    monkeypatch.setattr(tasks.refresh_branch, "apply_async", lambda args, countdown: scheduled.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        hold(branch, ["theme_day"], date(2026, 11, 3))
    later = timezone.now() + services.PENDING_LENGTH + timedelta(seconds=1)
    assert services.take_lease(services.pending_refresh(branch.pk), now=later, length=services.PENDING_LENGTH)
    assert len(scheduled) == 1


def test_term_flags(tree):
    branch_services.record_term(
        organisation=tree.a2, elected_on=date(2021, 3, 1), positions=[("secretary", "老书记")]
    )
    school = branch_services.create_organisation(parent=tree.township, name="甲镇小学党支部", level="branch",
                                                 kind="school", founded_on=date(2010, 1, 1))  # fmt: skip
    branch_services.record_term(
        organisation=school, elected_on=date(2024, 3, 1), positions=[("secretary", "校长")]
    )
    engine.refresh(as_of=AS_OF)
    states = {f.branch_id: f.state for f in Flag.objects.filter(rule="committee_term")}
    assert states == {tree.a2.pk: "overdue", school.pk: "due_soon"}


def test_a_term_that_expired_long_ago_resolves_when_the_election_is_recorded(tree):
    # Expired in 2023, before the window of a default refresh (1 January of last year): a deadline,
    # not a period, so it is judged whatever the window.
    branch_services.record_term(
        organisation=tree.a2, elected_on=date(2018, 3, 1), positions=[("secretary", "老书记")]
    )
    engine.refresh(as_of=AS_OF)
    expired = Flag.objects.get(rule="committee_term", branch=tree.a2)
    assert expired.state == "overdue" and expired.period_end == date(2023, 3, 1)
    branch_services.record_term(
        organisation=tree.a2, elected_on=date(2026, 5, 8), positions=[("secretary", "新书记")]
    )
    assert engine.refresh(as_of=AS_OF)["resolved"] >= 1
    expired.refresh_from_db()
    assert expired.resolved_on == AS_OF
    assert not Flag.objects.filter(rule="committee_term", branch=tree.a2, resolved_on=None).exists()


def theme_day_off(tree):
    """The settings page's form: the township stops checking the 主题党日 from 1 January 2025."""
    return {
        "organisation": tree.township.pk,
        "rule": "theme_day",
        "enabled": "0",
        "effective_from": "2025-01-01",
        "confirm_rejudge": "1",  # a date before the current period: the page asks to confirm
    }


def pay(member, year, months, *, paid_on=None):
    """Dues paid for these months of the year, each on the 5th of its month unless paid_on says."""
    for month in months:
        DuesPayment.objects.create(member=member, month=date(year, month, 1), amount=1,
                                   paid_on=paid_on or date(year, month, 5))  # fmt: skip


def test_dues_arrears_and_absence_ladder(branch):
    late, steady = branch.people[0], branch.people[1]
    pay(steady, 2026, range(1, 11))
    pay(late, 2026, range(1, 8))
    absent_from_theme_days(branch, [late], range(6, 11))
    engine.refresh(as_of=AS_OF)
    messages = {f.rule: f.message for f in Flag.objects.filter(member=late)}
    assert "连续3个月未交纳党费" in messages["dues_arrears"]
    assert "连续4至5个月无故不参加组织生活" in messages["absence_ladder"]
    assert not Flag.objects.filter(member=steady, rule__in=["dues_arrears", "absence_ladder"]).exists()


def test_only_one_nightly_run_at_a_time(db):
    assert services.take_lease("nightly_refresh") is True
    assert services.take_lease("nightly_refresh") is False
    assert services.refresh_all_with_lease(as_of=AS_OF) == {"skipped": "另一次刷新正在进行"}
    services.release_lease("nightly_refresh")
    assert "open" in services.refresh_all_with_lease(as_of=AS_OF)


def test_the_command_is_deterministic_for_a_date(branch, capsys):
    call_command("compliance_refresh", "--as-of", "2026-11-23")
    first = sorted(Flag.objects.values_list("key", "raised_on"))
    call_command("compliance_refresh", "--as-of", "2026-11-23")
    assert "新提醒 0 条，解除 0 条" in capsys.readouterr().out
    assert sorted(Flag.objects.values_list("key", "raised_on")) == first


def test_the_work_list_is_scoped(client, personas, branch, tree):
    make_member(tree.b1, None, idn(60), name="乙党员")
    engine.refresh(as_of=AS_OF)
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("compliance:flags")).content.decode()
    assert "甲社区第一党支部" in page and "乙村党支部" not in page
    assert Flag.objects.filter(branch=tree.b1).exists()
    home = client.get(reverse("branches:detail", args=[tree.a1.pk])).content.decode()
    assert "待办提醒" in home


def test_overdue_items_come_before_warnings(client, personas, branch):
    hold(branch, ["theme_day"], date(2026, 10, 30), entered=date(2026, 11, 20), backfill_reason="外出")
    engine.refresh(as_of=AS_OF)
    client.force_login(personas[Role.SECRETARY])
    first_page = client.get(reverse("compliance:flags")).context["page"]
    states = [f.state for f in first_page.paginator.object_list]
    assert states == sorted(states, key=["overdue", "due_soon", "warning"].index)
    assert "warning" in states and "overdue" in states
    assert first_page.object_list[0].state == "overdue"


def test_work_list_queries_do_not_grow(client, personas, branch):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    engine.refresh(as_of=date(2026, 3, 2), since=date(2026, 1, 1))
    client.get(reverse("compliance:flags"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("compliance:flags"))
    small = Flag.objects.filter(resolved_on__isnull=True).count()
    engine.refresh(as_of=AS_OF, since=date(2025, 1, 1))
    assert Flag.objects.filter(resolved_on__isnull=True).count() > small * 3
    client.get(reverse("compliance:flags"))  # the nav badge counts again once after flags change
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("compliance:flags"))
    assert len(many) == len(few)


def test_the_nav_badge_is_counted_again_only_when_flags_change(client, personas, branch):
    from branches.context_processors import open_flag_count
    from compliance.selectors import due_flags, open_flags

    user = personas[Role.TOWNSHIP_ADMIN]
    hold(branch, ["theme_day"], date(2026, 1, 30), entered=date(2026, 2, 27), backfill_reason="外出学习")
    engine.refresh(as_of=date(2026, 3, 2), since=date(2026, 1, 1))
    before = open_flag_count(user)
    assert before == due_flags(user).count() > 0
    assert open_flags(user).filter(state="warning").exists()  # listed, not counted
    with CaptureQueriesContext(connection) as seen_again:
        assert open_flag_count(user) == before
    assert not any("compliance_flag" in q["sql"] for q in seen_again.captured_queries)
    engine.refresh(as_of=AS_OF, since=date(2025, 1, 1))
    after = due_flags(user).count()
    assert after != before
    client.force_login(user)
    assert client.get(reverse("compliance:flags")).context["nav_open_flags"] == after


def test_thought_reports_by_category(branch, tree):
    from members import services as member_services

    activist = member_services.register_member(branch=tree.a1, id_number=idn(70), name="积极分子", category="activist",
                                               applied_on=date(2025, 1, 5), activist_on=date(2025, 3, 1), today=AS_OF)  # fmt: skip
    member_services.record_thought_report(member=activist, received_on=date(2026, 5, 10), today=AS_OF)
    on_time = member_services.register_member(branch=tree.a1, id_number=idn(71), name="按时", category="activist",
                                              applied_on=date(2025, 1, 5), activist_on=date(2025, 3, 1), today=AS_OF)  # fmt: skip
    member_services.record_thought_report(member=on_time, received_on=date(2026, 9, 30), today=AS_OF)
    reporter, last_day = branch.people[0], branch.people[2]
    member_services.record_thought_report(member=reporter, received_on=date(2026, 3, 1), today=AS_OF)
    member_services.record_thought_report(member=last_day, received_on=date(2026, 6, 30), today=AS_OF)
    engine.refresh(as_of=AS_OF)
    messages = {f.member_id: f.message for f in Flag.objects.filter(rule="thought_report")}
    assert messages[activist.pk] == "积极分子：2026年第3季度未交思想汇报"  # quarterly
    assert on_time.pk not in messages  # the quarter's last day counts
    assert (
        reporter.pk not in messages and last_day.pk not in messages
    )  # half-yearly: the first half is covered
    assert messages[branch.people[1].pk] == "党员1：2026年上半年未交思想汇报"


def test_a_member_who_came_by_transfer_owes_no_report_of_a_period_begun_before(branch, tree):
    """Their report of that half-year went to the branch they were in; this one has no record of it."""
    from members import services as member_services

    def transferred(serial, name, on):
        return member_services.register_member(
            branch=tree.a1, id_number=idn(serial), name=name, category="full", joined_on=date(2001, 7, 1),
            confirmed_on=date(2002, 7, 1), started_on=on, transfer={"counterpart": "外县某党支部"}, today=AS_OF,
        )  # fmt: skip

    spring = transferred(72, "春季转入", date(2026, 3, 10))  # after the first half-year began
    last_year = transferred(73, "去年转入", date(2025, 11, 2))
    engine.refresh(as_of=AS_OF)
    owing = set(Flag.objects.filter(rule="thought_report").values_list("member_id", flat=True))
    assert spring.pk not in owing
    assert last_year.pk in owing and branch.people[1].pk in owing  # here for the whole half-year


def test_members_away_three_and_six_months(branch):
    from members import services as member_services

    short, long_ = branch.people[0], branch.people[1]
    member_services.start_mobility(member=short, destination="苏州", started_on=date(2026, 7, 1), today=AS_OF)
    member_services.start_mobility(member=long_, destination="深圳", started_on=date(2026, 3, 1), today=AS_OF,
                                   certificate_issued_on=date(2026, 3, 5))  # fmt: skip
    engine.refresh(as_of=AS_OF)
    messages = {f.member_id: f.message for f in Flag.objects.filter(rule="mobile_member")}
    assert "已满3个月，尚未开具证明信" in messages[short.pk]
    assert "已满6个月：应转移组织关系" in messages[long_.pk]


def test_development_deadlines(branch, tree):
    from members import services as member_services

    applicant = member_services.register_member(branch=tree.a1, id_number=idn(80), name="申请人", category="applicant",
                                                applied_on=date(2026, 9, 1), today=AS_OF)  # fmt: skip
    talked = member_services.register_member(branch=tree.a1, id_number=idn(81), name="已谈话", category="applicant",
                                             applied_on=date(2026, 9, 1), today=AS_OF)  # fmt: skip
    member_services.record_pipeline_event(
        member=talked, kind="talk", happened_on=date(2026, 9, 20), today=AS_OF
    )
    engine.refresh(as_of=AS_OF)
    flags = {f.member_id: f.message for f in Flag.objects.filter(rule="pipeline")}
    assert flags == {applicant.pk: "申请人：申请后一个月内谈话（期限 2026-10-01）"}


def test_an_extended_probation_is_due_when_the_extension_ends(branch, tree):
    """延长预备期 moves 预备期满 by its months on 待办 as on the member's page, not a year after joining."""
    from members import services as member_services

    extended = member_services.register_member(branch=tree.a1, id_number=idn(82), name="延长者",
                                               category="probationary", applied_on=date(2023, 1, 5),
                                               activist_on=date(2023, 3, 1), joined_on=date(2025, 10, 1),
                                               today=AS_OF)  # fmt: skip
    plain = member_services.register_member(branch=tree.a1, id_number=idn(83), name="未延长",
                                            category="probationary", applied_on=date(2023, 1, 5),
                                            activist_on=date(2023, 3, 1), joined_on=date(2025, 10, 1),
                                            today=AS_OF)  # fmt: skip
    for member in (extended, plain):
        member_services.record_pipeline_event(member=member, kind="approval", happened_on=date(2025, 11, 1),
                                              today=AS_OF)  # fmt: skip
    member_services.record_pipeline_event(member=extended, kind="extension", happened_on=date(2026, 9, 20),
                                          months=6, today=AS_OF)  # fmt: skip
    engine.refresh(as_of=AS_OF)
    flags = {f.member_id: f.message for f in Flag.objects.filter(rule="pipeline", resolved_on__isnull=True)}
    assert flags.get(plain.pk) == "未延长：预备期满，讨论转正（期限 2026-10-01）"
    assert extended.pk not in flags  # due 2027-04-01, months away
    engine.refresh(as_of=date(2027, 3, 10))
    flag = Flag.objects.get(rule="pipeline", member=extended, resolved_on__isnull=True)
    assert (flag.state, flag.message) == ("due_soon", "延长者：预备期满，讨论转正（期限 2027-04-01）")


def test_political_birthday_this_month(branch):
    engine.refresh(as_of=date(2026, 7, 3))
    assert Flag.objects.filter(rule="political_birthday").count() == 4  # all joined on 1 July 2005
    engine.refresh(as_of=date(2026, 8, 3))
    assert not Flag.objects.filter(rule="political_birthday", resolved_on__isnull=True).exists()


def test_checklist_shows_met_by_which_record_due_and_not_applicable(client, personas, branch, tree):
    meeting = hold(branch, ["theme_day", "party_lecture"], date(2026, 11, 20))
    client.force_login(personas[Role.SECRETARY])
    url = reverse("compliance:checklist", args=[tree.a1.pk])
    response = client.get(url, {"on": "2026-11-23", "as_of": "2026-11-23"})
    rows = {(r.rule.code, r.group_id): r for r in response.context["rows"]}
    assert rows[("theme_day", None)].obligation.state == "met"
    assert rows[("theme_day", None)].records == [meeting]
    assert rows[("party_lecture", None)].obligation.state == "met"
    assert rows[("general_meeting", None)].obligation.state == "due"
    assert rows[("merged_meeting", None)].obligation.reason == "未实行支组合一"
    assert {rows[("group_meeting", g.pk)].obligation.state for g in (tree.g1, tree.g2)} == {"due"}
    page = response.content.decode()
    assert "已完成" in page and "未实行支组合一" in page and f"/meetings/{meeting.pk}/" in page
    # The 记录 button carries the period: opened after it ended, the form is dated in it.
    assert f"?group={tree.g1.pk}&amp;period_end=2026-11-30" in page  # 党小组会: monthly
    assert f"?branch={tree.a1.pk}&amp;type=general_meeting&amp;period_end=2026-12-31" in page  # quarterly
    late = client.get(url, {"on": "2026-11-28", "as_of": "2026-11-28"}).context["rows"]
    assert {r.rule.code: r.obligation.state for r in late if r.group_id is None}[
        "committee_meeting"
    ] == "due_soon"


def test_checklist_of_a_past_date_shows_how_its_periods_stand_today(client, personas, branch, tree):
    """Picking a past day shows that day's periods as they stand now: a month missed is 逾期, not 待完成,
    and a meeting held after the chosen day but within its period counts; the state on the day itself is
    one link away."""
    september = hold(branch, ["theme_day"], date(2026, 9, 25))
    client.force_login(personas[Role.SECRETARY])
    url = reverse("compliance:checklist", args=[tree.a1.pk])
    with mock.patch("compliance.views.timezone.localdate", return_value=date(2026, 11, 23)):
        page = client.get(url, {"on": "2026-09-10"})
        on_the_day = client.get(url, {"on": "2026-09-10", "as_of": "2026-09-10"})
    rows = {(r.rule.code, r.group_id): r for r in page.context["rows"]}
    assert rows[("theme_day", None)].obligation.state == "met"
    assert rows[("theme_day", None)].records == [september]
    assert rows[("committee_meeting", None)].obligation.state == "overdue"
    text = page.content.decode()
    assert "2026年9月10日所在周期的事项，状态截至2026年11月23日" in text
    assert "?on=2026-09-10&amp;as_of=2026-09-10" in text  # 看9月10日当天的状态
    then = {(r.rule.code, r.group_id): r.obligation.state for r in on_the_day.context["rows"]}
    assert then[("theme_day", None)] == "due" and then[("committee_meeting", None)] == "due"
    assert "看现在的状态" in on_the_day.content.decode()


def test_checklist_says_a_rule_switched_off_locally_is_not_applicable_and_why(client, personas, branch, tree):
    RuleSetting.objects.create(organisation=tree.township, rule="group_meeting", enabled=False,
                               effective_from=date(2026, 10, 15))  # fmt: skip
    client.force_login(personas[Role.SECRETARY])
    url = reverse("compliance:checklist", args=[tree.a1.pk])
    rows = client.get(url, {"on": "2026-11-23", "as_of": "2026-11-23"}).context["rows"]
    groups = [r for r in rows if r.rule.code == "group_meeting"]
    assert {(r.group_id, r.obligation.state) for r in groups} == {
        (tree.g1.pk, "not_applicable"),
        (tree.g2.pk, "not_applicable"),
    }
    assert {r.obligation.reason for r in groups} == {"本地规则自2026-10-15起不检查"}
    october = client.get(url, {"on": "2026-10-20", "as_of": "2026-10-20"}).context["rows"]
    assert {r.obligation.state for r in october if r.rule.code == "group_meeting"} == {
        "due"
    }  # its month began before


def test_checklist_queries_do_not_grow_with_meetings(client, personas, branch, tree):
    client.force_login(personas[Role.SECRETARY])
    url = reverse("compliance:checklist", args=[tree.a1.pk])
    hold(branch, ["theme_day"], date(2026, 1, 20))
    client.get(url, {"on": "2026-11-23"})
    with CaptureQueriesContext(connection) as few:
        client.get(url, {"on": "2026-11-23"})
    for month in range(2, 11):
        hold(branch, ["theme_day", "general_meeting"], date(2026, month, 20))
    with CaptureQueriesContext(connection) as many:
        client.get(url, {"on": "2026-11-23"})
    assert len(many) == len(few)


def test_the_office_adds_a_local_rule_and_flags_follow(
    client, personas, branch, tree, django_capture_on_commit_callbacks
):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    data = theme_day_off(tree)
    engine.refresh(as_of=timezone.localdate())
    assert Flag.objects.filter(rule="theme_day", branch=branch, resolved_on__isnull=True).exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("compliance:settings"), data)
    assert response.status_code == 302
    assert not Flag.objects.filter(rule="theme_day", branch=branch, resolved_on__isnull=True).exists()
    again = client.post(reverse("compliance:settings"), data)
    assert "同一规则在这一天已有设置" in again.content.decode()
    assert RuleSetting.objects.count() == 1
    setting = RuleSetting.objects.get()
    assert setting.history.count() == 1 and setting.created_by == personas[Role.TOWNSHIP_ADMIN]
    RuleSetting.objects.create(organisation=tree.township, rule="committee_meeting", count=2,
                               effective_from=date(2026, 1, 1))  # fmt: skip
    history = " ".join(client.get(reverse("compliance:settings")).content.decode().split())
    assert "不检查" in history and "每月2次" in history  # the rule's own period, said


def test_the_office_cannot_set_rules_for_another_township(client, personas, tree):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    response = client.post(reverse("compliance:settings"), {"organisation": tree.other_township.pk, "rule": "theme_day",
                                                            "enabled": "0", "effective_from": "2025-01-01"})  # fmt: skip
    assert response.status_code == 200 and "选择一个有效的选项" in response.content.decode()
    assert not RuleSetting.objects.exists()


def test_a_failing_refresh_never_fails_the_users_write(
    branch, monkeypatch, django_capture_on_commit_callbacks
):
    from compliance import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker unreachable")

    def refresh_fails(*args, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(tasks.refresh_branch, "apply_async", broker_down)
    monkeypatch.setattr(tasks.refresh_branch, "run", refresh_fails)
    with django_capture_on_commit_callbacks(execute=True):
        meeting = hold(branch, ["theme_day"], timezone.localdate())
    assert meeting.pk


def test_theme_day_moved_without_approval_and_org_life_without_its_records(branch):
    moved = hold(branch, ["theme_day"], date(2026, 10, 20))  # the fixed day was Friday 30 October
    approved = hold(
        branch,
        ["theme_day"],
        date(2026, 9, 20),
        off_day_approved_by="镇党委",
        off_day_approved_on=date(2026, 9, 18),
    )
    on_day = hold(branch, ["theme_day"], date(2026, 8, 28))
    thin = hold(branch, ["org_life_meeting"], date(2026, 1, 20), for_year=2025, opinions="征求意见12条")
    engine.refresh(as_of=AS_OF)
    assert set(Flag.objects.filter(rule="theme_day_moved").values_list("meeting_id", flat=True)) == {moved.pk}
    assert approved.pk and on_day.pk
    message = Flag.objects.get(rule="org_life_records").message
    assert (
        message
        == f"{thin.held_on:%Y-%m-%d}组织生活会缺少：会前谈心谈话、对照检查材料、批评与自我批评、整改清单、报告上级党委"
    )


def test_a_members_page_shows_what_needs_attention(client, personas, branch):
    from members import services as member_services

    away = branch.people[2]
    member_services.start_mobility(member=away, destination="深圳", started_on=date(2026, 3, 1), today=AS_OF)
    engine.refresh(as_of=AS_OF)
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("members:detail", args=[away.pk])).content.decode()
    assert "需要关注" in page and "外出深圳已满6个月" in page


def test_secretary_lecture_needs_the_sitting_secretary_as_lecturer(branch):
    hold(branch, ["party_lecture"], date(2025, 3, 14), lecturer="党员1")
    engine.refresh(as_of=AS_OF, since=date(2025, 1, 1))
    assert ("secretary_lecture", "2025-01-01", "overdue") in open_keys("secretary_lecture", branch=branch)
    flag = Flag.objects.get(
        rule="secretary_lecture", branch=branch, period_start=date(2025, 1, 1), resolved_on=None
    )
    assert "书记未讲" in flag.message and "应1次，已0次" in flag.message
    hold(branch, ["party_lecture", "theme_day"], date(2025, 6, 27), lecturer="支部书记 党员0")
    engine.refresh(as_of=AS_OF, since=date(2025, 1, 1))
    assert ("secretary_lecture", "2025-01-01", "overdue") not in open_keys("secretary_lecture", branch=branch)


def _secretary_lectures(branch):
    held = engine.read_units([branch.pk], since=date(2023, 1, 1), as_of=AS_OF).held
    return {
        (b, month): n
        for (b, _g, type_, month), n in held.by_month.items()
        if type_ == engine.SECRETARY_LECTURE
    }


def test_a_lecture_before_the_secretary_took_office_does_not_count(branch):
    hold(branch, ["party_lecture"], date(2023, 12, 1), lecturer="党员0")  # elected 2024-01-05
    assert _secretary_lectures(branch) == {}
    hold(branch, ["party_lecture"], date(2024, 2, 1), lecturer="党员0")
    assert _secretary_lectures(branch) == {(branch.pk, date(2024, 2, 1)): 1}


def test_talk_coverage_flags_until_every_pair_and_member_is_covered(branch):
    p = branch.people  # committee: 党员0 (书记), 党员1, 党员2; 党员3 is a member
    meeting_services.record_talks(branch=branch, talked_on=date(2025, 5, 6), today=AS_OF,
                                  pairs=[(p[0], p[1], "谈工作"), (p[1], p[2], "谈工作")])  # fmt: skip
    engine.refresh(as_of=AS_OF, since=date(2025, 1, 1))
    flag = Flag.objects.get(
        rule="talk_coverage", branch=branch, period_start=date(2025, 1, 1), resolved_on=None
    )
    assert flag.state == "overdue" and "应4人次，已2人次" in flag.message
    meeting_services.record_talks(branch=branch, talked_on=date(2025, 9, 1), today=AS_OF,
                                  pairs=[(p[2], p[0], "谈思想"), (p[3], p[1], "谈思想")])  # fmt: skip
    engine.refresh(as_of=AS_OF, since=date(2025, 1, 1))
    assert not Flag.objects.filter(
        rule="talk_coverage", period_start=date(2025, 1, 1), resolved_on=None
    ).exists()
    assert Flag.objects.filter(
        rule="talk_coverage", period_start=date(2025, 1, 1), resolved_on=AS_OF
    ).exists()


def test_member_review_is_met_by_a_closed_campaign_and_low_grades_need_follow_up(branch):
    from evaluations import services as review_services
    from tests.conftest import make_campaign

    engine.refresh(as_of=AS_OF, since=date(2025, 1, 1))
    assert ("member_review", "2025-01-01", "overdue") in open_keys("member_review", branch=branch)
    grades = {branch.people[3]: ("basic", "长期不参加组织生活")}
    campaign = make_campaign(branch, year=2025, campaign_on=date(2025, 12, 1), grades=grades, close=True)
    engine.refresh(as_of=AS_OF, since=date(2025, 1, 1))
    assert ("member_review", "2025-01-01", "overdue") not in open_keys("member_review", branch=branch)
    followup = Flag.objects.get(rule="review_followup", branch=branch, resolved_on=None)
    assert followup.member == branch.people[3] and "尚未登记" in followup.message
    participant = campaign.participants.get(member=branch.people[3])
    review_services.add_followup(participant=participant, kind="rectify", proposed_on=date(2026, 1, 5), today=AS_OF,
                                 deadline_on=date(2026, 3, 31), note="限期三个月")  # fmt: skip
    engine.refresh(as_of=AS_OF, since=date(2025, 1, 1))
    overdue = Flag.objects.get(rule="review_followup", branch=branch, resolved_on=None)
    assert overdue.state == "overdue" and "期限2026-03-31" in overdue.message


def test_a_past_period_judged_as_of_today_shows_how_it_ended(client, personas, branch, tree):
    lecture = hold(branch, ["party_lecture"], date(2026, 3, 10), lecturer="宣传委员")
    by_secretary = hold(branch, ["party_lecture"], date(2026, 3, 20), lecturer="书记 党员0")
    client.force_login(personas[Role.SECRETARY])
    url = reverse("compliance:checklist", args=[tree.a1.pk])
    then = {
        r.rule.code: r
        for r in client.get(url, {"on": "2026-03-28", "as_of": "2026-03-28"}).context["rows"]
        if r.group_id is None
    }
    assert then["theme_day"].obligation.state == "due_soon"  # on 28 March there were days left
    response = client.get(url, {"on": "2026-03-28", "as_of": "2026-11-25"})
    later = {r.rule.code: r for r in response.context["rows"] if r.group_id is None}
    assert (
        later["theme_day"].obligation.state == "overdue"
        and "状态截至2026年11月25日" in response.content.decode()
    )
    assert then["party_lecture"].records == [lecture, by_secretary]
    assert then["secretary_lecture"].records == [by_secretary]  # only the secretary's lecture counts for it


def test_lost_contact_six_months_then_two_years_after_suspension(branch, client, personas):
    from members import services as member_services

    person = branch.people[3]
    client.force_login(personas[Role.SECRETARY])
    edit = reverse("members:edit", args=[person.pk])
    fields = {"name": person.name, "id_number": person.id_number, "dues_kind": person.dues_kind,
              "ethnicity": person.ethnicity}  # fmt: skip
    page = client.post(edit, {**fields, "lost_contact_on": "2099-01-01"}).content.decode()
    assert "失去联系日期不能晚于今天" in page
    client.post(edit, {**fields, "lost_contact_on": "2026-03-01"})
    person.refresh_from_db()
    assert person.lost_contact_on == date(2026, 3, 1)
    engine.refresh(as_of=date(2026, 8, 30), since=date(2026, 1, 1))
    assert not Flag.objects.filter(rule="lost_contact", resolved_on=None).exists()  # not yet six months
    engine.refresh(as_of=AS_OF, since=date(2026, 1, 1))
    flag = Flag.objects.get(rule="lost_contact", resolved_on=None)
    assert flag.member == person and "停止其党籍" in flag.message
    member_services.change_status(member=person, status="suspended", on=date(2026, 11, 1), reason="失联",
                                  today=AS_OF)  # fmt: skip
    engine.refresh(as_of=AS_OF, since=date(2026, 1, 1))
    assert not Flag.objects.filter(rule="lost_contact", resolved_on=None).exists()
    engine.refresh(as_of=date(2028, 11, 2), since=date(2028, 1, 1))
    assert "应予除名" in Flag.objects.get(rule="lost_contact", resolved_on=None).message


def test_the_nightly_run_starts_at_the_year_of_last_month():
    assert engine.nightly_since(date(2026, 12, 1)) == date(2026, 1, 1)
    assert engine.nightly_since(date(2026, 2, 1)) == date(2026, 1, 1)
    # In January the periods that closed in December (the year, its quarter, its month) are still judged.
    assert engine.nightly_since(date(2027, 1, 1)) == date(2026, 1, 1)
    assert engine.nightly_since(date(2027, 1, 31)) == date(2026, 1, 1)


def test_the_nightly_run_raises_what_a_month_ending_makes_overdue(branch):
    for month in range(1, 11):
        hold(branch, ["theme_day"], date(2026, month, 20))
    engine.refresh(as_of=date(2026, 11, 25), since=date(2026, 1, 1))
    assert open_keys("theme_day", branch=branch) == {("theme_day", "2026-11-01", "due_soon")}
    changed = engine.refresh(as_of=date(2026, 12, 1), time_only=True)
    assert open_keys("theme_day", branch=branch) == {("theme_day", "2026-11-01", "overdue")}
    assert changed["raised"] >= 1 and changed["resolved"] >= 1
    # The next night no period has come near its end or passed it: nothing is written.
    again = engine.refresh(as_of=date(2026, 12, 2), time_only=True)
    assert (again["raised"], again["resolved"]) == (0, 0)


def test_a_nightly_rerun_in_spring_writes_nothing_for_last_years_thought_reports(branch):
    # The reports owed are last year's second half: a period that ended before the nightly window.
    engine.refresh(as_of=date(2026, 2, 10))
    assert Flag.objects.filter(
        rule="thought_report", period_end=date(2025, 12, 31), resolved_on=None
    ).exists()
    again = engine.refresh(as_of=date(2026, 2, 12), time_only=True)
    assert (again["raised"], again["resolved"]) == (0, 0)


def test_a_period_left_due_soon_by_missed_nights_does_not_unsettle_the_others(branch):
    engine.refresh(as_of=date(2025, 12, 28), since=date(2025, 1, 1))  # December: the year's flags due soon
    engine.refresh(as_of=date(2026, 2, 2), time_only=True)  # no night ran in January
    january = set(Flag.objects.filter(period_start=date(2026, 1, 1), state="overdue", resolved_on=None)
                  .values_list("pk", flat=True))  # fmt: skip
    assert january
    engine.refresh(as_of=date(2026, 3, 5), time_only=True)
    assert january <= set(Flag.objects.filter(resolved_on=None).values_list("pk", flat=True))


def test_a_nightly_run_from_a_late_date_judges_no_period_it_has_no_meetings_for(branch):
    for month in range(1, 11):
        hold(branch, ["theme_day"], date(2026, month, 20))
    engine.refresh(as_of=AS_OF, time_only=True, since=date(2026, 11, 15))
    assert not Flag.objects.filter(rule="theme_day", period_start=date(2026, 10, 1)).exists()


def test_the_nightly_run_leaves_record_warnings_as_the_writes_left_them(branch):
    meeting = hold(
        branch, ["theme_day"], date(2026, 10, 30), entered=date(2026, 11, 20), backfill_reason="外出"
    )
    engine.refresh(as_of=AS_OF)
    flag = Flag.objects.get(rule="backfill", resolved_on__isnull=True)
    assert flag.meeting == meeting and flag.period_end == meeting.held_on
    # Changed behind the application's back (the admin site, a shell): only a full refresh sees it.
    type(meeting).objects.filter(pk=meeting.pk).update(is_backfill=False)
    engine.refresh(as_of=AS_OF + timedelta(days=1), time_only=True)
    flag.refresh_from_db()
    assert flag.resolved_on is None
    engine.refresh(as_of=AS_OF + timedelta(days=1))
    flag.refresh_from_db()
    assert flag.resolved_on == AS_OF + timedelta(days=1)


def test_dues_arrears_take_the_step_of_the_whole_unpaid_run(branch):
    """Last month is October 2026: a run of 6 months or more is 连续6个月, whenever the last payment was."""
    paid_up_to = {"一月起未交": 1, "四月起未交": 4, "五月起未交": 5, "七月起未交": 7, "从未交纳": None}
    people = {name: make_member(branch, None, idn(90 + i), name=name) for i, name in enumerate(paid_up_to)}
    for name, last in paid_up_to.items():
        pay(people[name], 2026, range(1, (last or 0) + 1))
    engine.refresh(as_of=AS_OF)
    steps = dict(
        Flag.objects.filter(rule="dues_arrears", member__in=people.values()).values_list(
            "member__name", "key"
        )
    )
    assert {name: key.rsplit(":", 1)[1] for name, key in steps.items()} == {
        "一月起未交": "dues_lapsed",
        "四月起未交": "dues_lapsed",
        "五月起未交": "dues_reminder",
        "七月起未交": "dues_reminder",
        "从未交纳": "dues_lapsed",
    }


def test_paying_the_latest_months_leaves_the_unpaid_run_before_them_in_arrears(branch, client, personas):
    """RULES.md: a back-payment clears the arrears. Paying this month and last leaves May to October owed:
    the 6-month flag stands, on the member's page too, until those months are paid; a run that ended more
    than 6 months before last month, which no back-payment can cover any more, is the branch's settled matter."""
    person = branch.people[0]
    as_of = date(2026, 12, 7)  # last month: November
    pay(person, 2026, (*range(1, 5), 11, 12))
    engine.refresh(as_of=as_of)
    assert open_keys("dues_arrears", member=person) == {("dues_arrears", "None", "overdue")}
    assert Flag.objects.get(rule="dues_arrears", member=person, resolved_on=None).key.endswith(":dues_lapsed")
    client.force_login(personas[Role.SECRETARY])
    with mock.patch("members.selectors.timezone.localdate", return_value=as_of):
        page = client.get(reverse("members:detail", args=[person.pk])).content.decode()
    assert "2026年5月至2026年10月连续 6 个月未缴纳党费，请补交" in page
    pay(person, 2026, range(5, 11), paid_on=as_of)
    engine.refresh(as_of=as_of)
    assert not open_keys("dues_arrears", member=person)
    old_run = branch.people[1]  # unpaid January to March 2026, paid since: too old to back-pay in December
    pay(old_run, 2026, range(4, 13))
    pay(old_run, 2025, range(1, 13))
    engine.refresh(as_of=as_of)
    assert not open_keys("dues_arrears", member=old_run)
    engine.refresh(as_of=date(2026, 6, 3))  # in June, January to March could still be made good
    assert open_keys("dues_arrears", member=old_run) == {("dues_arrears", "None", "overdue")}


def test_a_member_transferred_in_owes_dues_here_from_arriving(tree, client, personas):
    """Joined in 2005, on this roster since October 2026 (the earlier months were paid elsewhere): as of
    7 December, October and November are unpaid here: two months, no reminder yet; the page says that no
    payment is recorded here since October."""
    arrived = make_member(tree.a1, None, idn(70), name="转入党员", started_on=date(2026, 10, 9))
    engine.refresh(as_of=date(2026, 12, 7))
    assert not open_keys("dues_arrears", member=arrived)
    client.force_login(personas[Role.SECRETARY])
    with mock.patch("members.selectors.timezone.localdate", return_value=date(2026, 12, 7)):
        page = client.get(reverse("members:detail", args=[arrived.pk])).content.decode()
    assert "本系统暂无该党员的党费缴纳记录（自2026年10月起应缴）。" in page  # none recorded here yet
    engine.refresh(as_of=date(2027, 2, 3))  # October to January: four months
    assert Flag.objects.get(rule="dues_arrears", member=arrived, resolved_on=None).key.endswith(
        ":dues_reminder"
    )


def test_the_nightly_run_leaves_the_absence_ladder_as_the_writes_left_it(branch):
    person = branch.people[0]
    absent_from_theme_days(branch, [person], range(6, 11))
    engine.refresh(as_of=AS_OF)
    flag = Flag.objects.get(rule="absence_ladder", member=person, resolved_on=None)
    # Months pass with no meeting: no absence is added and none is taken away.
    assert engine.refresh(as_of=date(2027, 2, 1), time_only=True)
    flag.refresh_from_db()
    assert flag.resolved_on is None
    # Attendance corrected behind the application's back: the weekly run's full judgement takes it in.
    Attendance.objects.filter(member=person, status="absent").update(status="leave")
    engine.refresh(as_of=date(2027, 2, 2), time_only=True)
    flag.refresh_from_db()
    assert flag.resolved_on is None
    engine.refresh(as_of=date(2027, 2, 2))
    flag.refresh_from_db()
    assert flag.resolved_on == date(2027, 2, 2)


def test_the_nightly_run_resolves_the_ladder_of_a_member_who_left(branch):
    from members import services as member_services

    leaving, staying = branch.people[0], branch.people[1]
    absent_from_theme_days(branch, [leaving, staying], range(6, 11))
    engine.refresh(as_of=AS_OF)
    assert Flag.objects.filter(rule="absence_ladder", resolved_on=None).count() == 2
    member_services.transfer_out(member=leaving, on=AS_OF, counterpart="外县某党支部", today=AS_OF)
    engine.refresh(as_of=AS_OF + timedelta(days=1), time_only=True)
    left = Flag.objects.get(rule="absence_ladder", member=leaving)
    assert left.resolved_on == AS_OF + timedelta(days=1)
    assert Flag.objects.get(rule="absence_ladder", member=staying).resolved_on is None


def test_the_ladder_of_a_member_whose_membership_is_suspended_resolves(branch):
    """停止党籍 ends the 自行脱党 question as it ends the dues owed: the branch home no longer asks it."""
    from members import services as member_services

    suspended, staying = branch.people[0], branch.people[1]
    absent_from_theme_days(branch, [suspended, staying], range(6, 11))
    engine.refresh(as_of=AS_OF)
    member_services.change_status(member=suspended, status="suspended", on=AS_OF, reason="失联", today=AS_OF)
    engine.refresh(as_of=AS_OF, branch_ids=[branch.pk])
    assert Flag.objects.get(rule="absence_ladder", member=suspended).resolved_on == AS_OF
    assert Flag.objects.get(rule="absence_ladder", member=staying).resolved_on is None
    # The night agrees, whatever wrote the change.
    Flag.objects.filter(rule="absence_ladder", member=suspended).update(resolved_on=None, resolved_by="")
    engine.refresh(as_of=AS_OF + timedelta(days=1), time_only=True)
    assert Flag.objects.get(rule="absence_ladder", member=suspended).resolved_on == AS_OF + timedelta(days=1)


def test_an_applicant_out_of_contact_is_not_flagged_for_suspension(branch, tree):
    from members import services as member_services

    applicant = member_services.register_member(branch=tree.a1, id_number=idn(75), name="申请人", category="applicant",
                                                applied_on=date(2025, 3, 1), today=AS_OF)  # fmt: skip
    Member.objects.filter(pk__in=[applicant.pk, branch.people[3].pk]).update(lost_contact_on=date(2026, 3, 1))
    engine.refresh(as_of=AS_OF)
    assert set(Flag.objects.filter(rule="lost_contact").values_list("member_id", flat=True)) == {
        branch.people[3].pk
    }


def test_a_record_warning_older_than_the_window_stands(branch):
    """A rebuild from an early date flags old records; a later refresh that no longer reads them
    must not take their warnings for resolved."""
    hold(branch, ["theme_day"], date(2024, 3, 29), entered=date(2024, 4, 25), backfill_reason="外出")
    engine.refresh(as_of=AS_OF, since=date(2024, 1, 1))
    old = Flag.objects.get(rule="backfill")
    assert engine.refresh(as_of=AS_OF)["resolved"] == 0  # judges from 2025
    old.refresh_from_db()
    assert old.resolved_on is None


def test_the_weekly_run_judges_everything_under_the_same_lease(branch):
    from compliance import tasks
    from config.celery import app

    schedule = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"compliance.tasks.nightly_refresh", "compliance.tasks.weekly_refresh"} <= schedule
    hold(branch, ["theme_day"], date(2026, 10, 30), entered=date(2026, 11, 20), backfill_reason="外出")
    assert services.take_lease("nightly_refresh") is True
    assert tasks.weekly_refresh.apply().get() == {"skipped": "另一次刷新正在进行"}
    services.release_lease("nightly_refresh")
    assert tasks.nightly_refresh.apply().get()["open"] > 0
    assert not Flag.objects.filter(rule="backfill").exists()  # the nightly run does not look at records
    tasks.weekly_refresh.apply().get()
    assert Flag.objects.filter(rule="backfill", resolved_on__isnull=True).count() == 1


def test_record_warnings_raised_before_they_carried_a_date_are_given_their_meetings(branch):
    from importlib import import_module

    from django.apps import apps

    meeting = hold(
        branch, ["theme_day"], date(2026, 10, 30), entered=date(2026, 11, 20), backfill_reason="外出"
    )
    engine.refresh(as_of=AS_OF)
    Flag.objects.update(period_end=None)  # as 0007 left them
    import_module("compliance.migrations.0008_record_flags_dated").date_record_flags(apps, None)
    assert Flag.objects.get(rule="backfill").period_end == meeting.held_on


def test_the_record_link_is_offered_only_where_a_meeting_meets_the_flag(client, personas, branch):
    def flag(rule, **extra):
        return Flag.objects.create(key=f"{rule}:test", rule=rule, state="overdue", branch=branch, message=rule,
                                   raised_on=AS_OF, period_start=date(2026, 7, 1), **extra)  # fmt: skip

    assert flag("theme_day").record_type == "theme_day"
    assert flag("secretary_lecture").record_type == "party_lecture"
    assert flag("group_meeting").record_type == ""  # the form asks which group
    assert flag("training_hours").record_type is None and flag("thought_report").record_type is None
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("compliance:flags")).content.decode()
    assert page.count(">记录</a>") == 3
    assert (
        "type=party_lecture" in page
        and "type=training_hours" not in page
        and "type=thought_report" not in page
    )


def test_the_nightly_run_counts_meetings_from_the_longest_period_it_judges(tree):
    yearly = RuleSetting(organisation=tree.township, rule="party_lecture", count=4, period_kind="year",
                         effective_from=date(2026, 1, 1))  # fmt: skip
    # By default the longest period of a meeting rule is a quarter (党员大会, 党课).
    assert engine.months_counted_from(date(2026, 11, 1), []) == date(2026, 10, 1)
    assert engine.months_counted_from(date(2026, 11, 1), [yearly]) == date(2026, 1, 1)
    assert engine.months_counted_from(date(2027, 1, 1), []) == date(2027, 1, 1)
    # As of a day, only the rules with a period over or due soon count: on 7 December the monthly ones
    # (November is over; the quarter is due soon from the 25th), with nothing due at all none of them.
    assert engine.months_counted_from(date(2026, 11, 1), [], as_of=date(2026, 12, 7)) == date(2026, 11, 1)
    assert engine.months_counted_from(date(2026, 11, 1), [], as_of=date(2026, 12, 25)) == date(2026, 10, 1)
    assert engine.months_counted_from(date(2026, 11, 1), [yearly], as_of=date(2026, 12, 25)) == date(
        2026, 1, 1
    )
    assert engine.months_counted_from(date(2026, 12, 1), [], as_of=date(2026, 12, 7)) is None


def test_the_nightly_run_counts_a_yearly_setting_from_january(branch, tree):
    RuleSetting.objects.create(organisation=tree.township, rule="party_lecture", count=3, period_kind="year",
                               effective_from=date(2026, 1, 1))  # fmt: skip
    for day in (date(2026, 2, 1), date(2026, 5, 1)):
        hold(branch, ["party_lecture"], day)
    engine.refresh(as_of=date(2026, 12, 25), since=date(2026, 1, 1))
    assert ("party_lecture", "2026-01-01", "due_soon") in open_keys("party_lecture", branch=branch)
    # The third lecture is held in December: the year is met, counting February's and May's too.
    hold(branch, ["party_lecture"], date(2026, 12, 26))
    engine.refresh(as_of=date(2026, 12, 27), time_only=True)
    assert not open_keys("party_lecture", branch=branch)


def test_the_nightly_run_judges_a_quarter_by_all_its_months(branch):
    # October's 党员大会 meets the fourth quarter, judged in December from November on.
    hold(branch, ["general_meeting"], date(2026, 10, 10))
    engine.refresh(as_of=date(2026, 12, 26), time_only=True)
    assert ("general_meeting", "2026-10-01", "due_soon") not in open_keys("general_meeting", branch=branch)
    engine.refresh(as_of=date(2027, 1, 2), time_only=True)
    assert not open_keys("general_meeting", branch=branch, period_start=date(2026, 10, 1))


def _night(as_of):
    """The nightly run as of a day, and the tables its statements read."""
    with CaptureQueriesContext(connection) as night:
        engine.refresh(as_of=as_of, time_only=True)
    return " ".join(query["sql"] for query in night)


def test_the_nightly_run_reads_the_yearly_records_only_when_a_year_is_due(branch, tree):
    # 书记讲党课, 谈心谈话 and 组织生活会 are yearly: on 1 December no period of theirs is over or due soon.
    assert "meetings_talk" not in _night(date(2026, 12, 1))
    assert not open_keys("secretary_lecture", branch=branch) and not open_keys("talk_coverage", branch=branch)
    # In the year's last week they are, and the night reads what counts towards them.
    assert "meetings_talk" in _night(date(2026, 12, 25))
    assert ("secretary_lecture", "2026-01-01", "due_soon") in open_keys("secretary_lecture", branch=branch)
    assert ("talk_coverage", "2026-01-01", "due_soon") in open_keys("talk_coverage", branch=branch)


def test_the_nightly_run_reads_the_lectures_when_a_setting_makes_the_secretary_lecture_monthly(branch, tree):
    RuleSetting.objects.create(organisation=tree.township, rule="secretary_lecture", count=1, period_kind="month",
                               effective_from=date(2026, 1, 1))  # fmt: skip
    hold(branch, ["party_lecture"], date(2026, 11, 5), lecturer="支部书记党员0")
    _night(date(2026, 12, 1))  # judges November: A1's secretary gave a lecture, A2's did not
    assert not open_keys("secretary_lecture", branch=branch)
    assert open_keys("secretary_lecture", branch=tree.a2) == {("secretary_lecture", "2026-11-01", "overdue")}
    assert not open_keys("talk_coverage", branch=branch)


def _moved_member_flags(branch, tree, refreshes):
    """A member with dues in arrears moves from 支部 A1 to A2; returns their open flag after the refreshes."""
    from members import services as member_services

    mover = branch.people[0]
    engine.refresh(as_of=AS_OF)
    before = Flag.objects.get(rule="dues_arrears", member=mover, resolved_on=None)
    assert before.branch == tree.a1
    member_services.move_member(member=mover, branch=tree.a2, on=AS_OF, today=AS_OF)
    for branch_ids in refreshes:
        engine.refresh(as_of=AS_OF, branch_ids=branch_ids)
    before.refresh_from_db()
    assert before.resolved_on == AS_OF
    return Flag.objects.get(rule="dues_arrears", member=mover, resolved_on=None)


def test_a_moved_members_flag_follows_them_whichever_branch_refreshes_first(branch, tree):
    flag = _moved_member_flags(branch, tree, [[tree.a2.pk], [tree.a1.pk]])
    assert flag.branch == tree.a2 and flag.raised_on == AS_OF


def test_a_moved_members_flag_follows_them_when_the_old_branch_refreshes_first(branch, tree):
    assert _moved_member_flags(branch, tree, [[tree.a1.pk], [tree.a2.pk]]).branch == tree.a2


def test_a_full_refresh_moves_a_moved_members_flag_to_their_branch(branch, tree):
    flag = _moved_member_flags(branch, tree, [None])
    assert flag.branch == tree.a2
    # Judged again, nothing moves.
    again = engine.refresh(as_of=AS_OF)
    assert (again["raised"], again["resolved"]) == (0, 0)


@pytest.mark.parametrize("moved_on", [AS_OF, date(2025, 6, 1)])  # the day recorded, or long after
def test_a_moved_member_keeps_the_absences_of_their_old_branch_on_the_ladder(branch, tree, moved_on):
    """The ladder counts the member's meetings wherever held: the new branch's refresh after the move
    and the county-wide run give the same step, so the flag does not alternate between them."""
    from members import services as member_services

    mover = branch.people[0]
    absent_from_theme_days(branch, [mover], range(6, 11))  # June to October at A1
    member_services.move_member(member=mover, branch=tree.a2, on=moved_on, today=AS_OF)
    engine.refresh(as_of=AS_OF)
    flag = Flag.objects.get(rule="absence_ladder", member=mover, resolved_on=None)
    assert flag.branch == tree.a2 and "连续4至5个月" in flag.message
    assert engine.refresh(as_of=AS_OF, branch_ids=[tree.a2.pk])["resolved"] == 0
    assert engine.refresh(as_of=AS_OF)["raised"] == 0
    assert list(Flag.objects.filter(rule="absence_ladder", member=mover)) == [flag]


def test_a_moved_members_review_follow_up_stays_with_the_campaigns_branch(branch, tree):
    from members import services as member_services

    mover = branch.people[3]
    make_campaign(
        branch, year=2025, campaign_on=date(2025, 12, 1), grades={mover: ("basic", "x")}, close=True
    )
    engine.refresh(as_of=AS_OF)
    follow_up = Flag.objects.get(rule="review_followup", resolved_on=None)
    assert follow_up.branch == tree.a1
    member_services.move_member(member=mover, branch=tree.a2, on=AS_OF, today=AS_OF)
    for branch_ids in ([tree.a2.pk], [tree.a1.pk], [tree.a2.pk], None):
        engine.refresh(as_of=AS_OF, branch_ids=branch_ids)
    # The dues flag moved with the member; the follow-up is still the campaign's, never resolved and raised again.
    assert Flag.objects.get(rule="dues_arrears", member=mover, resolved_on=None).branch == tree.a2
    assert list(Flag.objects.filter(rule="review_followup")) == [follow_up]
    follow_up.refresh_from_db()
    assert follow_up.resolved_on is None


QUIET_ALL = engine.CALENDAR_RULES
UNIT = frozenset(engine.UNIT_RULES)


def test_the_rules_a_night_leaves_alone_are_those_no_day_since_the_last_run_moved():
    quiet = engine.quiet_rules
    assert quiet(date(2026, 12, 2), date(2026, 12, 1)) == QUIET_ALL  # an ordinary night
    assert quiet(date(2026, 12, 2), date(2026, 12, 2)) == QUIET_ALL  # a second run the same day
    # A month's first day: periods end, arrears and birthdays move; 1 December brings 学习培训 due.
    assert quiet(date(2026, 12, 1), date(2026, 11, 30)) == {"thought_report"}
    assert quiet(date(2026, 10, 1), date(2026, 9, 30)) == {"training_hours"}  # a quarter: reports too
    assert quiet(date(2027, 1, 1), date(2026, 12, 31)) == set()
    # The first day of a month's last week: a period comes due soon.
    assert quiet(date(2026, 11, 24), date(2026, 11, 23)) == QUIET_ALL - UNIT
    assert quiet(date(2026, 12, 25), date(2026, 12, 24)) == QUIET_ALL - UNIT
    assert quiet(date(2026, 12, 24), date(2026, 12, 23)) == QUIET_ALL
    # Missed nights count: the run after them takes in every day since the last one.
    assert quiet(date(2026, 12, 3), date(2026, 11, 29)) == {"thought_report"}
    # A local setting taking effect moves the unit rules that day.
    assert quiet(date(2026, 12, 10), date(2026, 12, 9), {date(2026, 12, 10)}) == QUIET_ALL - UNIT
    # Nothing is quiet when the last run is unknown, more than a month old, or later than as_of.
    for judged_through in (None, date(2026, 10, 31), date(2026, 12, 3)):
        assert quiet(date(2026, 12, 2), judged_through) == set()


def test_a_setting_taking_effect_tonight_moves_the_unit_rules(tree):
    RuleSetting.objects.create(organisation=tree.township, rule="theme_day", count=2, period_kind="month",
                               effective_from=date(2026, 12, 10))  # fmt: skip
    assert UNIT.isdisjoint(engine._quiet_tonight(date(2026, 12, 10), date(2026, 12, 9)))
    assert engine._quiet_tonight(date(2026, 12, 11), date(2026, 12, 10)) >= UNIT


def test_a_quiet_night_leaves_the_calendar_rules_as_they_stood_and_judges_the_deadlines(branch, tree):
    from members import services as member_services

    engine.refresh(as_of=date(2026, 12, 1))
    payer = branch.people[0]
    assert Flag.objects.filter(rule="dues_arrears", member=payer, resolved_on__isnull=True).exists()
    # Paid through November, written outside the application (no refresh of its own).
    DuesPayment.objects.bulk_create(
        DuesPayment(member=payer, month=date(2026, month, 1), amount=10, paid_on=date(2026, 12, 2))
        for month in range(6, 12)
    )
    applicant = member_services.register_member(branch=tree.a1, id_number=idn(90), name="申请人",
                                                category="applicant", applied_on=date(2026, 11, 3),
                                                today=date(2026, 12, 1))  # fmt: skip
    with CaptureQueriesContext(connection) as night:
        engine.refresh(as_of=date(2026, 12, 4), time_only=True, judged_through=date(2026, 12, 3))
    tables = " ".join(query["sql"] for query in night)
    assert "members_duespayment" not in tables and "meetings_meeting" not in tables
    assert Flag.objects.filter(rule="dues_arrears", member=payer, resolved_on__isnull=True).exists()
    # The talk was due within a month of applying, on 3 December: a deadline counted in days.
    assert Flag.objects.get(rule="pipeline", member=applicant, resolved_on__isnull=True).state == "overdue"
    # The next month's first night judges the arrears again.
    engine.refresh(as_of=date(2027, 1, 1), time_only=True, judged_through=date(2026, 12, 31))
    assert not Flag.objects.filter(rule="dues_arrears", member=payer, resolved_on__isnull=True).exists()
    assert Flag.objects.filter(
        rule="dues_arrears", member=branch.people[1], resolved_on__isnull=True
    ).exists()


def test_the_nightly_task_keeps_its_runs_and_leaves_alone_what_the_calendar_did_not_move(branch, monkeypatch):
    from compliance import tasks
    from compliance.models import RefreshRun

    today = [date(2026, 12, 1)]
    monkeypatch.setattr(tasks.timezone, "localdate", lambda: today[0])
    tasks.nightly_refresh()
    today[0] = date(2026, 12, 2)
    with CaptureQueriesContext(connection) as night:
        tasks.nightly_refresh()
    assert "meetings_meeting" not in " ".join(query["sql"] for query in night)
    runs = list(RefreshRun.objects.order_by("as_of").values_list("kind", "as_of"))
    assert runs == [("nightly", date(2026, 12, 1)), ("nightly", date(2026, 12, 2))]
    assert open_keys("theme_day", branch=branch)  # November's, raised on the first night, still open


def test_a_committee_elected_refreshes_its_branch_on_commit(branch, django_capture_on_commit_callbacks):
    today = timezone.localdate()
    engine.refresh(as_of=today)
    assert open_keys("committee_meeting", branch=branch)  # a committee that never met
    with django_capture_on_commit_callbacks(execute=True):
        branch_services.record_term(organisation=branch, elected_on=today, positions=[("secretary", "党员0")])
    assert not open_keys("committee_meeting", branch=branch)  # a 书记 alone: no 支委会 to hold


def _group_flags(group):
    return set(Flag.objects.filter(group=group, resolved_on=None).values_list("key", "branch_id"))


def _not_merged(organisation):
    """甲村党支部 as a branch that may have 党小组 (the fixture's is 支组合一, which has none)."""
    type(organisation).objects.filter(pk=organisation.pk).update(merged_group=False)
    organisation.merged_group = False


def test_a_group_moved_to_another_branch_takes_its_flags_with_it(branch, tree):
    _not_merged(tree.a2)
    engine.refresh(as_of=AS_OF)
    before = {key for key, _branch in _group_flags(tree.g2)}
    assert before and {b for _key, b in _group_flags(tree.g2)} == {branch.pk}
    branch_services.move_organisation(organisation=tree.g2, new_parent=tree.a2)
    for first, second in ((tree.a2, branch), (branch, tree.a2)):  # either refresh may run first
        engine.refresh(as_of=AS_OF, branch_ids=[first.pk])
        engine.refresh(as_of=AS_OF, branch_ids=[second.pk])
        assert _group_flags(tree.g2) == {(key, tree.a2.pk) for key in before}
        branch_services.move_organisation(organisation=tree.g2, new_parent=branch)
        engine.refresh(as_of=AS_OF)
        branch_services.move_organisation(organisation=tree.g2, new_parent=tree.a2)


def test_moving_a_group_refreshes_both_branches_on_commit(branch, tree, django_capture_on_commit_callbacks):
    _not_merged(tree.a2)
    today = timezone.localdate()
    engine.refresh(as_of=today)
    before = {key for key, _branch in _group_flags(tree.g2)}
    with django_capture_on_commit_callbacks(execute=True):
        branch_services.move_organisation(organisation=tree.g2, new_parent=tree.a2)
    assert before and _group_flags(tree.g2) == {(key, tree.a2.pk) for key in before}


def test_a_refresh_as_of_another_day_makes_the_next_night_judge_everything(branch, monkeypatch):
    from compliance import tasks
    from compliance.models import RefreshRun

    today = [date(2026, 12, 1)]
    monkeypatch.setattr(tasks.timezone, "localdate", lambda: today[0])
    november = ("theme_day", "2026-11-01", "overdue")
    tasks.nightly_refresh()
    assert november in open_keys("theme_day", branch=branch)
    # On 2 December an operator judges the county as of 20 November: November was not over then.
    today[0] = date(2026, 12, 2)
    call_command("compliance_refresh", "--as-of", "2026-11-20")
    assert november not in open_keys("theme_day", branch=branch)
    tasks.nightly_refresh()  # the night after takes in every day since 20 November
    assert november in open_keys("theme_day", branch=branch)
    # Some branches judged as of another day: the next night knows nothing stands, and judges everything.
    call_command("compliance_refresh", "--as-of", "2026-11-20", "--branch", str(branch.pk))
    assert services.last_judged(date(2026, 12, 3)) is None
    tasks.nightly_refresh()
    assert november in open_keys("theme_day", branch=branch)
    call_command("compliance_refresh", "--branch", str(branch.pk))  # as of today: a write's refresh, not kept
    kinds = list(RefreshRun.objects.order_by("pk").values_list("kind", "as_of"))
    assert kinds == [("nightly", date(2026, 12, 1)), ("full", date(2026, 11, 20)), ("nightly", date(2026, 12, 2)),
                     ("partial", date(2026, 11, 20)), ("nightly", date(2026, 12, 2))]  # fmt: skip
    assert services.last_judged(date(2026, 12, 1)) is None  # a run for a later day tells nothing of this one


def test_a_reminders_record_link_opens_the_form_in_its_period_and_group(client, personas, branch, tree):
    engine.refresh(as_of=AS_OF, since=date(2026, 1, 1))
    client.force_login(personas[Role.SECRETARY])
    listed = client.get(
        reverse("compliance:flags"), {"state": "due", "rule": "group_meeting"}
    ).content.decode()
    may = Flag.objects.get(
        rule="group_meeting", group=tree.g1, period_start=date(2026, 5, 1), resolved_on=None
    )
    link = f"{reverse('meetings:create')}?group={tree.g1.pk}&amp;period_end=2026-05-31"
    assert link in listed  # the group's own form, not the branch's
    page = client.get(link.replace("&amp;", "&"))
    assert page.context["form"].initial["held_on"] == date(2026, 5, 31) == may.period_end
    assert page.context["form"].initial["group"] == tree.g1
    assert "补录往期会议：召开日期已预填为该周期的最后一天（2026年5月31日）" in page.content.decode()
    today = client.get(reverse("meetings:create"), {"branch": tree.a1.pk, "period_end": "2099-12-31"})
    assert "held_on" not in today.context["form"].initial and "补录往期会议" not in today.content.decode()


def test_the_badge_opens_what_it_counts(client, personas, branch):
    hold(branch, ["theme_day"], date(2026, 10, 30), entered=date(2026, 11, 20), backfill_reason="外出")
    engine.refresh(as_of=AS_OF)
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("compliance:flags"), {"state": "due"})
    due = page.context["page"].paginator.count
    assert due == page.context["nav_open_flags"] > 0
    assert {f.state for f in page.context["page"].object_list} <= {"overdue", "due_soon"}
    assert f'href="{reverse("compliance:flags")}?state=due"' in page.content.decode()
    everything = client.get(reverse("compliance:flags")).context["page"].paginator.count
    assert everything > due  # the 补录 warning is listed, not counted


def test_a_refused_page_says_why(client, personas):
    client.force_login(personas[Role.SECRETARY])
    response = client.get(reverse("compliance:settings"))
    assert response.status_code == 403
    assert "只有党委管理员可以设置本地规则" in response.content.decode()
