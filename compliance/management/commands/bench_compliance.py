"""Benchmark of the compliance refresh on the data in the database (e.g. the demo after seed_demo).

Prints, measured in one run: the floor (one plain SQL scan of every row the refresh reads), the
full rebuild, the nightly refresh, the rows a rerun writes, and one branch's refresh after a
write (queries and ms). Everything happens in a transaction that is rolled back.
"""

import time

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from branches.models import Organisation, OrgLevel
from compliance import engine
from compliance.models import Flag

FLOOR_SQL = (
    "SELECT (SELECT count(*) FROM meetings_meeting) + (SELECT count(*) FROM meetings_meetingtypetag)"
    " + (SELECT count(*) FROM meetings_attendance)"
)


class Rollback(Exception):
    pass


def _timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


class Command(BaseCommand):
    help = "合规刷新基准测试（在事务中运行并回滚）。"

    def handle(self, *args, **options):
        today = timezone.localdate()
        try:
            with transaction.atomic():
                self._run(today)
                raise Rollback
        except Rollback:
            pass

    def _run(self, today):
        with connection.cursor() as cursor:
            floor, _ = _timed(lambda: cursor.execute(FLOOR_SQL) or cursor.fetchone())
            cursor.execute(FLOOR_SQL)
            rows = cursor.fetchone()[0]
        Flag.objects.all().delete()
        earliest = (
            Organisation.objects.order_by("founded_on").values_list("founded_on", flat=True).first() or today
        )
        full, result = _timed(lambda: engine.refresh(as_of=today, since=earliest))
        nightly, _ = _timed(lambda: engine.refresh(as_of=today))
        with CaptureQueriesContext(connection) as queries:
            rerun = engine.refresh(as_of=today)
        writes = sum(
            1 for q in queries if q["sql"].lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE")
        )
        branch = Organisation.objects.filter(level=OrgLevel.BRANCH, dissolved_on__isnull=True).first()
        if branch is None or not rows:
            self.stdout.write("数据库中没有党支部或会议记录：请先运行 python manage.py seed_demo。")
            return
        with CaptureQueriesContext(connection) as one:
            one_time, _ = _timed(lambda: engine.refresh(as_of=today, branch_ids=[branch.pk]))
        self.stdout.write(f"{'figure (' + connection.vendor + ')':<46}{'value':>12}  target")
        self.stdout.write(f"{'rows read (meetings + types + attendance)':<46}{rows:>12}")
        self.stdout.write(f"{'floor: one count(*) scan, ms':<46}{floor * 1000:>12.2f}")
        self.stdout.write(
            f"{'full rebuild, s (flags ' + str(result['open']) + ')':<46}{full:>12.3f}  {full / floor:.0f}x floor (<= 10x)"
        )
        self.stdout.write(f"{'nightly refresh, s':<46}{nightly:>12.3f}  {nightly / floor:.0f}x floor (<= 3x)")
        self.stdout.write(f"{'rerun: rows written':<46}{rerun['raised'] + rerun['resolved']:>12}  0")
        self.stdout.write(f"{'rerun: write statements':<46}{writes:>12}  0")
        self.stdout.write(f"{'one branch refresh: queries':<46}{len(one):>12}  <= 5")
        self.stdout.write(f"{'one branch refresh: ms':<46}{one_time * 1000:>12.1f}  <= 50")
