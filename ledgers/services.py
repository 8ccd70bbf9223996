"""Writes of the ledger exports: request one (reusing a running one), run it with progress, fail it cleanly.

The export row is also the log of who exported what, when (kept; files are the only thing that may
be cleaned up later).
"""

import logging
import tempfile
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from branches.access import ID_NUMBER_ROLES, may_see_personal

from . import exports, xlsx
from .models import ACTIVE_STATUSES, ExportKind, ExportStatus, LedgerExport

logger = logging.getLogger(__name__)
# An export still queued or running after this long is taken as lost (a worker died) and replaced.
STALE_AFTER = timedelta(minutes=30)
XLSX = ".xlsx"
# The zip reads this many branches' ledgers at once: a fixed number of queries a chunk, and a chunk's
# meetings and attendance (a few thousand rows) in memory, not a county's.
ZIP_CHUNK = 50
# Progress counts the reading of the records as steps too, so that the bar moves from the start: the reads
# of some branches take about 0.6 of the time their workbooks take to write (the demo county: 6 s of reads,
# 10 s of writing), and a sheet written is a step.
READ_SHARE = 0.6


def download_name(kind, organisation, year):
    if kind == ExportKind.BRANCH:
        return f"{organisation.name}-{year}年度台账{XLSX}"
    if kind == ExportKind.SUMMARY:
        return f"{organisation.name}-{year}年度汇总台账{XLSX}"
    return f"{organisation.name}-{year}年度全部支部台账.zip"


def request_export(*, user, kind, organisation, year, now=None):
    """The user's export of this scope and year: the one already queued or running, or a new one.

    Returns (export, created). A double click, or two tabs, get the same export.
    """
    now = now or timezone.now()
    active = LedgerExport.objects.filter(
        created_by=user, kind=kind, organisation=organisation, year=year, status__in=ACTIVE_STATUSES
    )
    cutoff = now - STALE_AFTER
    active.filter(
        Q(status=ExportStatus.QUEUED, created_at__lt=cutoff)
        | Q(status=ExportStatus.RUNNING, started_at__lt=cutoff)
    ).update(status=ExportStatus.FAILED, error="超时未完成（后台任务中断），已重新生成。", finished_at=now)
    existing = active.first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            export = LedgerExport.objects.create(
                created_by=user, kind=kind, organisation=organisation, year=year,
                full_id_numbers=kind != ExportKind.SUMMARY and may_see_personal(user, organisation, ID_NUMBER_ROLES),
                filename=download_name(kind, organisation, year),
            )  # fmt: skip
    except IntegrityError:  # the other click won the race
        return active.get(), False
    logger.info("台账导出：%s 申请 %s（%s 年，%s）", user, organisation, year, export.get_kind_display())
    return export, True


def dispatch(export):
    """Hand the export to Celery; if the broker is unreachable, generate it here and now.

    Returns True when it ran in this process."""
    from .tasks import run_export_task

    try:
        run_export_task.delay(export.pk)
        return False
    except (OperationalError, OSError):
        logger.warning("消息队列不可用，台账导出 %s 改为在本进程内生成", export.pk)
        LedgerExport.objects.filter(pk=export.pk).update(ran_inline=True)
        run_export(export_id=export.pk)
        return True


class _Progress:
    """Writes done/total to the run's row in batches: only when the figure moved."""

    def __init__(self, run):
        self.run = run
        self.last = None

    def __call__(self, done, total):
        if (done, total) != self.last:
            self.run.update(done=done, total=total)
            self.last = (done, total)


def run_export(*, export_id, now=None):
    """Build the workbook (or zip) of a queued export, reporting progress; mark it done or failed.

    Claims the export with a conditional UPDATE, so a task delivered twice never builds it twice.
    A run started more than STALE_AFTER ago is taken as lost (its worker was killed before it
    could mark the export failed) and a re-run of the task takes it over: Celery redelivers an
    unacknowledged task when the worker is gone, with Redis after its one-hour visibility timeout.
    Every write of a run is conditional on its own start time, so a run taken over writes nothing more.
    """
    now = now or timezone.now()
    claimed = LedgerExport.objects.filter(
        Q(status=ExportStatus.QUEUED) | Q(status=ExportStatus.RUNNING, started_at__lt=now - STALE_AFTER),
        pk=export_id,
    ).update(status=ExportStatus.RUNNING, started_at=now, done=0)
    if not claimed:
        return None
    run = LedgerExport.objects.filter(pk=export_id, status=ExportStatus.RUNNING, started_at=now)
    export = LedgerExport.objects.select_related("organisation", "created_by").get(pk=export_id)
    progress = _Progress(run)
    try:
        with tempfile.TemporaryDirectory(prefix="ledger-") as folder:
            path = Path(folder) / "out"
            rows = build(export, path, progress=progress)
            suffix = ".zip" if export.kind == ExportKind.ZIP else XLSX
            with path.open("rb") as handle:
                export.file.save(f"{uuid.uuid4().hex}{suffix}", File(handle), save=False)
    except Exception as error:
        logger.exception("台账导出 %s 失败", export.pk)
        run.update(
            status=ExportStatus.FAILED,
            error=f"生成失败：{type(error).__name__}"[:300],
            finished_at=timezone.now(),
        )
        return None
    finished = run.update(
        status=ExportStatus.DONE, file=export.file.name, rows=rows, done=progress.last[0] if progress.last else 0,
        finished_at=timezone.now(),
    )  # fmt: skip
    if not finished:  # taken over or given up meanwhile: the other run's file is the export's
        export.file.delete(save=False)
        return None
    logger.info("台账导出 %s 完成：%s 行", export.pk, rows)
    return export.pk


def _read_steps(sheets):
    """The steps reading counts for, before `sheets` sheets are written from what it read."""
    return max(1, round(sheets * READ_SHARE))


class _Steps:
    """The export's progress over its steps: each read (counted as _read_steps) and each sheet written.
    done == 0 while the first read runs: the page shows it as 读取数据, with no figure yet."""

    def __init__(self, progress, total):
        self.progress, self.total, self.done = progress, max(total, 1), 0

    def report(self):
        if self.progress is not None:
            self.progress(self.done, self.total)

    def advance(self, steps):
        self.done += steps
        self.report()

    def writing(self):
        """render's progress(sheets done, sheets), counted on from the steps done so far."""
        base = self.done
        if self.progress is None:
            return None
        return lambda done, _sheets: self.progress(base + done, self.total)


def build(export, path, *, progress=None, as_of=None):
    """Write the export's file to path; returns the number of data rows. Progress is reported from the
    start: reading the records is the first step."""
    user, org, year = export.created_by, export.organisation, export.year
    as_of = as_of or timezone.localdate()
    if export.kind == ExportKind.BRANCH:
        sheets = len(exports.BRANCH_SHEETS)
        steps = _Steps(progress, _read_steps(sheets) + sheets)
        steps.report()
        reads = exports.Reads([org], year=year, user=user, as_of=as_of)
        steps.advance(_read_steps(sheets))
        book = exports.branch_book(org, year=year, user=user, as_of=as_of, reads=reads)
        return sum(xlsx.render(book, path, progress=steps.writing()).values())
    if export.kind == ExportKind.SUMMARY:
        steps = _Steps(progress, 1)  # the sheets are known once the book is read
        steps.report()
        book = exports.summary_book(org, year=year, user=user, as_of=as_of)
        steps.total = _read_steps(len(book.sheets)) + len(book.sheets)
        steps.advance(_read_steps(len(book.sheets)))
        return sum(xlsx.render(book, path, progress=steps.writing()).values())
    return write_zip(org, year=year, user=user, path=path, progress=progress, as_of=as_of)


def write_zip(organisation, *, year, user, path, progress=None, as_of=None):
    """One workbook per branch of the subtree, in one zip. Read ZIP_CHUNK branches at a time (exports.Reads),
    not branch by branch. Progress counts the reads of each chunk (_read_steps) and the sheets written."""
    as_of = as_of or timezone.localdate()  # one day for every workbook, however long the zip takes
    branches = exports.subtree_branches(organisation, year)
    per_branch = len(exports.BRANCH_SHEETS)
    chunks = [branches[i : i + ZIP_CHUNK] for i in range(0, len(branches), ZIP_CHUNK)]
    steps = _Steps(progress, sum(_read_steps(len(c) * per_branch) + len(c) * per_branch for c in chunks))
    steps.report()
    rows = 0
    used = set()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for chunk in chunks:
            reads = exports.Reads(chunk, year=year, user=user, as_of=as_of)
            steps.advance(_read_steps(len(chunk) * per_branch))
            for branch in chunk:
                book = exports.branch_book(branch, year=year, user=user, as_of=as_of, reads=reads)
                inner = path.with_name(f"branch-{branch.pk}{XLSX}")
                rows += sum(xlsx.render(book, inner, progress=steps.writing()).values())
                steps.done += per_branch
                name = download_name(ExportKind.BRANCH, branch, year)
                if name in used:  # two branches of the same name under different parents
                    name = f"{branch.pk}-{name}"
                used.add(name)
                archive.write(inner, arcname=name)
                inner.unlink()
    steps.done = steps.total
    steps.report()
    return rows
