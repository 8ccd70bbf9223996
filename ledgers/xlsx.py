"""The one renderer of every 台账 workbook: a Book of plain rows in, an .xlsx out (openpyxl write-only mode).

No Django imports. Rows are lists of plain values (str, int, Decimal, date, datetime, None). What the
renderer guarantees, whatever the rows hold:
- text never becomes a formula: a value beginning with =, +, -, @, tab or CR is written as a string
  cell with Excel's quote prefix (so even editing the cell later keeps it text);
- dates are real Excel dates shown as yyyy-mm-dd (aware datetimes in Asia/Shanghai, yyyy-mm-dd hh:mm);
- every sheet prints on A4 landscape, fitted to the page width, with its header row repeated on every
  page and frozen on screen; column widths fit Chinese text (a CJK character counts as two).
"""

import contextlib
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from io import BytesIO
from itertools import chain, islice
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

SHANGHAI = ZoneInfo("Asia/Shanghai")
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
# A cell beginning with one of these is a formula (or becomes one) in Excel, LibreOffice or WPS.
FORMULA_STARTS = frozenset("=+-@\t\r")
SAMPLE_ROWS = 200  # rows buffered to measure column widths (write-only sheets fix widths up front)
MIN_WIDTH, MAX_WIDTH = 6, 60
MAX_SHEET_TITLE = 31  # Excel's limit


@dataclass
class Column:
    title: str
    width: float | None = None  # None: measured from the header and the first rows
    wrap: bool = False  # long text (minutes, lists of names): wrapped, width capped


@dataclass
class Sheet:
    title: str
    columns: list
    rows: object = ()  # an iterable of lists, or a callable returning one (built when written)
    note: str = ""  # written under the header when there are no rows

    def __post_init__(self):
        self.columns = [c if isinstance(c, Column) else Column(*c) if isinstance(c, tuple) else Column(c)
                        for c in self.columns]  # fmt: skip


@dataclass
class Book:
    sheets: list
    cover_title: str = ""
    cover: list = field(default_factory=list)  # (label, value) pairs; no cover sheet when empty


def text_width(value):
    """Display width of a value in Excel character units: a CJK (wide) character counts as two."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    text = str(value)
    longest = 0
    for line in text.split("\n"):
        width = 0
        for char in line:
            width += 2 if unicodedata.east_asian_width(char) in "WF" else 1
        longest = max(longest, width)
    return longest


def _measure(columns, sample):
    widths = []
    for index, column in enumerate(columns):
        if column.width:
            widths.append(column.width)
            continue
        longest = max(
            [text_width(column.title) + 2, *(text_width(row[index]) for row in sample if index < len(row))]
        )
        widths.append(max(MIN_WIDTH, min(longest + 2, 40 if column.wrap else MAX_WIDTH)))
    return widths


def _print_setup(sheet, widths, *, title_rows=True):
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.page_setup.orientation = Worksheet.ORIENTATION_LANDSCAPE
    sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages tall as needed
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.print_options.horizontalCentered = True
    if title_rows:
        sheet.freeze_panes = "A2"
        sheet.print_title_rows = "1:1"


class _Writer:
    """Turns plain values into what a write-only sheet takes, with the fewest styled cells possible."""

    def __init__(self, sheet, columns):
        self.sheet = sheet
        self.wrap = {i for i, c in enumerate(columns) if c.wrap}
        self.wrap_alignment = Alignment(wrap_text=True, vertical="top")

    def cell(self, value, index=None):
        kind = type(value)
        if kind is str:
            if value and value[0] in FORMULA_STARTS:
                cell = WriteOnlyCell(self.sheet, value=value)
                cell.data_type = "s"  # text, never a formula
                cell.quotePrefix = True
            elif index in self.wrap and ("\n" in value or len(value) > 20):
                cell = WriteOnlyCell(self.sheet, value=value)
            else:
                return value
            if index in self.wrap:
                cell.alignment = self.wrap_alignment
            return cell
        if kind is datetime:
            if value.tzinfo is not None:
                value = value.astimezone(SHANGHAI).replace(tzinfo=None)
            cell = WriteOnlyCell(self.sheet, value=value)
            cell.number_format = DATETIME_FORMAT
            return cell
        # int, Decimal, None and date (openpyxl formats a plain date as yyyy-mm-dd by itself)
        return value

    def row(self, values):
        cell = self.cell
        if self.wrap:
            return [cell(v, i) for i, v in enumerate(values)]
        return [cell(v) for v in values]


def _header(sheet, columns):
    bold = Font(bold=True)
    centre = Alignment(horizontal="center", vertical="center", wrap_text=True)
    cells = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.title)
        cell.data_type = "s"
        cell.font = bold
        cell.alignment = centre
        cells.append(cell)
    return cells


def write_sheet(workbook, spec, *, on_rows=None, every=2000):
    """Write one Sheet; returns the number of data rows. on_rows(n) is called every `every` rows."""
    sheet = workbook.create_sheet(spec.title[:MAX_SHEET_TITLE])
    rows = spec.rows() if callable(spec.rows) else spec.rows
    rows = iter(rows)
    sample = list(islice(rows, SAMPLE_ROWS))
    widths = _measure(spec.columns, sample + ([[spec.note]] if spec.note and not sample else []))
    _print_setup(sheet, widths)
    sheet.append(_header(sheet, spec.columns))
    writer = _Writer(sheet, spec.columns)
    count = 0
    for values in chain(sample, rows):
        sheet.append(writer.row(values))
        count += 1
        if on_rows is not None and count % every == 0:
            on_rows(count)
    if not count and spec.note:
        sheet.append([writer.cell(spec.note)])
    return count


def write_cover(workbook, title, pairs):
    sheet = workbook.create_sheet("封面")
    widths = [16, min(MAX_WIDTH, max(30, *(text_width(v) + 4 for _label, v in pairs)))]
    _print_setup(sheet, widths, title_rows=False)
    sheet.page_setup.orientation = Worksheet.ORIENTATION_PORTRAIT
    writer = _Writer(sheet, [Column("项目"), Column("内容")])
    heading = WriteOnlyCell(sheet, value=title)
    heading.data_type = "s"
    heading.font = Font(bold=True, size=16)
    sheet.append([heading])
    sheet.append([])
    bold = Font(bold=True)
    for label, value in pairs:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font = bold
        sheet.append([cell, writer.cell(value)])


def render(book, target, *, progress=None):
    """Write the book to a path or a binary file object. progress(done, total) after every sheet, and
    every few thousand rows within a long one (done counts sheets; rows are reported as fractions)."""
    workbook = Workbook(write_only=True)
    total = len(book.sheets)
    try:
        if book.cover:
            write_cover(workbook, book.cover_title, book.cover)
        counts = {}
        for done, spec in enumerate(book.sheets):
            on_rows = None
            if progress is not None:
                on_rows = lambda _n, done=done: progress(done, total)  # noqa: E731  (keeps the task alive)
            counts[spec.title] = write_sheet(workbook, spec, on_rows=on_rows)
            if progress is not None:
                progress(done + 1, total)
    except BaseException:
        _discard(workbook)
        raise
    workbook.save(target)
    return counts


def _discard(workbook):
    """After a failure part-way: a write-only sheet keeps its rows in a temporary file that openpyxl
    removes only when saved or when the process exits, and a Celery worker lives for weeks. Saving
    into memory is openpyxl's own way to close and remove them; the partial rows go nowhere."""
    with contextlib.suppress(Exception):
        workbook.save(BytesIO())
