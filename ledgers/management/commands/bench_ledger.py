"""Benchmark of the 台账 renderer and the township zip, measured in one run.

- throughput of ledgers.xlsx against the raw openpyxl write-only writer writing the same rows (target ≥ 0.8×);
- peak memory of a 100,000-row export (tracemalloc: what the export allocates; target ≤ 150 MB);
- the time of the township's full zip (every branch's workbook) on the data in the database.
Rows are the roster rows of the database (masked), repeated to the size wanted; nothing is written to it.
"""

import resource
import tempfile
import time
import tracemalloc
from datetime import date
from itertools import cycle, islice
from pathlib import Path

from django.core.management.base import BaseCommand
from django.utils import timezone
from openpyxl import Workbook

from branches.models import Organisation, OrgLevel
from ledgers import exports, services, xlsx
from members.models import Member
from members.roster_export import HEADERS

THROUGHPUT_ROWS = 30_000
MEMORY_ROWS = 100_000


def sample_rows(limit=2000):
    members = list(Member.objects.filter(on_roster=True).select_related("branch", "group")[:limit])
    for m in members:
        m.shown_id_number, m.shown_phone = exports.mask_id_number(m.id_number), exports.mask_phone(m.phone)
    rows = list(exports.roster_rows(members))
    if not rows:  # an empty database: rows of the same shape
        rows = [[i, f"党员{i}", "男", "汉族", date(1980, 1, 1), "320102********0011", "大学本科", date(2005, 7, 1),
                 date(2006, 7, 1), "正式党员", "某某社区第一党支部", "第一党小组", "某某公司 职员", "138****0000",
                 "正常", ""] for i in range(200)]  # fmt: skip
    return rows


def _rows(sample, n):
    """n rows cycled from the sample, each with its own number and name (so shared strings grow as in a
    real roster of n people)."""
    for i, row in enumerate(islice(cycle(sample), n), start=1):
        yield [i, f"{row[1]}{i}", *row[2:]]


def _raw(sample, n, path):
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("党员名册")
    sheet.append([title for title, _w in HEADERS])
    for row in _rows(sample, n):
        sheet.append(row)
    workbook.save(path)


def _ours(sample, n, path):
    book = xlsx.Book([xlsx.Sheet("党员名册", [xlsx.Column(t, w) for t, w in HEADERS], _rows(sample, n))])
    xlsx.render(book, path)


def _timed(function, *args):
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def measure(*, throughput_rows=THROUGHPUT_ROWS, memory_rows=MEMORY_ROWS, zip_scope=True):
    """[(figure, value, target)] measured in this run."""
    sample = sample_rows()
    figures = []
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as folder:
        folder = Path(folder)
        _raw(sample, 1000, folder / "warm.xlsx")  # first-use costs out of both timings
        _ours(sample, 1000, folder / "warm.xlsx")
        # Alternate runs (each writer goes first twice) so that noise hits both alike; keep each one's best.
        raws, ourss = [], []
        for turn in range(4):  # each goes first twice
            pair = [(raws, _raw, "raw.xlsx"), (ourss, _ours, "ours.xlsx")]
            for times, writer, name in pair[:: -1 if turn % 2 else 1]:
                times.append(_timed(writer, sample, throughput_rows, folder / name))
        raw, ours = min(raws), min(ourss)
        figures += [
            ("raw openpyxl write-only, rows/s", round(throughput_rows / raw), ""),
            ("ledgers.xlsx renderer, rows/s", round(throughput_rows / ours), ""),
            ("renderer ÷ raw throughput", round(raw / ours, 2), "≥ 0.8"),
        ]
        tracemalloc.start()
        _ours(sample, memory_rows, folder / "big.xlsx")
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        figures += [
            (f"peak memory of a {memory_rows:,}-row export, MB", round(peak / 2**20, 1), "≤ 150"),
            (
                "process max RSS so far, MB",
                round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "",
            ),
        ]
        if zip_scope:
            root = Organisation.objects.filter(level=OrgLevel.PARTY_COMMITTEE, depth=1).order_by("pk").first()
            if root is not None:
                year = timezone.localdate().year
                branches = len(exports.subtree_branches(root, year))
                seconds = _timed(
                    lambda: services.write_zip(root, year=year, user=None, path=folder / "all.zip")
                )
                figures.append((f"township zip, s ({root.name}, {branches} branches)", round(seconds, 2), ""))
                if branches:
                    figures.append(("township zip, s per branch", round(seconds / branches, 3), ""))
    return figures


class Command(BaseCommand):
    help = "台账导出基准测试：渲染吞吐量（对照 openpyxl 原生写入）、10万行导出峰值内存、全镇压缩包耗时。"

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=THROUGHPUT_ROWS, help="吞吐量测试行数")
        parser.add_argument("--no-zip", action="store_true", help="不测全镇压缩包")

    def handle(self, *args, rows=THROUGHPUT_ROWS, no_zip=False, **options):
        self.stdout.write(f"{'figure':<58}{'value':>12}  target")
        for name, value, target in measure(throughput_rows=rows, zip_scope=not no_zip):
            self.stdout.write(f"{name:<58}{value:>12}  {target}")
