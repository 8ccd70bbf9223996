"""The roster-import line of the benchmark: generate a workbook, import it, roll everything back.

Prints rows/s, the seconds against the target (5,000 rows in ≤ 10 s), the number of
queries, and the ratio to the floor measured in the same run (openpyxl reading the
same file without checking or writing anything).
"""

import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from dateutil.relativedelta import relativedelta
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from branches import services as branch_services
from branches.models import Organisation, OrgKind, OrgLevel
from members import idcard, roster_import

TARGET_SECONDS_PER_5000 = 10.0
HEADER = [
    "序号",
    "姓名",
    "性别",
    "民族",
    "出生日期",
    "身份证号码",
    "学历",
    "入党时间",
    "转正时间",
    "人员类别",
    "所在党支部",
    "党小组",
    "工作单位及职务",
    "联系电话",
    "备注",
]


class Rollback(Exception):
    pass


def _workbook(path, rows, branches):
    rng = random.Random(5000)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("花名册")
    sheet.append(["基准测试党员花名册"])
    sheet.append(["填报单位：基准测试党委"])
    sheet.append(HEADER)
    used = set()
    for index in range(1, rows + 1):
        birth = date(1950, 1, 1) + timedelta(days=rng.randint(0, 18000))
        while True:
            body = f"320102{birth:%Y%m%d}{rng.randint(0, 999):03d}"
            number = body + idcard.check_character(body)
            if number not in used:
                used.add(number)
                break
        joined = birth + relativedelta(years=25)
        branch = branches[index % len(branches)]
        sheet.append(
            [
                index,
                f"党员{index}",
                "男" if int(number[16]) % 2 else "女",
                "汉族",
                birth,
                number,
                "高中",
                joined,
                joined + timedelta(days=366),
                "正式党员",
                branch,
                f"第{'一二三'[index % 3]}党小组",
                "职员",
                f"139{index:08d}",
                "",
            ]
        )
    sheet.append([])
    sheet.append(["制表人：基准"])
    workbook.save(path)


def run(*, rows=5000):
    """Import a generated roster of `rows` people into 20 fresh branches, timed, then roll it all back."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.xlsx"
        try:
            with transaction.atomic():
                branches = _tree()
                _workbook(path, rows, [b.name for b in branches])
                floor = _floor(path)
                started = time.perf_counter()
                with CaptureQueriesContext(connection) as queries, path.open("rb") as fileobj:
                    _header, data = roster_import.read_rows(fileobj, size=path.stat().st_size)
                    _results, counts = roster_import.run_import(
                        rows=data,
                        branch_queryset=Organisation.objects.filter(pk__in=[b.pk for b in branches]),
                        mode="skip",
                        strict=False,
                        today=timezone.localdate(),
                    )
                elapsed = time.perf_counter() - started
                raise Rollback
        except Rollback:
            pass
    return {"seconds": elapsed, "created": counts["created"], "queries": len(queries), "floor": floor}


def _tree():
    root = branch_services.create_organisation(
        parent=None,
        name="基准测试党委",
        level=OrgLevel.PARTY_COMMITTEE,
        kind=OrgKind.TOWNSHIP,
        founded_on=date(2000, 1, 1),
    )
    branches = []
    for index in range(20):
        branch = branch_services.create_organisation(
            parent=root,
            name=f"基准第{index + 1}党支部",
            level=OrgLevel.BRANCH,
            kind=OrgKind.COMMUNITY,
            founded_on=date(2000, 1, 1),
        )
        for name in ("第一党小组", "第二党小组", "第三党小组"):
            branch_services.create_organisation(
                parent=branch,
                name=name,
                level=OrgLevel.GROUP,
                kind=OrgKind.COMMUNITY,
                founded_on=date(2000, 1, 1),
            )
        branches.append(branch)
    return branches


def _floor(path):
    started = time.perf_counter()
    workbook = load_workbook(path, read_only=True)
    for _row in workbook.worksheets[0].iter_rows(values_only=True):
        pass
    workbook.close()
    return time.perf_counter() - started
