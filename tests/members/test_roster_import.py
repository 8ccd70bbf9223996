"""Roster import from Excel: the sample roster, bad input row by row, whole-file problems, idempotency."""

import re
import zipfile
from datetime import date, datetime
from io import BytesIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from branches.models import Organisation, Role
from members import roster_import
from members.idcard import check_character
from members.models import CategoryChange, Member, Membership, RosterImport

SAMPLE = str(Path(__file__).resolve().parents[1] / "data" / "sample_roster.xlsx")
TODAY = date(2026, 11, 23)
HEADER = ["序号", "姓名", "性别", "民族", "出生日期", "身份证号码", "学历", "入党时间", "转正时间", "人员类别", "所在党支部", "党小组", "工作单位及职务", "联系电话", "备注"]  # fmt: skip


def idn(serial, birth="19800722", male=True):
    body = f"320102{birth}{serial:02d}{1 if male else 2}"
    return body + check_character(body)


def row(serial=1, **overrides):
    values = {
        "序号": serial, "姓名": f"党员{serial}", "性别": "男", "民族": "汉族", "出生日期": datetime(1980, 7, 22),
        "身份证号码": idn(serial % 100), "学历": "高中", "入党时间": datetime(2005, 7, 1), "转正时间": datetime(2006, 7, 1),
        "人员类别": "正式党员", "所在党支部": "甲社区第一党支部", "党小组": "第一党小组", "工作单位及职务": "职员",
        "联系电话": f"139{serial:08d}", "备注": None,
    }  # fmt: skip
    values.update(overrides)
    return [values[h] for h in HEADER]


def workbook(rows, *, title_rows=2, header=HEADER, hidden_first=False):
    wb = Workbook()
    sheet = wb.active
    if hidden_first:
        sheet.title = "旧表"
        sheet.append(["作废的旧名册"])
        sheet.sheet_state = "hidden"
        sheet = wb.create_sheet("花名册")
    for i in range(title_rows):
        sheet.append([f"标题行{i + 1}"])
    sheet.append(header)
    for r in rows:
        sheet.append(r)
    sheet.append([])
    sheet.append(["制表人：李敏", None, None, None, "审核人：王建国"])
    buffer = BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return buffer


def run(fileobj, *, mode="skip", strict=False):
    _header, rows = roster_import.read_rows(fileobj, size=len(fileobj.getvalue()))
    return roster_import.run_import(rows=rows, branch_queryset=Organisation.objects.all(), mode=mode, strict=strict,
                                    today=TODAY)  # fmt: skip


def messages_for(results):
    return {(number, column): message for number, column, message in roster_import.problems(results)}


# ---------------------------------------------------------------- the sample roster


def test_sample_roster_lands_whole_in_the_demo(db, capsys):
    call_command("seed_demo")
    before = Member.objects.count()
    call_command("import_roster", SAMPLE)
    output = capsys.readouterr().out
    assert Member.objects.count() == before + 60
    assert "第 37 行 [入党时间] 提示：入党时未满18周岁" in output
    first = Member.objects.get(id_number="320102198007227312")
    assert (first.name, first.category, first.joined_on, first.confirmed_on) == (
        "龙欣芳",
        "full",
        date(2017, 1, 2),
        date(2018, 1, 2),
    )
    assert (first.branch.name, first.group.name) == ("幸福里社区第二党支部", "第一党小组")
    probationary = Member.objects.get(id_number="320102200012238729")
    assert probationary.category == "probationary" and probationary.confirmed_on is None
    # On the branch's roster from the month of the import, when its records here begin; the development
    # history keeps its dates.
    assert list(Membership.objects.filter(member=first).values_list("started_on", flat=True)) == [
        first.records_from
    ]
    assert first.records_from == timezone.localdate().replace(day=1)
    assert list(
        CategoryChange.objects.filter(member=first)
        .order_by("changed_on")
        .values_list("category", "changed_on")
    ) == [("probationary", date(2017, 1, 2)), ("full", date(2018, 1, 2))]
    call_command("import_roster", SAMPLE)
    assert "跳过（已登记）60" in capsys.readouterr().out
    assert Member.objects.count() == before + 60


def test_dry_run_writes_nothing_and_strict_with_a_bad_row_imports_nothing(tree, tmp_path, capsys):
    path = tmp_path / "名册.xlsx"
    path.write_bytes(workbook([row(1), row(2, 身份证号码="12345")]).getvalue())
    call_command("import_roster", str(path), "--dry-run")
    assert "新增 1" in capsys.readouterr().out and not Member.objects.exists()
    with pytest.raises(SystemExit) as exit_:
        call_command("import_roster", str(path), "--strict")
    assert exit_.value.code != 0 and not Member.objects.exists()
    assert "严格模式" in capsys.readouterr().out


# ---------------------------------------------------------------- bad rows


@pytest.mark.parametrize(
    ("overrides", "column", "message"),
    [
        ({"身份证号码": "320102198007227313"}, "身份证号码", "校验位错误"),
        ({"身份证号码": "32010219800722731"}, "身份证号码", "应为18位，当前为17位"),
        ({"入党时间": "2019.02.30"}, "入党时间", "日期不存在：2019年2月30日"),
        ({"入党时间": "2019-02-30"}, "入党时间", "日期不存在：2019年2月30日"),
        ({"入党时间": "2005-13-45"}, "入党时间", "日期不存在：2005年13月45日"),
        ({"入党时间": "七月一日"}, "入党时间", "无法识别的日期"),
        ({"转正时间": "2027-01-01"}, "转正时间", "日期晚于今天"),
        ({"转正时间": datetime(2004, 1, 1)}, "转正时间", "不能早于入党时间"),
        ({"转正时间": datetime(2005, 7, 2)}, "转正时间", "预备期至2006-07-01届满，转正时间不能早于该日。"),
        ({"所在党支部": "不存在的党支部"}, "所在党支部", "不存在或不在您的管理范围内"),
        ({"党小组": "第九党小组"}, "党小组", "下没有“第九党小组”"),
        ({"人员类别": "群众"}, "人员类别", "无法识别"),
        ({"联系电话": "1390000abcd"}, "联系电话", "手机号码格式不正确"),
        ({"性别": "女"}, "性别", "性别与身份证号不符"),
        ({"性别": "未知"}, "性别", "应为“男”或“女”"),
        ({"出生日期": datetime(1981, 1, 1)}, "出生日期", "出生日期与身份证号不符"),
        ({"人员类别": "预备党员"}, "转正时间", "预备党员不应有转正时间"),
        ({"入党时间": None, "转正时间": None}, "入党时间", "须填写入党时间"),
        ({"所在党支部": "乙村党支部", "党小组": None}, None, None),  # another township: fine for the command
    ],
)
def test_each_bad_row_is_reported_by_row_and_column(tree, overrides, column, message):
    results, counts = run(workbook([row(1, **overrides), row(2)]))
    if column is None:
        assert counts["created"] == 2
        return
    assert messages_for(results)[(4, column)].find(message) >= 0, messages_for(results)
    assert counts == {"created": 1, "updated": 0, "skipped": 0, "failed": 1}


def test_cells_are_normalised_before_checking(tree):
    number = idn(3)
    results, counts = run(workbook([row(3, 身份证号码=" " + number[:17].translate(str.maketrans("0123456789", "０１２３４５６７８９")) + number[17].lower() + "\u200b",
                                         入党时间="2005年7月1日", 转正时间=38899, 备注="=HYPERLINK(\"http://x\")")]))  # fmt: skip
    assert counts["created"] == 1, roster_import.problems(results)
    member = Member.objects.get()
    assert member.id_number == number
    assert member.confirmed_on == date(2006, 7, 1)
    assert member.note == '=HYPERLINK("http://x")'


def test_the_same_id_twice_in_one_file(tree):
    results, _counts = run(workbook([row(1), row(5, 身份证号码=idn(1))]))
    assert "与第 4 行身份证号重复" in messages_for(results)[(5, "身份证号码")]


def test_header_further_down_and_hidden_sheets(tree):
    _results, counts = run(workbook([row(1)], title_rows=4, hidden_first=True))
    assert counts["created"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "旧版 .xls 格式或已设置打开密码"),
        ("姓名,身份证号码\n张三,320102198007227312\n".encode(), "改了扩展名的 CSV"),
        (b"PK\x03\x04" + b"broken" * 20, "文件已损坏"),
    ],
)
def test_files_that_are_not_rosters(content, message):
    with pytest.raises(roster_import.ImportFileError, match=message):
        roster_import.read_rows(BytesIO(content), size=len(content))


def test_missing_columns_and_oversized_files():
    with pytest.raises(roster_import.ImportFileError, match="没有找到必需的列：身份证号码、所在党支部"):
        roster_import.read_rows(workbook([["张三", "正式党员"]], header=["姓名", "人员类别"]), size=1000)
    with pytest.raises(roster_import.ImportFileError, match="文件过大"):
        roster_import.read_rows(BytesIO(b"PK"), size=11 * 1024 * 1024)


def test_zip_bombs_are_refused():
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (101 * 1024 * 1024))
    with pytest.raises(roster_import.ImportFileError, match="解压后过大"):
        roster_import.read_rows(buffer, size=len(buffer.getvalue()))


# ---------------------------------------------------------------- modes and idempotency


def test_update_mode_updates_personal_details_with_history(tree):
    run(workbook([row(1)]))
    results, counts = run(workbook([row(1, 联系电话="13700000000")]), mode="update")
    assert counts["updated"] == 1
    member = Member.objects.get()
    assert member.phone == "13700000000"
    assert member.history.count() == 2


def test_importing_twice_creates_no_duplicates(tree):
    file = workbook([row(1), row(2)])
    run(BytesIO(file.getvalue()))
    _results, counts = run(BytesIO(file.getvalue()))
    assert counts == {"created": 0, "updated": 0, "skipped": 2, "failed": 0}
    assert Member.objects.count() == 2


def test_an_import_refreshes_its_branches_flags_once_committed(tree, django_capture_on_commit_callbacks):
    from compliance.models import Flag

    probationer = {"人员类别": "预备党员", "入党时间": datetime(2024, 1, 2), "转正时间": None}
    with django_capture_on_commit_callbacks(execute=True):
        run(workbook([row(1, **probationer), row(2, **probationer)]))
    imported = set(Member.objects.values_list("pk", flat=True))
    # 预备党员 since January 2024: the 预备期 ran out in 2025, flagged without waiting for a night.
    flagged = set(Flag.objects.filter(rule="pipeline", resolved_on=None).values_list("member_id", flat=True))
    assert len(imported) == 2 and flagged == imported
    # Their 党费 before the month of the import are not in the system, and not flagged.
    assert not Flag.objects.filter(rule="dues_arrears", member_id__in=imported, resolved_on=None).exists()


def test_queries_grow_in_batches_not_per_row(tree):
    counts = []
    for size, offset in ((20, 0), (200, 20)):
        rows = [
            row(
                offset + i,
                出生日期=None,
                身份证号码=idn((offset + i) % 99, birth=f"19{60 + (offset + i) // 99:02d}0101"),
            )
            for i in range(size)
        ]
        file = workbook(rows)
        with CaptureQueriesContext(connection) as queries:
            results, _counts = run(file)
        assert roster_import.problems(results) == []
        counts.append(len(queries))
    assert Member.objects.count() == 220
    # SQLite caps one INSERT at 999 parameters (about 40 rows here); PostgreSQL at the batch size of 500.
    assert counts[1] - counts[0] <= 180 // 8  # per row would be 180 or more


# ---------------------------------------------------------------- the pages


def test_upload_preview_commit_once(client, personas, tree):
    client.force_login(personas[Role.SECRETARY])
    file = workbook([row(1), row(2, 所在党支部="乙村党支部", 党小组=None), row(3, 身份证号码="123")])
    file.name = "名册.xlsx"
    response = client.post(reverse("members:import"), {"file": file})
    record = RosterImport.objects.get()
    assert response["Location"] == reverse("members:import_detail", args=[record.pk])
    preview = client.get(response["Location"]).content.decode()
    assert "不存在或不在您的管理范围内" in preview and "身份证号应为18位" in preview
    assert not Member.objects.exists()
    client.post(response["Location"], {"mode": "skip"})
    client.post(response["Location"], {"mode": "skip"})  # a double tap
    assert list(Member.objects.values_list("branch__name", flat=True)) == ["甲社区第一党支部"]
    record.refresh_from_db()
    assert record.outcome["counts"] == {"created": 1, "updated": 0, "skipped": 0, "failed": 2}


def test_upload_of_a_bad_file_says_why(client, personas, tree):
    client.force_login(personas[Role.SECRETARY])
    bad = BytesIO(b"name,id\n")
    bad.name = "名册.xlsx"
    response = client.post(reverse("members:import"), {"file": bad})
    assert response.status_code == 200 and "CSV" in response.content.decode()
    assert not RosterImport.objects.exists()


def test_the_preview_says_what_each_row_will_come_to(client, personas, tree):
    """Walkthrough: “可以导入 60 行，1 个问题” while 15 rows were already registered and the one 问题 was a
    提示; a row with no name showed None; the 行 column wrapped at 390px."""
    run(workbook([row(1)]))  # registered already
    rows = [
        row(1),
        row(2),
        row(3, 入党时间=datetime(1998, 6, 1), 转正时间=datetime(1999, 6, 1)),  # under 18: a 提示 only
        row(4, 姓名=None),  # no name: an error
    ]
    client.force_login(personas[Role.SECRETARY])
    file = workbook(rows)
    file.name = "名册.xlsx"
    url = client.post(reverse("members:import"), {"file": file})["Location"]
    page = client.get(url).content.decode()
    summary = "共 4 行：新增 2 人，跳过（已登记）1 人，有问题 1 行（不导入）；新增和更新的行中 1 行有提示，仍会导入，请核对。"
    assert summary in re.sub("<[^>]+>", "", page)
    assert "None" not in page and "（未填）" in page
    assert '<td class="text-nowrap">7</td>' in page  # the no-name row (the 4th after a title and header)
    page = client.get(url, {"mode": "update"}).content.decode()
    # The registered row says what is registered already: nothing to update.
    assert "新增 2 人，更新（已登记）0 人，已登记且无变化 1 人" in re.sub("<[^>]+>", "", page)
