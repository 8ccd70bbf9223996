"""The roster as an .xlsx download: the 党员名册 rows are defined here (the 台账 uses them too) and
written by ledgers.xlsx, the one renderer of every workbook."""

from io import BytesIO
from urllib.parse import quote

from django.http import HttpResponse

from ledgers.xlsx import Book, Column, Sheet, render

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


def roster_workbook(members):
    """The roster as one sheet, written by the ledgers' renderer (the same print setup and text safety)."""
    buffer = BytesIO()
    render(
        Book([Sheet("党员名册", [Column(title, width) for title, width in HEADERS], roster_rows(members))]),
        buffer,
    )
    return buffer.getvalue()


def roster_workbook_response(members, *, filename):
    response = HttpResponse(
        roster_workbook(members),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response["Cache-Control"] = "private, no-store"
    return response
