"""Two beat runs at once: the lease lets exactly one of them do the work.

Real concurrency needs a database that takes concurrent writers: threads, each with its own
PostgreSQL connection, committing for real. (tests/compliance/test_engine.py has the lease's
semantics one call after another.) SQLite's shared in-memory test database locks whole tables.
"""

import threading
from datetime import date

import pytest
from django.db import connection, transaction
from django.utils import timezone

from compliance import engine, services
from compliance.models import Flag, Lease, RuleSetting
from tests.compliance.conftest import hold

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"),
    pytest.mark.django_db(transaction=True),
]
AS_OF = date(2026, 12, 2)
WAIT = 30  # seconds; a guard, the threads meet within milliseconds


def run_together(count, work):
    """Run work(index) in `count` threads released at the same instant; returns their results by index."""
    start = threading.Barrier(count, timeout=WAIT)
    results, errors = [None] * count, []

    def body(index):
        try:
            start.wait()
            results[index] = work(index)
        except BaseException as error:  # reported to the test, not lost in the thread
            errors.append(error)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not errors, errors
    return results


def test_eight_workers_taking_the_lease_at_once_exactly_one_gets_it(db):
    taken = run_together(8, lambda _index: services.take_lease(services.LEASE_NAME))
    assert taken.count(True) == 1
    assert Lease.objects.get(name=services.LEASE_NAME).held_until is not None


def test_two_nightly_runs_at_once_one_refreshes_and_the_other_stands_aside(branch, monkeypatch):
    hold(branch, ["theme_day"], date(2026, 9, 25))
    engine.refresh(as_of=date(2026, 10, 26))
    real = engine.refresh
    refreshing = threading.Event()
    stood_aside = threading.Event()

    def refresh_while_the_other_tries(**kwargs):
        # Hold the lease until the other run has tried, so the two runs overlap for certain.
        refreshing.set()
        stood_aside.wait(WAIT)
        return real(**kwargs)

    def nightly(index):
        outcome = services.refresh_all_with_lease(as_of=AS_OF)
        if "skipped" in outcome:
            stood_aside.set()
        return outcome

    monkeypatch.setattr(engine, "refresh", refresh_while_the_other_tries)
    outcomes = run_together(2, nightly)
    assert refreshing.is_set() and stood_aside.is_set()
    assert sorted("skipped" in outcome for outcome in outcomes) == [False, True]
    ran = next(outcome for outcome in outcomes if "open" in outcome)
    assert ran["raised"] > 0
    keys = list(Flag.objects.filter(resolved_on__isnull=True).values_list("key", flat=True))
    assert len(keys) == len(set(keys)) == ran["open"]  # one set of flags, nothing raised twice
    assert Lease.objects.get(name=services.LEASE_NAME).held_until is None  # released for tomorrow


def test_two_settings_saved_moments_apart_end_with_the_flags_both_settings_want(branch, tree, monkeypatch):
    """The township switches 主题党日 off; a moment later the 社区党委 switches it back on for its
    branches. The township's refresh read before the second setting was saved: had it committed after
    the second refresh, it would have resolved flags that both settings together want open."""
    today = timezone.localdate()
    start = date(today.year, 1, 1)
    engine.refresh(as_of=today)
    theme_days = Flag.objects.filter(rule="theme_day", branch=branch, resolved_on__isnull=True)
    assert theme_days.exists()
    RuleSetting.objects.create(
        organisation=tree.township, rule="theme_day", enabled=False, effective_from=start
    )

    first_read = threading.Event()
    go_on = threading.Event()
    second_done = threading.Event()
    real_write = engine._write_wanted

    def write_after_the_second_setting(rows, wanted, **kwargs):
        if not first_read.is_set():  # the township's refresh: hold its write back
            first_read.set()
            go_on.wait(WAIT)
        return real_write(rows, wanted, **kwargs)

    monkeypatch.setattr(engine, "_write_wanted", write_after_the_second_setting)

    def work(index):
        if index == 0:  # the worker judging the township's setting
            return services.refresh_subtree([branch.pk], as_of=today)
        if index == 1:  # the 社区党委 saves its setting; its refresh runs on commit
            first_read.wait(WAIT)
            services.add_setting(
                organisation=tree.community, rule="theme_day", enabled=True, effective_from=start
            )
            second_done.set()
            return None
        # Let the township's refresh write once the second refresh waits for it (or, were nothing to
        # keep them apart, once the second has finished).
        first_read.wait(WAIT)
        for _ in range(WAIT * 20):
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                if cursor.fetchone()[0] or second_done.is_set():
                    break
            second_done.wait(0.05)
        go_on.set()
        return None

    run_together(3, work)
    assert theme_days.exists()
    assert theme_days.filter(period_start__gte=start).exists()


def test_a_setting_saved_while_another_subtree_is_judged_is_left_to_the_worker(branch, tree, monkeypatch):
    """A request does not wait behind a county's refresh (or the weekly run): its setting is saved at once
    and judged in the worker, which waits its turn, and the page says so."""
    from compliance import tasks

    today = timezone.localdate()
    holding, release = threading.Event(), threading.Event()
    queued = []
    monkeypatch.setattr(tasks.refresh_branches, "apply_async", lambda args: queued.append(args))

    def work(index):
        if index == 0:  # a refresh of another subtree, holding the turn
            with transaction.atomic():
                services._take_subtree_lock(wait=True)
                holding.set()
                release.wait(WAIT)
            return None
        holding.wait(WAIT)
        try:
            setting = services.add_setting(
                organisation=tree.township, rule="theme_day", enabled=False, effective_from=today
            )
            return setting
        finally:
            release.set()

    _other, setting = run_together(2, work)
    assert setting.judging.later is True
    assert queued and branch.pk in queued[0][0]
    assert RuleSetting.objects.filter(organisation=tree.township, rule="theme_day").exists()
