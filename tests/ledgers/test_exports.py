"""Branch and township workbooks, opened again with openpyxl as an inspector's Excel would."""

import zipfile
from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from branches.models import Organisation, Role
from compliance.checklist import branch_checklist
from compliance.grid import obligation_grid, tally
from compliance.models import Flag
from compliance.periods import STATE_LABELS
from ledgers import exports, services, xlsx
from members.masking import mask_id_number
from tests.compliance.conftest import hold, idn
from tests.conftest import make_member
from tests.ledgers.conftest import AS_OF, INJECTION, YEAR

BRANCH_SHEETS = ["封面", "党员名册", "三会一课记录", "主题党日", "组织生活会", "谈心谈话", "民主评议", "党费收缴",
                 "思想汇报", "学习培训", "发展党员", "合规情况"]  # fmt: skip


def _book(branch, user, year=YEAR):
    buffer = BytesIO()
    xlsx.render(exports.branch_book(branch, year=year, user=user, as_of=AS_OF), buffer)
    buffer.seek(0)
    return load_workbook(buffer)


def _rows(sheet):
    return [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]


def _header(sheet):
    return [c.value for c in sheet[1]]


def test_branch_ledger_has_every_sheet_with_its_rows(ledger_branch, personas):
    book = _book(ledger_branch, personas[Role.SECRETARY])
    assert book.sheetnames == BRANCH_SHEETS
    cover = {r[0]: r[1] for r in book["封面"].iter_rows(min_row=3, values_only=True)}
    assert (
        cover["党支部"] == "甲社区第一党支部" and cover["年度"] == "2026年" and cover["支部书记"] == "党员0"
    )
    assert cover["生成时间"].year == 2026  # a real date-time
    roster = book["党员名册"]
    assert _header(roster)[:6] == ["序号", "姓名", "性别", "民族", "出生日期", "身份证号码"]
    assert len(_rows(roster)) == 6
    meetings = _rows(book["三会一课记录"])
    # Held in 2026 and carrying one of the four types: 30 Jan, 10 Feb, 12 Mar, and the 15 Jan 组织生活会+大会.
    assert [r[1].date() for r in meetings] == [date(2026, 1, 15), date(2026, 1, 30), date(2026, 2, 10),
                                                 date(2026, 3, 12)]  # fmt: skip
    group = meetings[3]
    header = _header(book["三会一课记录"])
    # 第一党小组 (党员0–3) held its meeting and nobody came.
    assert (group[header.index("应到")], group[header.index("实到")], group[header.index("缺席")]) == (
        4,
        0,
        4,
    )
    assert group[header.index("缺席人员")] == "党员0、党员1、党员2、党员3"
    assert len(_rows(book["主题党日"])) == 2
    assert _rows(book["组织生活会"]) == [["本年度组织生活会尚未召开或未录入", *[None] * 17]]
    talks = _rows(book["谈心谈话"])
    assert [(r[2], r[3]) for r in talks] == [("党员0", "党员1"), ("党员0", INJECTION)]
    assert _rows(book["民主评议"])[0][0] == exports.NO_REVIEW_NOTE
    dues = {r[1]: r for r in _rows(book["党费收缴"])}
    assert dues["党员0"][5:8] == [10, 10, 10] and dues["党员0"][-2:] == [3, 30]
    assert "积极分子甲" not in dues  # not yet a party member
    assert [r[1] for r in _rows(book["思想汇报"])] == ["积极分子甲"]
    assert [r[1] for r in _rows(book["发展党员"])] == ["积极分子甲"]


def test_last_years_org_life_meeting_is_in_last_years_ledger(ledger_branch, personas):
    rows = _rows(_book(ledger_branch, personas[Role.SECRETARY], year=2025)["组织生活会"])
    assert len(rows) == 1
    header = _header(_book(ledger_branch, personas[Role.SECRETARY], year=2025)["组织生活会"])
    assert rows[0][header.index("所属年度")] == 2025
    assert "学习不够／每月集中学习／党员1／2026-06-30／未完成" in rows[0][header.index(header[13])]


def test_dates_are_dates_and_formula_names_are_text(ledger_branch, personas):
    book = _book(ledger_branch, personas[Role.SECRETARY])
    roster = book["党员名册"]
    birth = roster.cell(row=2, column=5)
    assert birth.is_date and birth.number_format == "yyyy-mm-dd"
    names = [row[1] for row in roster.iter_rows(min_row=2)]
    injected = next(c for c in names if c.value == INJECTION)
    assert injected.data_type == "s" and injected.quotePrefix
    talk = next(row[3] for row in book["谈心谈话"].iter_rows(min_row=2) if row[3].value == INJECTION)
    assert talk.data_type == "s"
    for sheet in book.worksheets[1:]:
        assert sheet.freeze_panes == "A2" and sheet.print_title_rows == "$1:$1"
        assert sheet.page_setup.orientation == "landscape" and sheet.sheet_properties.pageSetUpPr.fitToPage


@pytest.mark.parametrize(("role", "masked"), [(Role.SECRETARY, False), (Role.TOWNSHIP_ADMIN, False),
                                               (Role.TOWNSHIP_LEADER, True), (Role.INSTRUCTOR, True)])  # fmt: skip
def test_id_numbers_are_masked_unless_the_role_may_see_them(ledger_branch, personas, role, masked):
    roster = _book(ledger_branch, personas[role])["党员名册"]
    ids = {r[1]: r[5] for r in _rows(roster)}
    full = idn(0)
    assert ids["党员0"] == (mask_id_number(full) if masked else full)


def test_compliance_sheet_equals_the_checklist_and_the_grid(ledger_branch, personas):
    """The same scope and date give the same figures on 本期事项, in the grid tally and in the workbook."""
    book = _book(ledger_branch, personas[Role.SECRETARY])
    sheet = book["合规情况"]
    header = _header(sheet)
    rows = {(r[1], r[2], r[3]): r for r in _rows(sheet)}
    checklist = [
        row for row in branch_checklist(ledger_branch, on=AS_OF) if row.obligation.period.start.year == YEAR
    ]
    assert checklist
    for row in checklist:
        line = rows[(row.rule.name, row.unit_name, row.obligation.period.label)]
        assert line[header.index("状态")] == row.state_label
        assert line[header.index("已完成")] == row.obligation.held
        assert (line[header.index("完成记录")] or "") == "、".join(
            f"{m.held_on:%Y-%m-%d} {m.topic}" for m in row.records
        )
    cells = [c for c in obligation_grid([ledger_branch.pk], since=date(YEAR, 1, 1), as_of=AS_OF)
             if c.period.start.year == YEAR]  # fmt: skip
    figures = tally(cells)
    states = [r[header.index("状态")] for r in rows.values()]
    assert states.count(STATE_LABELS["met"]) == figures.met
    assert states.count(STATE_LABELS["overdue"]) == figures.overdue
    cover = {r[0]: r[1] for r in book["封面"].iter_rows(min_row=3, values_only=True)}
    assert cover["合规完成率"] == f"{figures.met}/{figures.applicable}（{figures.rate}%）"


def test_summary_workbook_counts_like_the_branch_ledgers(ledger_branch, personas, tree):
    Flag.objects.create(key="x", rule="dues_arrears", state="warning", branch=tree.a1,
                        member=ledger_branch.people[1], message="连续3个月未交纳党费", raised_on=AS_OF)  # fmt: skip
    Flag.objects.create(key="y", rule="political_birthday", state="warning", branch=tree.a1,
                        member=ledger_branch.people[2], message="政治生日", raised_on=AS_OF)  # fmt: skip
    buffer = BytesIO()
    xlsx.render(exports.summary_book(tree.township, year=YEAR, user=personas[Role.TOWNSHIP_ADMIN], as_of=AS_OF),
                buffer)  # fmt: skip
    book = load_workbook(buffer)
    assert book.sheetnames == ["封面", "完成率汇总", "合规明细", "逾期清单", "重点关注党员"]
    summary = _rows(book["完成率汇总"])
    totals = {r[1]: r for r in summary if r[2] == exports.TOTAL}
    assert set(totals) == {"甲社区第一党支部", "甲村党支部", exports.TOTAL}  # 乙村 is another township
    a1 = tally(exports.year_cells([tree.a1.pk], YEAR, AS_OF))
    assert totals["甲社区第一党支部"][3:] == [a1.applicable, a1.met, a1.overdue, a1.due_soon, a1.due,
                                              a1.not_applicable, a1.rate]  # fmt: skip
    everything = tally(exports.year_cells([tree.a1.pk, tree.a2.pk], YEAR, AS_OF))
    assert totals[exports.TOTAL][4] == everything.met
    assert len(_rows(book["合规明细"])) == everything.applicable + everything.not_applicable
    assert len(_rows(book["逾期清单"])) == everything.overdue
    assert [r[2] for r in _rows(book["重点关注党员"])] == ["党员1"]


def test_the_zip_holds_one_workbook_per_branch(ledger_branch, personas, tree, tmp_path):
    path = tmp_path / "all.zip"
    seen = []
    services.write_zip(tree.township, year=YEAR, user=personas[Role.TOWNSHIP_ADMIN], path=path,
                       progress=lambda d, t: seen.append((d, t)), as_of=AS_OF)  # fmt: skip
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert sorted(names) == sorted(["甲社区第一党支部-2026年度台账.xlsx", "甲村党支部-2026年度台账.xlsx"])
        for name in names:
            assert load_workbook(BytesIO(archive.read(name))).sheetnames == BRANCH_SHEETS
    total = 2 * len(exports.BRANCH_SHEETS)
    assert seen[-1] == (total, total) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_queries_do_not_grow_with_the_branch(ledger_branch, personas):
    def count():
        user = type(personas[Role.SECRETARY]).objects.get(pk=personas[Role.SECRETARY].pk)  # roles not cached
        with CaptureQueriesContext(connection) as ctx:
            branch = Organisation.objects.get(pk=ledger_branch.pk)
            xlsx.render(exports.branch_book(branch, year=YEAR, user=user, as_of=AS_OF), BytesIO())
        return len(ctx.captured_queries)

    few = count()
    for i in range(10, 16):
        make_member(
            ledger_branch, Organisation.objects.get_children(ledger_branch).first(), idn(i), name=f"新党员{i}"
        )
    for day in (5, 6, 7):
        hold(ledger_branch, ["general_meeting"], date(2026, 5, day))
    assert count() == few


def test_the_review_sheet_lists_the_years_grades_and_follow_ups(ledger_branch, personas):
    from tests.conftest import make_campaign

    people = ledger_branch.people
    make_campaign(ledger_branch, year=2025, campaign_on=date(2025, 12, 1), close=True,
                  grades={people[3]: ("basic", "多次无故缺席")})  # fmt: skip
    sheet = _book(ledger_branch, personas[Role.SECRETARY], year=2025)["民主评议"]
    header = _header(sheet)
    rows = {r[1]: r for r in _rows(sheet)}
    assert header[:3] == ["序号", "姓名", "人员类别"] and "评议等次" in header
    assert rows["党员3"][header.index("评议等次")] == "基本合格"
    assert rows["党员3"][header.index("等次理由/不参评原因")] == "多次无故缺席"
    assert rows["党员0"][header.index("评议等次")] == "合格"
    assert rows["党员0"][header.index("合格票")] == 9 and rows["党员0"][header.index("状态")] == "已完成"
    this_year = _book(ledger_branch, personas[Role.SECRETARY], year=2026)["民主评议"]
    assert _rows(this_year)[0][0] == exports.NO_REVIEW_NOTE


def test_the_training_sheet_lists_each_members_hours_against_what_they_owe(ledger_branch, personas, tree):
    from members import services as member_services

    people = ledger_branch.people
    member_services.record_training(branch=tree.a1, members=people[:2], held_on=date(2025, 4, 2), hours=Decimal(20),
                                    title="集中轮训", token="t-a", today=AS_OF)  # fmt: skip
    member_services.record_training(branch=tree.a1, members=people[:1], held_on=date(2025, 9, 9), hours=Decimal("12.5"),
                                    title="网上专题班", kind="online", organiser="县委党校", token="t-b", today=AS_OF)  # fmt: skip
    mistaken = member_services.record_training(branch=tree.a1, members=people[1:2], held_on=date(2025, 9, 9),
                                               hours=Decimal(12), title="录错", token="t-c", today=AS_OF)  # fmt: skip
    member_services.void_training(record=mistaken[0], reason="重复")
    sheet = _book(ledger_branch, personas[Role.SECRETARY], year=2025)["学习培训"]
    header = _header(sheet)
    assert header == [
        "序号",
        "姓名",
        "人员类别",
        "应完成学时",
        "已完成学时",
        "完成情况",
        "培训记录（日期 内容 形式 学时）",
    ]
    rows = {r[1]: r for r in _rows(sheet)}
    assert "积极分子甲" not in rows  # not yet a party member
    assert rows["党员0"][3:6] == [32, 32.5, "已完成"]
    assert rows["党员0"][6] == "2025-04-02 集中轮训 集中培训 20学时\n2025-09-09 网上专题班 网络学习 12.5学时"
    assert rows["党员1"][3:7] == [32, 20, "逾期未完成", "2025-04-02 集中轮训 集中培训 20学时"]
    assert rows["党员2"][4] == 0
    this_year = {r[1]: r for r in _rows(_book(ledger_branch, personas[Role.SECRETARY])["学习培训"])}
    assert this_year["党员0"][4:6] == [0, "待完成"]  # 2026 judged as of 25 November
