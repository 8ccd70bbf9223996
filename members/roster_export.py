"""The roster as an .xlsx download: rows built here, written with openpyxl's write-only mode."""

from io import BytesIO
from urllib.parse import quote

from django.http import HttpResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

HEADERS = [
    ("序号", 6),
    ("姓名", 10),
    ("性别", 6),
    ("民族", 8),
    ("出生日期", 12),
    ("身份证号码", 21),
    ("学历", 10),
    ("入党时间", 12),
    ("转正时间", 12),
    ("人员类别", 12),
    ("所在党支部", 26),
    ("党小组", 12),
    ("工作单位及职务", 24),
    ("联系电话", 14),
    ("党籍状态", 10),
    ("备注", 20),
]
DATE_FORMAT = "yyyy-mm-dd"


def roster_rows(members):
    """Plain rows in the column order of the county roster template (the same as the import reads)."""
    for index, m in enumerate(members, start=1):
        yield [
            index,
            m.name,
            m.get_gender_display(),
            m.ethnicity,
            m.birth_on,
            m.shown_id_number,
            m.education,
            m.joined_on,
            m.confirmed_on,
            m.get_category_display(),
            m.branch.name,
            m.group.name if m.group else "",
            m.work_unit,
            m.shown_phone,
            m.get_status_display() if m.on_roster else f"{m.get_status_display()}（不在册）",
            m.note,
        ]


def _cell(sheet, value, font=None):
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        # Text such as "=1+1" typed into a name must stay text, never become a formula.
        cell.data_type = "s"
    elif hasattr(value, "year"):
        cell.number_format = DATE_FORMAT
    if font:
        cell.font = font
    return cell


def roster_workbook(members):
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("党员名册")
    for index, (_title, width) in enumerate(HEADERS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.print_title_rows = "1:1"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    bold = Font(bold=True)
    sheet.append([_cell(sheet, title, bold) for title, _width in HEADERS])
    for row in roster_rows(members):
        sheet.append([_cell(sheet, value) for value in row])
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def roster_workbook_response(members, *, filename):
    response = HttpResponse(
        roster_workbook(members),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response["Cache-Control"] = "private, no-store"
    return response
