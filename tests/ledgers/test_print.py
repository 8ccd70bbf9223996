"""How the 台账 print: A4 landscape, readable, each page saying whose ledger and which sheet it is.

The scale a sheet prints at is what Excel and WPS choose to fit its columns to the page width: the
printable width (A4 landscape less the sheet's own margins, at 96 px an inch) over the columns' width,
a column of width w taking 7w + 5 px (the default 11 pt font). Measured so, the 三会一课记录 of 22 columns
printed at 38 % and 主题党日 at 48 %.
"""

from io import BytesIO

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from branches.models import Role
from ledgers import exports, xlsx
from ledgers.xlsx import Book, Column, Sheet, render
from tests.ledgers.conftest import AS_OF, YEAR

A4_LANDSCAPE_INCHES = 11.69
NAMES = "、".join(f"党员{i:02d}（第{i % 3 + 1}党小组）" for i in range(12))  # a long list of attendees
TITLE = "幸福里社区第一党支部 2026年度组织生活台账"


def _open(book):
    buffer = BytesIO()
    render(book, buffer)
    buffer.seek(0)
    return load_workbook(buffer)


def _widths(sheet):
    return [sheet.column_dimensions[get_column_letter(i)].width for i in range(1, sheet.max_column + 1)]


def _scale_on_one_page(sheet):
    margins = sheet.page_margins
    printable = (A4_LANDSCAPE_INCHES - margins.left - margins.right) * 96
    return min(1.0, printable / sum(7 * w + 5 for w in _widths(sheet)))


def _meeting_like(columns=22):
    """A sheet shaped like 三会一课记录: fixed narrow columns, names, and long text in several columns."""
    fixed = [("序号", 6), ("召开日期", 12), ("应到", 6), ("实到", 6), ("请假", 6), ("缺席", 6), ("外出", 6),
             ("补录", 6), ("到会未过半", 10)]  # fmt: skip
    long_text = [
        Column(t, wrap=True) for t in ("会议主题", "出席人员", "请假人员（事由）", "缺席人员", "外出人员")
    ]
    measured = [f"栏目{i}" for i in range(columns - len(fixed) - len(long_text))]
    heads = [*fixed, *long_text, *measured]
    row = [1, None, 9, 8, 1, 0, 0, "", "", "学习贯彻党的二十届三中全会精神专题研讨", NAMES, NAMES, NAMES, NAMES,
           *("会议记录本遗失后据签到表补录" for _ in measured)]  # fmt: skip
    return Sheet("三会一课记录", heads, [row, [2, *row[1:]]])


def test_a_wide_sheet_prints_readably_fitted_to_the_page_width():
    sheet = _open(Book([_meeting_like(18)], TITLE))["三会一课记录"]
    assert _scale_on_one_page(sheet) >= xlsx.MIN_SCALE  # its columns as measured: 35 %
    assert (int(sheet.page_setup.fitToWidth), int(sheet.page_setup.fitToHeight)) == (1, 0)  # pages run down
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.print_title_rows == "$1:$1"
    # The long text columns gave the width: narrowed, never below NARROWEST, and their text wrapped in
    # rows tall enough for it, the row's other cells on its first line.
    headers = [c.value for c in sheet[1]]
    names = headers.index("出席人员") + 1
    width = sheet.column_dimensions[get_column_letter(names)].width
    assert xlsx.NARROWEST <= width < 40
    cell = sheet.cell(row=2, column=names)
    assert cell.value == NAMES and cell.alignment.wrap_text and cell.alignment.vertical == "top"
    assert sheet.cell(row=2, column=1).alignment.vertical == "top"
    lines = xlsx.text_width(NAMES) / (width - 1)
    assert sheet.row_dimensions[2].height >= lines * 15
    assert sheet.column_dimensions["B"].width == 12 and sheet.column_dimensions["A"].width == 6  # fixed


def test_a_sheet_of_too_many_columns_for_one_page_prints_two_pages_wide_with_its_first_columns_on_each():
    sheet = _open(Book([_meeting_like(27)], TITLE))["三会一课记录"]  # 三会一课记录 has 27 now
    assert _scale_on_one_page(sheet) < xlsx.MIN_SCALE  # one page's width would shrink it past reading
    assert (int(sheet.page_setup.fitToWidth), int(sheet.page_setup.fitToHeight)) == (2, 0)
    assert sheet.print_title_cols == "$A:$B"  # 序号 and 召开日期 tell the row on the second page
    assert sheet.page_setup.pageOrder == "overThenDown"  # a row's two pages one after the other
    assert xlsx.print_scale(_widths(sheet), 2, 2) >= xlsx.MIN_SCALE


def test_a_narrow_sheet_keeps_the_widths_its_text_needs():
    rows = [[1, "幸福里社区第一党支部", "研究发展党员工作"]]
    sheet = _open(Book([Sheet("谈心谈话", [("序号", 6), "党组织", Column("主要内容", wrap=True)], rows)]))[
        "谈心谈话"
    ]
    assert _widths(sheet) == [6, 22, 18] and _scale_on_one_page(sheet) == 1.0
    assert int(sheet.page_setup.fitToWidth) == 1 and sheet.print_title_cols is None


def test_every_page_says_whose_ledger_and_which_sheet_and_counts_the_pages():
    book = Book([Sheet("党费收缴", ["姓名"], [["张三"]]), Sheet("合规情况", ["规则"], [])], "R&D 支部 2026年度台账",
                [("党支部", "R&D 支部")])  # fmt: skip
    workbook = _open(book)
    for name in ("党费收缴", "合规情况"):
        sheet = workbook[name]
        assert sheet.oddHeader.left.text == "R&&D 支部 2026年度台账"  # && prints one &
        assert sheet.oddHeader.right.text == name
        assert sheet.oddFooter.center.text == "第 &P 页 / 共 &N 页"
        assert sheet.page_margins.left < 0.75 and sheet.page_margins.header < sheet.page_margins.top
    cover = workbook["封面"]
    assert cover.oddFooter.center.text == "第 &P 页 / 共 &N 页" and cover.page_setup.orientation == "portrait"


def test_a_header_too_long_for_its_column_wraps_in_a_taller_row():
    sheet = _open(
        Book(
            [
                Sheet(
                    "组织生活会",
                    [("序号", 6), ("整改清单（问题／措施／责任人／期限／完成）", 14)],
                    [[1, "x"]],
                )
            ]
        )
    )
    header = sheet["组织生活会"]
    assert header["B1"].alignment.wrap_text and header.row_dimensions[1].height >= 3 * 15


def test_a_long_note_on_the_cover_wraps_in_a_tall_enough_row():
    note = "党员名册为导出时在册人员；党费收缴表列本年度曾在本支部的党员（含年内转出、转入、入党者）。" * 2
    cover = _open(Book([Sheet("甲", ["a"], [])], TITLE, [("党支部", "某支部"), ("说明", note)]))["封面"]
    cell = next(c for c in cover["B"] if c.value == note)
    assert cell.alignment.wrap_text and cover.row_dimensions[cell.row].height >= 2 * 15
    assert cover.column_dimensions["B"].width <= xlsx.MAX_WIDTH


@pytest.mark.django_db
def test_every_sheet_of_a_branch_ledger_prints_readably_with_its_header(ledger_branch, personas):
    book = exports.branch_book(ledger_branch, year=YEAR, user=personas[Role.SECRETARY], as_of=AS_OF)
    workbook = _open(book)
    for name in workbook.sheetnames[1:]:
        sheet = workbook[name]
        pages = int(sheet.page_setup.fitToWidth)
        titles = 2 if pages > 1 else 0
        assert xlsx.print_scale(_widths(sheet), pages, titles) >= xlsx.MIN_SCALE, name
        assert sheet.oddHeader.left.text == book.cover_title and sheet.oddHeader.right.text == name
