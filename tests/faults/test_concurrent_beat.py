"""Two beat runs at once: the lease lets exactly one of them do the work.

Real concurrency needs a database that takes concurrent writers: threads, each with its own
PostgreSQL connection, committing for real. (tests/compliance/test_engine.py has the lease's
semantics one call after another.) SQLite's shared in-memory test database locks whole tables.
"""

import threading
from datetime import date

import pytest
from django.db import connection

from compliance import engine, services
from compliance.models import Flag, Lease
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
