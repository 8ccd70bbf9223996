"""Meeting attachments and the roster import (.xlsx) with hostile names, contents and containers.

The test client strips directories from file names before sending, so the multipart bodies here are
built by hand: the server must see "../../etc/passwd.pdf" exactly as an attacker would send it.
"""

import io
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from openpyxl import Workbook

from meetings.models import Attachment, Meeting
from members import roster_import
from members.models import Member, RosterImport
from tests.security.conftest import assert_refused, assert_shown_escaped, idn, meeting_data, row_counts

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
BOUNDARY = "----zhibu-hostile-boundary"


def multipart(fields, files):
    """A multipart/form-data body; files are (field, file name as sent, bytes)."""
    out = io.BytesIO()
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            out.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
            out.write(str(item).encode() + b"\r\n")
    for name, filename, content in files:
        out.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '.encode())
        out.write(b'filename="' + filename.encode("utf-8", "surrogatepass") + b'"\r\n')
        out.write(b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n")
    out.write(f"--{BOUNDARY}--\r\n".encode())
    return out.getvalue()


def post_files(client, url, fields, files):
    return client.post(
        url, multipart(fields, files), content_type=f"multipart/form-data; boundary={BOUNDARY}"
    )


def media_files():
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def create_url(branch):
    return reverse("meetings:create") + f"?branch={branch.pk}"


# ---------------------------------------------------------------- attachments: names


TRAVERSAL_NAMES = {
    "dotdot": "../../etc/passwd.pdf",
    "dotdot_deep": "../../../../../../../../tmp/evil.pdf",
    "backslash": "..\\..\\windows\\system32\\drivers\\etc\\hosts.pdf",
    "absolute": "/etc/passwd.pdf",
    "dot_slash_mix": "....//....//x.pdf",
    "encoded": "%2e%2e%2f%2e%2e%2fx.pdf",
    "html_entities": "&#46;&#46;&#47;x.pdf",
    "nul": "签到表.pdf\x00.exe",
    "markup": "<script>alert(1)</script>.pdf",
    "very_long": "长" * 300 + ".pdf",
    "device": "CON.pdf",
    "dotfile": ".htaccess",
    "rtl": "签到表\u202efdp.exe",
    "emoji": "👨‍👩‍👧‍👦签到.pdf",
}


@pytest.mark.parametrize("filename", TRAVERSAL_NAMES.values(), ids=TRAVERSAL_NAMES.keys())
def test_an_uploaded_name_never_chooses_where_the_file_is_stored(secretary, branch, filename):
    response = post_files(secretary, create_url(branch), meeting_data(branch), [("files", filename, PDF)])
    assert response.status_code == 302, response.content.decode()[:500]
    attachment = Attachment.objects.get()
    media = Path(settings.MEDIA_ROOT).resolve()
    stored = Path(attachment.file.path).resolve()
    assert media in stored.parents
    assert ".." not in attachment.file.name and "\\" not in attachment.file.name
    assert stored.name.startswith(f"{attachment.meeting_id}-") and stored.suffix == ".pdf"
    assert "/" not in attachment.original_name and "\\" not in attachment.original_name
    assert "\x00" not in attachment.original_name and len(attachment.original_name) <= 200
    assert_shown_escaped(secretary.get(response["Location"]).content.decode(), attachment.original_name)
    download = secretary.get(reverse("meetings:attachment", args=[attachment.meeting_id, attachment.pk]))
    assert download["Content-Type"] == "application/pdf"
    assert (
        "\n" not in download["Content-Disposition"]
        and "/" not in download["Content-Disposition"].split("filename")[1]
    )
    assert b"".join(download.streaming_content) == PDF


# ---------------------------------------------------------------- attachments: contents


def _docx_without_document():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.exe", b"MZ" + b"\x00" * 100)
    return buffer.getvalue()


BAD_CONTENTS = {
    "exe_as_pdf": ("报告.pdf", b"MZ\x90\x00" + b"\x00" * 200),
    "html_as_jpg": ("照片.jpg", b"<html><script>alert(1)</script></html>"),
    "php_as_png": ("照片.png", b"<?php system($_GET['c']); ?>"),
    "svg_as_png": ("图.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
    "zip_as_docx": ("材料.docx", _docx_without_document()),
    "broken_zip_as_docx": ("材料.docx", b"PK\x03\x04" + b"\x00" * 50),
    "empty_pdf": ("空.pdf", b""),
    "text_as_doc": ("材料.doc", "会议记录".encode()),
}


@pytest.mark.parametrize(("filename", "content"), BAD_CONTENTS.values(), ids=BAD_CONTENTS.keys())
def test_content_that_is_not_what_its_name_says_is_refused_and_nothing_is_saved(secretary, branch, filename,
                                                                                content):  # fmt: skip
    before = row_counts()
    response = post_files(secretary, create_url(branch), meeting_data(branch), [("files", filename, content)])
    assert_refused(response, before)
    assert "不是允许的文件类型" in response.content.decode()
    assert media_files() == []


def test_a_good_file_beside_a_bad_one_saves_neither(secretary, branch):
    before = row_counts()
    files = [("files", "签到表.pdf", PDF), ("files", "病毒.pdf", b"MZ" + b"\x00" * 10)]
    response = post_files(secretary, create_url(branch), meeting_data(branch), files)
    assert_refused(response, before)
    assert not Meeting.objects.exists() and media_files() == []


def test_a_file_over_the_limit_is_refused(secretary, branch):
    from meetings.attachments import MAX_BYTES

    before = row_counts()
    big = PDF + b"0" * MAX_BYTES
    response = post_files(secretary, create_url(branch), meeting_data(branch), [("files", "扫描件.pdf", big)])
    assert_refused(response, before)
    assert "超过 10 MB" in response.content.decode()
    assert media_files() == []


def test_more_files_than_allowed_are_refused(secretary, branch):
    before = row_counts()
    files = [("files", f"第{i}页.png", PNG) for i in range(11)]
    response = post_files(secretary, create_url(branch), meeting_data(branch), files)
    assert_refused(response, before)
    assert "最多 10 个附件" in response.content.decode()


def test_adding_a_bad_file_when_editing_keeps_the_record_as_it_was(secretary, branch):
    response = post_files(secretary, create_url(branch), meeting_data(branch), [("files", "a.pdf", PDF)])
    meeting = Meeting.objects.get()
    before, files_before = row_counts(), media_files()
    url = reverse("meetings:edit", args=[meeting.pk])
    data = meeting_data(branch, topic="改过的主题", token=meeting.submit_token)
    response = post_files(secretary, url, data, [("files", "b.pdf", b"not a pdf")])
    assert_refused(response, before)
    meeting.refresh_from_db()
    assert meeting.topic == "学习党章" and media_files() == files_before


# ---------------------------------------------------------------- roster import


HEADER = ["姓名", "身份证号码", "人员类别", "所在党支部", "党小组", "入党时间", "转正时间", "备注"]


def roster_bytes(rows, header=HEADER):
    wb = Workbook()
    sheet = wb.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def good_row(serial, **changes):
    values = dict(zip(HEADER, [f"导入{serial}", idn(400 + serial), "正式党员", "甲社区第一党支部", "第一党小组",
                               datetime(2005, 7, 1), datetime(2006, 7, 1), None], strict=True))  # fmt: skip
    values.update(changes)
    return [values[h] for h in HEADER]


def replace_part(xlsx, part, content):
    """The same workbook with one part of the zip replaced (a hand-made corruption)."""
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item.filename, content if item.filename == part else source.read(item.filename))
    return buffer.getvalue()


def zip_of(entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def sheet_xml(cells):
    return (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main"><sheetData>' + cells + "</sheetData></worksheet>"
    ).encode()


SHEET = "xl/worksheets/sheet1.xml"
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;'
    b'&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'
    b'&lol2;">]><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row></sheetData></worksheet>'
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><worksheet xmlns="http://'
    b'schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is>'
    b"<t>&xxe;</t></is></c></row></sheetData></worksheet>"
)


def _zip_bomb():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr(SHEET, b"0" * (101 * 1024 * 1024))
    return buffer.getvalue()


def _header_cells():
    return "".join(
        f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{h}</t></is></c>' for i, h in enumerate(HEADER)
    )


BAD_WORKBOOKS = {
    "empty_file": lambda: b"",
    "one_byte": lambda: b"P",
    "random_bytes": lambda: bytes(range(256)) * 4,
    "csv_renamed": lambda: "姓名,身份证号码\n张三,1\n".encode("gbk"),
    "html_renamed": lambda: (
        b"<html><body><table><tr><td>\xe5\xa7\x93\xe5\x90\x8d</td></tr></table></body></html>"
    ),
    "old_xls": lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500,
    "truncated_xlsx": lambda: roster_bytes([good_row(1)])[:600],
    "zip_without_workbook": lambda: zip_of({"hello.txt": b"hi"}),
    "zip_bomb": _zip_bomb,
    "malformed_sheet_xml": lambda: replace_part(
        roster_bytes([good_row(1)]), SHEET, b"<worksheet><sheetData><row>"
    ),
    "sheet_not_xml": lambda: replace_part(roster_bytes([good_row(1)]), SHEET, b"\x00\x01\x02 not xml"),
    "billion_laughs": lambda: replace_part(roster_bytes([good_row(1)]), SHEET, BILLION_LAUGHS),
    "xxe": lambda: replace_part(roster_bytes([good_row(1)]), SHEET, XXE),
    "bad_number_cell": lambda: replace_part(
        roster_bytes([good_row(1)]),
        SHEET,
        sheet_xml(
            f'<row r="1">{_header_cells()}</row><row r="2"><c r="A2" t="inlineStr"><is><t>张三</t></is></c>'
            f'<c r="B2"><v>NaN</v></c><c r="F2"><v>abc</v></c></row>'
        ),
    ),  # fmt: skip
    "bad_shared_string_index": lambda: replace_part(
        roster_bytes([good_row(1)]),
        SHEET,
        sheet_xml('<row r="1"><c r="A1" t="s"><v>99999</v></c></row>'),
    ),
    "only_header": lambda: roster_bytes([]),
    "missing_columns": lambda: roster_bytes([["张三", "正式党员"]], header=["姓名", "人员类别"]),
    "all_sheets_hidden": lambda: replace_part(
        roster_bytes([good_row(1)]),
        "xl/workbook.xml",
        b'<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        b'<sheet name="S" sheetId="1" state="hidden" r:id="rId1"/></sheets></workbook>',
    ),
}


def test_numbers_a_spreadsheet_cannot_hold_are_reported_by_row(secretary, branch):
    # 1e999 reads as infinity, which JSON (where the preview keeps the rows) cannot hold.
    content = replace_part(
        roster_bytes([good_row(1)]), SHEET,
        sheet_xml(f'<row r="1">{_header_cells()}</row><row r="2"><c r="A2" t="inlineStr"><is><t>张三</t></is></c>'
                  f'<c r="B2"><v>1e999</v></c><c r="C2" t="inlineStr"><is><t>正式党员</t></is></c>'
                  f'<c r="D2" t="inlineStr"><is><t>甲社区第一党支部</t></is></c><c r="F2"><v>-1e999</v></c></row>'),
    )  # fmt: skip
    upload = post_files(secretary, reverse("members:import"), {}, [("file", "名册.xlsx", content)])
    assert upload.status_code == 302
    preview = secretary.get(upload["Location"]).content.decode()
    assert "身份证号" in preview and "无法识别的日期" in preview
    before = row_counts()
    secretary.post(upload["Location"], {"mode": "skip"})
    assert RosterImport.objects.get().outcome["counts"]["failed"] == 1
    assert row_counts()["members.Member"] == before["members.Member"]


@pytest.mark.parametrize("build", BAD_WORKBOOKS.values(), ids=BAD_WORKBOOKS.keys())
def test_a_file_that_is_not_a_usable_roster_is_refused_with_a_reason(secretary, branch, build):
    before = row_counts()
    response = post_files(secretary, reverse("members:import"), {}, [("file", "名册.xlsx", build())])
    assert_refused(response, before, field="file")
    assert not RosterImport.objects.exists()


def test_a_file_over_the_size_limit_is_refused_before_it_is_opened(secretary, branch):
    before = row_counts()
    content = roster_bytes([good_row(1)]) + b"\x00" * roster_import.MAX_FILE_BYTES
    response = post_files(secretary, reverse("members:import"), {}, [("file", "名册.xlsx", content)])
    assert_refused(response, before, field="file")
    assert "文件过大" in response.content.decode()


def test_too_many_rows_are_refused(secretary, branch, monkeypatch):
    monkeypatch.setattr(roster_import, "MAX_ROWS", 3)
    before = row_counts()
    content = roster_bytes([good_row(i) for i in range(5)])
    response = post_files(secretary, reverse("members:import"), {}, [("file", "名册.xlsx", content)])
    assert_refused(response, before, field="file")
    assert "请分批导入" in response.content.decode()


@pytest.mark.parametrize("filename", ["", "..", "../"], ids=["empty", "dotdot", "dotdot_slash"])
def test_an_upload_with_no_usable_name_asks_for_the_file(secretary, branch, filename):
    before = row_counts()
    response = post_files(
        secretary, reverse("members:import"), {}, [("file", filename, roster_bytes([good_row(1)]))]
    )
    assert_refused(response, before, field="file")


@pytest.mark.parametrize(
    "filename",
    [
        "../../../../etc/名册.xlsx",
        "..\\..\\名册.xlsx",
        "<img src=x onerror=alert(1)>.xlsx",
        "名" * 250 + ".xlsx",
    ],
    ids=["dotdot", "backslash", "markup", "very_long"],
)
def test_the_import_keeps_only_a_harmless_display_name(secretary, branch, filename):
    response = post_files(
        secretary, reverse("members:import"), {}, [("file", filename, roster_bytes([good_row(1)]))]
    )
    assert response.status_code == 302
    record = RosterImport.objects.get()
    assert "/" not in record.filename and "\\" not in record.filename and len(record.filename) <= 200
    assert_shown_escaped(secretary.get(response["Location"]).content.decode(), record.filename)


HOSTILE_CELLS = {
    "markup_name": {"姓名": "<script>alert('导入')</script>"},
    "formula_note": {"备注": '=HYPERLINK("http://x","点我")'},
    "plus_note": {"备注": "+cmd|' /C calc'!A0"},
    "sql_name": {"姓名": "'; DROP TABLE members_member; --"},
    "fullwidth_id": {"身份证号码": idn(401).translate(str.maketrans("0123456789", "０１２３４５６７８９"))},
    "zero_width_name": {"姓名": "王\u200b芳\ufeff"},
    "long_name": {"姓名": "名" * 51},
    "long_note": {"备注": "备" * 201},
    "ancient_date": {"入党时间": "0001-01-01"},
    "future_date": {"入党时间": "9999-12-31", "转正时间": None},
    "impossible_date": {"入党时间": "2019.02.30"},
    "serial_out_of_range": {"入党时间": 99999999},
    "negative_serial": {"入党时间": -5},
    "bool_cell": {"人员类别": True},
    "emoji_branch": {"所在党支部": "👨‍👩‍👧‍👦党支部"},
    "sql_branch": {"所在党支部": "' OR 1=1 --"},
}


@pytest.mark.parametrize("changes", HOSTILE_CELLS.values(), ids=HOSTILE_CELLS.keys())
def test_hostile_cells_are_reported_or_imported_as_text(secretary, branch, changes):
    content = roster_bytes([good_row(1, **changes)])
    upload = post_files(secretary, reverse("members:import"), {}, [("file", "名册.xlsx", content)])
    assert upload.status_code == 302
    preview = secretary.get(upload["Location"])
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "<script>alert('导入')" not in html
    before = row_counts()
    secretary.post(upload["Location"], {"mode": "skip"})
    record = RosterImport.objects.get()
    counts = record.outcome["counts"]
    assert counts["created"] + counts["failed"] == 1
    if counts["failed"]:
        [(_row, _column, message)] = [p for p in record.outcome["problems"] if not p[2].startswith("提示")]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in message)
        assert row_counts()["members.Member"] == before["members.Member"]
        assert_shown_escaped(secretary.get(upload["Location"]).content.decode(), message)
        return
    member = Member.objects.get(id_number=idn(401))
    for column, value in changes.items():
        field = {"姓名": "name", "备注": "note"}.get(column)
        if field:
            assert getattr(member, field) == value.replace("\u200b", "").replace("\ufeff", "")
    assert_shown_escaped(
        secretary.get(reverse("members:detail", args=[member.pk])).content.decode(), member.name
    )
