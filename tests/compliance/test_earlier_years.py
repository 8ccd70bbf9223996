"""A change dated in an earlier year (a 补录 before an inspection, a local rule made retroactive) judges that
year's periods again, however far back the flags of a long-running system reach; never years no run judged."""

import io
from datetime import date

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from branches.models import Role
from compliance import engine, services, tasks
from compliance.models import Flag, RefreshRun, RuleSetting
from tests.compliance.conftest import hold

NOTHING = {"raised": 0, "resolved": 0}


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def old_year(today):
    return today.year - 2  # before 1 January of last year: outside every usual refresh


@pytest.fixture
def running_since(old_year):
    """A system whose runs have judged the periods from 1 January of old_year on."""
    services.record_run(as_of=date(old_year + 1, 1, 5), result=NOTHING)
    return date(old_year, 1, 1)


@pytest.fixture
def scheduled(monkeypatch):
    """Each refresh a write schedules, run at once as the worker would."""
    calls = []

    def run_now(args, countdown):
        calls.append(args)
        tasks.refresh_branch.run(*args)

    monkeypatch.setattr(tasks.refresh_branch, "apply_async", run_now)
    return calls


def open_theme_months(branch, year):
    return set(
        Flag.objects.filter(
            branch=branch, rule="theme_day", resolved_on=None, period_start__year=year
        ).values_list("period_start__month", flat=True)
    )


def test_a_meeting_backfilled_for_an_earlier_year_resolves_that_months_flag(
    branch, today, old_year, running_since, scheduled, django_capture_on_commit_callbacks
):
    engine.refresh(as_of=today, since=running_since)  # as the runs of those years left the flags
    assert open_theme_months(branch, old_year) == set(range(1, 13))
    with django_capture_on_commit_callbacks(execute=True):
        hold(branch, ["theme_day"], date(old_year, 3, 27), entered=today, backfill_reason="迎检前补录")
    assert open_theme_months(branch, old_year) == set(range(1, 13)) - {3}
    resolved = Flag.objects.get(branch=branch, rule="theme_day", period_start=date(old_year, 3, 1))
    assert resolved.resolved_on == today
    assert scheduled == [(branch.pk, running_since.isoformat())]
    backfill = Flag.objects.get(branch=branch, rule="backfill", resolved_on=None)
    assert backfill.meeting.held_on == date(old_year, 3, 27)


def test_a_backfill_into_years_no_run_judged_raises_nothing_there(
    branch, today, scheduled, django_capture_on_commit_callbacks
):
    long_ago = today.year - 4
    with django_capture_on_commit_callbacks(execute=True):
        hold(branch, ["theme_day"], date(long_ago, 5, 20), entered=today, backfill_reason="补录旧档")
    assert scheduled == [(branch.pk,)]  # the usual window: nothing older was ever judged
    assert not Flag.objects.filter(branch=branch, period_end__lt=engine.default_since(today)).exists()


def test_a_burst_of_this_years_writes_does_not_swallow_an_earlier_years(
    branch, today, old_year, running_since, monkeypatch, django_capture_on_commit_callbacks
):
    calls = []
    monkeypatch.setattr(tasks.refresh_branch, "apply_async", lambda args, countdown: calls.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        hold(branch, ["general_meeting"], today.replace(day=1))
        hold(branch, ["theme_day"], date(old_year, 6, 26), entered=today, backfill_reason="补录")
        hold(branch, ["theme_day"], date(old_year, 7, 31), entered=today, backfill_reason="补录")
    assert calls == [(branch.pk,), (branch.pk, running_since.isoformat())]


def test_the_broker_down_the_earlier_year_is_judged_in_process(
    branch, today, old_year, running_since, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker unreachable")

    engine.refresh(as_of=today, since=running_since)
    monkeypatch.setattr(tasks.refresh_branch, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        hold(branch, ["theme_day"], date(old_year, 9, 25), entered=today, backfill_reason="补录")
    assert 9 not in open_theme_months(branch, old_year)


def test_a_local_rule_made_retroactive_judges_those_years_again(
    client, personas, branch, tree, today, old_year, running_since, django_capture_on_commit_callbacks
):
    engine.refresh(as_of=today, since=running_since)
    assert open_theme_months(tree.b1, old_year) == set(range(1, 13))
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("compliance:settings"), {
            "organisation": tree.township.pk, "rule": "theme_day", "enabled": "0",
            "effective_from": f"{old_year}-07-01", "confirm_rejudge": "1",
        })  # fmt: skip
    assert response.status_code == 302
    assert open_theme_months(branch, old_year) == set(range(1, 7))  # earlier months: the rule then in force
    assert open_theme_months(tree.b1, old_year) == set(range(1, 13))  # another township's branch


def test_a_setting_moved_later_in_the_admin_site_judges_the_months_it_left(
    client, personas, branch, today, old_year, running_since, tree, django_capture_on_commit_callbacks
):
    admin_user = personas["superuser"]
    setting = RuleSetting.objects.create(organisation=tree.township, rule="theme_day", enabled=False,
                                         effective_from=date(old_year, 1, 1), created_by=admin_user)  # fmt: skip
    engine.refresh(as_of=today, since=running_since)
    assert not open_theme_months(branch, old_year)
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:compliance_rulesetting_change", args=[setting.pk]), {
            "organisation": tree.township.pk, "rule": "theme_day", "count": "", "period_kind": "",
            "effective_from": f"{today.year}-01-01", "created_by": admin_user.pk,
        })  # fmt: skip
    assert response.status_code == 302
    assert open_theme_months(branch, old_year) == set(range(1, 13))  # checked again, as before the setting


def test_where_a_write_starts_judging_again(db, today, old_year, django_assert_num_queries):
    usual = engine.default_since(today)
    services.record_run(as_of=date(old_year - 1, 3, 1), result=NOTHING)  # judged from old_year - 2 on
    with django_assert_num_queries(0):  # this year's and last year's writes: the usual window
        assert services.rejudge_since([], today=today) is None
        assert services.rejudge_since([today, usual, date(today.year - 1, 12, 31), None], today=today) is None
    assert services.rejudge_since([date(old_year, 5, 1), today], today=today) == date(old_year, 1, 1)
    assert services.rejudge_since([date(old_year - 9, 5, 1)], today=today) == date(old_year - 2, 1, 1)
    services.record_run(as_of=date(old_year - 5, 3, 1), result=NOTHING, branch_ids=[1])  # some branches only
    assert services.rejudge_since([date(old_year - 9, 5, 1)], today=today) == date(old_year - 2, 1, 1)


def test_no_run_before_last_year_no_reach_back(db, today, old_year):
    assert services.rejudge_since([date(old_year, 5, 1)], today=today) is None  # never judged that far


def test_an_org_life_meeting_held_last_year_for_the_year_before_resolves_that_years_flag(
    branch, today, old_year, running_since, scheduled, django_capture_on_commit_callbacks
):
    engine.refresh(as_of=today, since=running_since)
    missing = Flag.objects.get(branch=branch, rule="org_life_meeting", period_start=date(old_year, 1, 1))
    with django_capture_on_commit_callbacks(execute=True):
        hold(branch, ["org_life_meeting"], date(old_year + 1, 1, 20), for_year=old_year, entered=today,
             backfill_reason="补录")  # fmt: skip
    assert scheduled == [(branch.pk, running_since.isoformat())]
    missing.refresh_from_db()
    assert missing.resolved_on == today


def test_the_commands_since_is_kept_and_bounds_later_writes(branch, today, old_year):
    call_command("compliance_refresh", "--since", f"{old_year - 1}-01-01", stdout=io.StringIO())
    assert RefreshRun.objects.get().since == date(old_year - 1, 1, 1)
    assert services.first_judged(today) == date(old_year - 1, 1, 1)
    assert services.rejudge_since([date(old_year - 5, 1, 1)], today=today) == date(old_year - 1, 1, 1)
