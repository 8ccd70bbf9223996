"""A Celery task killed mid-run and run again ends where a clean run ends: the refresh and the ledger export."""

from datetime import date, timedelta
from io import BytesIO
from types import SimpleNamespace

import pytest
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from openpyxl import load_workbook
from openpyxl.worksheet._writer import ALL_TEMP_FILES

from branches.models import Role
from compliance import engine
from compliance import services as compliance_services
from compliance import tasks as compliance_tasks
from compliance.models import Lease
from ledgers import services as ledger_services
from ledgers import tasks as ledger_tasks
from ledgers.models import ExportStatus, LedgerExport
from tests.compliance.conftest import hold
from tests.faults.conftest import flag_rows
from tests.ledgers.conftest import YEAR

BEFORE = date(2026, 10, 26)  # when the flags were last refreshed: October's 主题党日 due soon
TODAY = date(2026, 12, 2)  # the day of the run that crashes: October and November are now overdue


class WorkerCrashed(Exception):
    pass


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from the inside: no `except Exception` gets to mark anything failed."""


@pytest.fixture
def refreshed_branch(branch, monkeypatch):
    """A branch whose flags were refreshed in October; the tasks run on TODAY."""
    hold(branch, ["theme_day", "general_meeting"], date(2026, 9, 25))
    hold(branch, ["theme_day"], date(2026, 11, 27))
    engine.refresh(as_of=BEFORE)
    monkeypatch.setattr(compliance_tasks, "timezone", SimpleNamespace(localdate=lambda: TODAY))
    return branch


def clean_run(task, args):
    """The flags a run without a crash leaves, on the same data (rolled back afterwards)."""
    with transaction.atomic():
        changed = task.apply(args=args).get()
        rows = flag_rows()
        transaction.set_rollback(True)
    return changed, rows


def crash_after_the_first_new_flag(monkeypatch):
    """The refresh dies after resolving what no longer holds and inserting one new flag: part of its work.

    Returns the flags as they stood inside the run when it died."""
    real = engine._apply
    seen = []

    def apply_one_then_die(stale, new, as_of, **kwargs):
        real(stale, new[:1], as_of, **kwargs)
        seen.append(flag_rows())
        raise WorkerCrashed("worker lost mid-refresh")

    monkeypatch.setattr(engine, "_apply", apply_one_then_die)
    return seen


@pytest.mark.parametrize("name", ["nightly_refresh", "refresh_branch"])
def test_refresh_task_crashed_mid_run_leaves_nothing_half_written_and_a_rerun_matches_a_clean_run(
    refreshed_branch, monkeypatch, name
):
    task = getattr(compliance_tasks, name)
    args = (refreshed_branch.pk,) if name == "refresh_branch" else ()
    before = flag_rows()
    changed, clean = clean_run(task, args)
    assert changed["raised"] > 1 and changed["resolved"] > 0 and flag_rows() == before
    real_apply = engine._apply
    inside = crash_after_the_first_new_flag(monkeypatch)
    assert task.apply(args=args).failed()
    assert len(inside) == 1 and inside[0] not in (before, clean)  # it died with part of the work written
    assert flag_rows() == before  # …and the transaction took all of it back
    monkeypatch.setattr(engine, "_apply", real_apply)
    assert task.apply(args=args).get() == changed  # the lease was released: the re-run is not skipped
    assert flag_rows() == clean


def test_nightly_refresh_killed_holding_its_lease_is_done_by_the_next_beat_after_the_lease_expires(
    refreshed_branch,
):
    _changed, clean = clean_run(compliance_tasks.nightly_refresh, ())
    # A killed worker never reaches its `finally`: the lease stays taken; PostgreSQL rolled back its work.
    assert compliance_services.take_lease(compliance_services.LEASE_NAME)
    assert compliance_tasks.nightly_refresh.apply().get() == {"skipped": "另一次刷新正在进行"}
    Lease.objects.filter(name=compliance_services.LEASE_NAME).update(
        held_until=timezone.now() - timedelta(seconds=1)
    )
    assert "open" in compliance_tasks.nightly_refresh.apply().get()
    assert flag_rows() == clean


# ---------------------------------------------------------------- the ledger export


@pytest.fixture
def queued_export(ledger_branch, personas):
    export, _ = ledger_services.request_export(
        user=personas[Role.SECRETARY], kind="branch", organisation=ledger_branch, year=YEAR
    )
    return export


def dying_at_sheet(monkeypatch, sheet, error):
    real = ledger_services.xlsx.render

    def render(book, target, *, progress=None):
        def report(done, total):
            progress(done, total)
            if done == sheet:
                raise error

        return real(book, target, progress=report)

    monkeypatch.setattr(ledger_services.xlsx, "render", render)
    return real


def an_hour_later(export):
    """Shift the run's start back past STALE_AFTER, as the hour until Redis redelivers the task would."""
    LedgerExport.objects.filter(pk=export.pk).update(
        started_at=F("started_at") - ledger_services.STALE_AFTER - timedelta(minutes=1),
        created_at=F("created_at") - ledger_services.STALE_AFTER - timedelta(minutes=1),
    )


def assert_one_finished_export_that_opens():
    done = LedgerExport.objects.get(status=ExportStatus.DONE)
    assert done.done == done.total > 0 and done.rows > 0
    with done.file.open("rb") as handle:
        book = load_workbook(BytesIO(handle.read()))
    assert "党员名册" in book.sheetnames and book["党员名册"].max_row > 1
    return done


def test_export_task_crashed_mid_run_says_so_and_the_users_retry_gives_one_finished_export(
    queued_export, personas, monkeypatch
):
    real = dying_at_sheet(monkeypatch, 3, WorkerCrashed("disk full"))
    partial_sheets = len(ALL_TEMP_FILES)  # openpyxl's temporary files of sheets being written
    ledger_tasks.run_export_task.apply(args=(queued_export.pk,))
    queued_export.refresh_from_db()
    assert queued_export.status == ExportStatus.FAILED and queued_export.error == "生成失败：WorkerCrashed"
    assert not queued_export.file  # no half-written workbook is offered…
    assert len(ALL_TEMP_FILES) == partial_sheets  # …nor left in the worker's temporary folder
    monkeypatch.setattr(ledger_services.xlsx, "render", real)
    assert ledger_tasks.run_export_task.run(queued_export.pk) is None  # a redelivery does not resurrect it
    again, created = ledger_services.request_export(user=personas[Role.SECRETARY], kind="branch",
                                                    organisation=queued_export.organisation, year=YEAR)  # fmt: skip
    assert created
    ledger_tasks.run_export_task.apply(args=(again.pk,))
    assert assert_one_finished_export_that_opens() == again


@pytest.mark.parametrize("rerun", ["redelivered task", "user asks again"])
def test_export_task_killed_mid_run_and_rerun_gives_one_finished_export(
    queued_export, personas, monkeypatch, rerun
):
    real = dying_at_sheet(monkeypatch, 3, WorkerKilled())
    with pytest.raises(WorkerKilled):
        ledger_tasks.run_export_task.run(queued_export.pk)
    monkeypatch.setattr(ledger_services.xlsx, "render", real)
    queued_export.refresh_from_db()
    stuck = (queued_export.status, queued_export.done, queued_export.file.name)
    # Left running part-way (its progress counts the reads before the sheets), with no file.
    assert stuck[0] == ExportStatus.RUNNING and stuck[1] > 0 and stuck[2] == ""
    # Within the hour the run may still be alive: neither a second delivery nor a second click builds it again.
    assert ledger_tasks.run_export_task.run(queued_export.pk) is None
    user, org = personas[Role.SECRETARY], queued_export.organisation
    assert ledger_services.request_export(user=user, kind="branch", organisation=org, year=YEAR) == (
        queued_export, False)  # fmt: skip
    an_hour_later(queued_export)
    if rerun == "redelivered task":
        assert ledger_tasks.run_export_task.run(queued_export.pk) == queued_export.pk
        assert assert_one_finished_export_that_opens() == queued_export
    else:
        again, created = ledger_services.request_export(user=user, kind="branch", organisation=org, year=YEAR)
        assert created
        ledger_tasks.run_export_task.apply(args=(again.pk,))
        ledger_tasks.run_export_task.run(queued_export.pk)  # the redelivery arrives late: nothing to do
        assert assert_one_finished_export_that_opens() == again
        queued_export.refresh_from_db()
        assert queued_export.status == ExportStatus.FAILED and "超时未完成" in queued_export.error


def test_export_run_taken_over_while_merely_slow_writes_nothing_more(queued_export, monkeypatch):
    """The slow first run finishes after the redelivered one: the export keeps the second run's file."""
    real = ledger_services.xlsx.render
    files_before = set()

    def slow_then_overtaken(book, target, *, progress=None):
        def report(done, total):
            progress(done, total)
            if done == 3 and not files_before:
                an_hour_later(queued_export)
                monkeypatch.setattr(ledger_services.xlsx, "render", real)
                assert ledger_tasks.run_export_task.run(queued_export.pk) == queued_export.pk
                files_before.add(LedgerExport.objects.get(pk=queued_export.pk).file.name)

        return real(book, target, progress=report)

    monkeypatch.setattr(ledger_services.xlsx, "render", slow_then_overtaken)
    assert ledger_tasks.run_export_task.run(queued_export.pk) is None  # the first run finishes, superseded
    done = assert_one_finished_export_that_opens()
    assert {done.file.name} == files_before
    storage = done.file.storage
    _dirs, names = storage.listdir(str(done.file.name).rsplit("/", 1)[0])
    assert names == [done.file.name.rsplit("/", 1)[1]]  # the superseded run's file was removed
