"""The renderer on plain rows: no database."""

from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from ledgers.xlsx import Book, Column, Sheet, Total, render, text_width

DANGEROUS = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\r=1"]


def _open(book):
    buffer = BytesIO()
    render(book, buffer)
    buffer.seek(0)
    return load_workbook(buffer)


def test_text_that_looks_like_a_formula_stays_text():
    workbook = _open(Book([Sheet("名单", ["序号", "姓名"], [[i, v] for i, v in enumerate(DANGEROUS, 1)])]))
    cells = [row[1] for row in workbook["名单"].iter_rows(min_row=2)]
    # (XML reads a CR back as a line feed)
    assert [c.value for c in cells] == [v.replace("\r", "\n") for v in DANGEROUS]
    assert {c.data_type for c in cells} == {"s"}
    assert all(c.quotePrefix for c in cells)


def test_dates_are_excel_dates_and_moments_are_shanghai_time():
    moment = datetime(2026, 3, 1, 2, 30, tzinfo=ZoneInfo("UTC"))
    sheet = _open(Book([Sheet("日期", ["日期", "时间"], [[date(2026, 7, 1), moment]])]))["日期"]
    day, when = sheet["A2"], sheet["B2"]
    assert day.is_date and day.number_format == "yyyy-mm-dd" and day.value == datetime(2026, 7, 1)
    assert when.is_date and when.value == datetime(2026, 3, 1, 10, 30)  # 10:30 in Asia/Shanghai


def test_every_sheet_prints_a4_landscape_fitted_to_width_with_a_repeated_frozen_header():
    book = Book([Sheet("甲", ["a"], [[1]]), Sheet("乙", ["b"], [])], "封面标题", [("党支部", "某支部")])
    workbook = _open(book)
    assert workbook.sheetnames == ["封面", "甲", "乙"]
    for name in ("甲", "乙"):
        sheet = workbook[name]
        assert sheet.page_setup.orientation == "landscape"
        assert int(sheet.page_setup.paperSize) == 9  # A4
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert (int(sheet.page_setup.fitToWidth), int(sheet.page_setup.fitToHeight)) == (1, 0)
        assert sheet.print_title_rows == "$1:$1"
        assert sheet.freeze_panes == "A2"


def test_column_widths_count_a_chinese_character_as_two():
    assert text_width("幸福里社区") == 10 and text_width("abc") == 3 and text_width("甲\nabcdef") == 6
    rows = [["幸福里社区第一党支部第一党小组", "x"]]
    sheet = _open(Book([Sheet("宽度", ["党组织", Column("固定", 9)], rows)]))["宽度"]
    assert sheet.column_dimensions["A"].width >= text_width(rows[0][0])
    assert sheet.column_dimensions["B"].width == 9


def test_an_empty_sheet_keeps_its_header_and_says_why():
    sheet = _open(Book([Sheet("民主评议", ["序号", "姓名"], [], note="本年度无民主评议记录")]))["民主评议"]
    assert [c.value for c in sheet[1]] == ["序号", "姓名"]
    assert sheet["A2"].value == "本年度无民主评议记录"


def test_progress_counts_sheets_up_to_the_total():
    seen = []
    render(
        Book([Sheet("一", ["a"], [[1]]), Sheet("二", ["a"], [[2]])]),
        BytesIO(),
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(1, 2), (2, 2)]


def test_amounts_read_with_their_two_places():
    paid = [Decimal("10.00"), Decimal("8.50")]
    rows = [["农民党员", Decimal("0.20"), sum(paid), Decimal("12.5"), Decimal(3)]]
    sheet = _open(Book([Sheet("党费", ["姓名", "月应缴（元）", "合计（元）", "学时", "件数"], rows)]))["党费"]
    monthly, total, hours, whole = sheet["B2"], sheet["C2"], sheet["D2"], sheet["E2"]
    assert (monthly.value, monthly.number_format) == (0.2, "0.00")  # reads 0.20, not 0.2
    assert (total.value, total.number_format) == (18.5, "0.00")  # 18.50
    assert (hours.number_format, whole.number_format) == ("0.0", "0")  # 学时 keep their one place
    assert monthly.data_type == "n"  # still a number: sums and filters work on it


def test_a_total_row_is_bold_and_the_rows_above_it_are_not():
    rows = [
        [1, "张三", Decimal("10.00")],
        [2, "李四", Decimal("8.50")],
        Total([None, "合计", Decimal("18.50")]),
    ]
    sheet = _open(Book([Sheet("党费收缴", [("序号", 6), "姓名", "合计（元）"], rows)]))["党费收缴"]
    assert [c.value for c in sheet[4]] == [None, "合计", 18.5]
    assert all(c.font.bold for c in sheet[4]) and sheet["C4"].number_format == "0.00"
    assert not any(c.font.bold for row in sheet.iter_rows(min_row=2, max_row=3) for c in row)


def test_a_total_row_counts_as_a_row():
    counts = render(Book([Sheet("甲", ["a"], [[1], Total([1])])]), BytesIO())
    assert counts == {"甲": 2}
