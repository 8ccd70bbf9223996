"""The one renderer of every 台账 workbook: a Book of plain rows in, an .xlsx out (openpyxl write-only mode).

No Django imports. Rows are lists of plain values (str, int, Decimal, date, datetime, None). What the
renderer guarantees, whatever the rows hold:
- text never becomes a formula: a value beginning with =, +, -, @, tab or CR is written as a string
  cell with Excel's quote prefix (so even editing the cell later keeps it text);
- dates are real Excel dates shown as yyyy-mm-dd (aware datetimes in Asia/Shanghai, yyyy-mm-dd hh:mm);
- amounts read as amounts: a Decimal keeps its two places (0.20, 18.50; see _decimal_format);
- a row wrapped in Total (a sheet's 合计) is bold;
- every sheet prints on A4 landscape, fitted to the page width and running down as many pages as it
  needs, with its header row repeated on every page and frozen on screen, the ledger's title and the
  sheet's name in the page header and “第 n 页 / 共 m 页” in the footer; column widths fit Chinese text (a
  CJK character counts as two), and no sheet prints smaller than MIN_SCALE: a wide one has its long
  columns narrowed and wrapped, and one of too many columns for that prints two pages wide (see _layout).
"""

import contextlib
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from itertools import chain, islice
from math import ceil
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins
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

# Printing. Narrow margins (inches) leave A4 landscape 11.69 - 0.6 = 11.09 in of width, 1065 px at 96 dpi;
# a column of width w (Excel's unit: characters of the default 11 pt font, 7 px each) takes 7w + 5 px.
# Excel and WPS scale a sheet down to the width of the pages it is fitted to: a sheet wider than
# PRINT_WIDTH_PX / MIN_SCALE prints smaller than MIN_SCALE (at 65 % the 11 pt text reads as 7 pt), so
# _layout narrows its long columns first, and a sheet of so many columns that even narrowed they print
# smaller is fitted to two pages' width, each page with the sheet's first columns (序号 and the date or
# name that tells a row) and the pages of a row next to each other (see _layout).
MARGINS = {"left": 0.3, "right": 0.3, "top": 0.75, "bottom": 0.6, "header": 0.3, "footer": 0.3}
PRINT_WIDTH_PX = (11.69 - MARGINS["left"] - MARGINS["right"]) * 96
MIN_SCALE = 0.65
MAX_PAGES_WIDE = 2
TITLE_COLUMNS = 2  # repeated on every page of a sheet printed two pages wide
NARROWEST = 14  # a measured column is narrowed down to this (7 Chinese characters a line), never below
FOOTER = "第 &P 页 / 共 &N 页"  # &P: the page, &N: the sheet's pages
HEADER_SIZE = 9
# A wrapped row is given its height (Excel sizes one by itself on opening, LibreOffice and some WPS do not).
LINE_HEIGHT = 15  # points a line of 11 pt text takes (Excel's default row), Chinese fonts' included
MAX_ROW_HEIGHT = 409  # Excel's limit
CJK_SPREAD = 1.05  # a Chinese character of 11 pt takes a little more than two characters' width
MAX_HEADER_TITLE = 80  # Excel keeps 255 characters of a header in all


def column_px(width):
    """Printed width at 100 % of a column `width` characters wide."""
    return 7 * width + 5


def print_scale(widths, pages=1, title_columns=0):
    """The scale (a whole percent, as Excel chooses it; 1: not shrunk) that columns of these widths print
    at when fitted to `pages` pages' width, the first `title_columns` repeated on every page: a page ends
    at the last column that fits whole, so over several pages a little smaller than their width alone
    would let them."""
    if not widths:
        return 1.0
    at_most = min(1.0, pages * PRINT_WIDTH_PX / _printed_px(widths, pages, title_columns))  # breaks aside
    for percent in range(int(at_most * 100 + 1e-9), 9, -1):
        if _pages_wide(widths, percent / 100, title_columns) <= pages:
            return percent / 100
    return 0.1


def _pages_wide(widths, scale, title_columns):
    room = PRINT_WIDTH_PX / scale
    repeated = sum(map(column_px, widths[:title_columns]))
    pages, used = 1, 0
    for index, width in enumerate(widths):
        px = column_px(width)
        if used + px > room and index >= title_columns and used > repeated:
            pages, used = pages + 1, repeated
        used += px
    return pages


def _printed_px(widths, pages, title_columns):
    return sum(map(column_px, widths)) + (pages - 1) * sum(map(column_px, widths[:title_columns]))


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


class Total(list):
    """A row to be written bold: a sheet's 合计 (or a subtotal). A list like any other row, so it is measured
    and counted as one: `yield Total([None, "合计", ..., Decimal("18.50")])` from a sheet's rows."""


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


@dataclass
class Layout:
    widths: list
    pages: int = 1  # pages wide
    title_columns: int = 0  # first columns repeated on every page (when more than one page wide)

    @property
    def scale(self):
        return print_scale(self.widths, self.pages, self.title_columns)


def _narrowed(columns, natural, scale, pages, title_columns):
    """Widths that print at `scale` or more over `pages` pages' width, if narrowing can: every measured
    column wider than NARROWEST gives up the same share of what it has beyond it (so the long text columns
    give most), as far as needed; a column of a fixed width keeps it."""
    widths = list(natural)
    excess = _printed_px(widths, pages, title_columns) - pages * PRINT_WIDTH_PX / scale  # px to lose
    if excess <= 0:
        return widths
    floors = [w if c.width else min(w, NARROWEST) for c, w in zip(columns, widths, strict=True)]
    slack = sum(w - f for w, f in zip(widths, floors, strict=True))
    if not slack:
        return widths
    share = min(1.0, excess / 7 / slack)
    return [max(f, int(w - (w - f) * share)) for w, f in zip(widths, floors, strict=True)]


def _layout(columns, natural):
    """How a sheet prints: on one page's width at MIN_SCALE or more, its long columns narrowed (and so
    wrapped) as far as needed; else, when even narrowed its columns are too many for that, on two pages'
    width, narrowed only as far as that needs, each page with the first columns of the sheet."""
    for pages in range(1, MAX_PAGES_WIDE + 1):
        titles = min(TITLE_COLUMNS, len(natural) - 1) if pages > 1 else 0
        aim, layout = MIN_SCALE, Layout(_narrowed(columns, natural, MIN_SCALE, pages, titles), pages, titles)
        while layout.scale < MIN_SCALE and aim < 1:  # where the pages break cost some: aim a little higher
            aim += 0.02
            widths = _narrowed(columns, natural, aim, pages, titles)
            if widths == layout.widths:
                break  # narrowed as far as it goes
            layout = Layout(widths, pages, titles)
        if layout.scale >= MIN_SCALE:
            break
    return layout


def _header_text(text):
    return text.replace("&", "&&")  # a lone & starts a code (&P, &N...) in a page header


def _print_setup(sheet, layout, *, title_rows=True, heading="", name=""):
    for index, width in enumerate(layout.widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.page_setup.orientation = Worksheet.ORIENTATION_LANDSCAPE
    sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = layout.pages
    sheet.page_setup.fitToHeight = 0  # as many pages tall as needed
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.page_margins = PageMargins(**MARGINS)
    sheet.print_options.horizontalCentered = True
    if heading:
        sheet.oddHeader.left.text = _header_text(heading[:MAX_HEADER_TITLE])
        sheet.oddHeader.left.size = HEADER_SIZE
    if name:
        sheet.oddHeader.right.text = _header_text(name)
        sheet.oddHeader.right.size = HEADER_SIZE
    sheet.oddFooter.center.text = FOOTER
    sheet.oddFooter.center.size = HEADER_SIZE
    if title_rows:
        sheet.freeze_panes = "A2"
        sheet.print_title_rows = "1:1"
    if layout.pages > 1:
        sheet.print_title_cols = f"A:{get_column_letter(layout.title_columns)}"
        sheet.page_setup.pageOrder = "overThenDown"  # a row's pages one after the other


DECIMAL_FORMATS = ("0", "0.0", "0.00")


def _decimal_format(value):
    """A Decimal shows the places it carries, up to two: every amount in this app is in cents (its fields
    have two decimal places and members.dues rounds to the cent), so 0.20 and 18.50 read as amounts; 学时
    (one place) as 12.5; a whole Decimal as a whole number."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):  # NaN or an infinity: Excel's General shows what can be shown
        return None
    return DECIMAL_FORMATS[min(max(-exponent, 0), 2)]


def _too_wide(value, width):
    """Whether text needs more than one line in a column `width` characters wide (2 of them padding)."""
    if "\n" in value:
        return True
    limit = width - 2
    return len(value) * 2 > limit and text_width(value) > limit  # the first test alone is enough for most


def _lines(value, width):
    """The lines text takes wrapped in a column `width` characters wide."""
    room = max(width - 1, 1)
    return sum(max(1, ceil(text_width(line) * CJK_SPREAD / room)) for line in value.split("\n"))


def _row_height(lines):
    return min(MAX_ROW_HEIGHT, lines * LINE_HEIGHT) if lines > 1 else None


class _Writer:
    """Turns plain values into what a write-only sheet takes, with the fewest styled cells possible.

    Text too long for its column is wrapped in the columns marked wrap and in those _layout narrowed below
    their text; a row with a wrapped cell has all its cells wrapped and aligned top, so a tall row reads
    from its top line (write_sheet gives it the height of its lines). A Total row is bold."""

    def __init__(self, sheet, columns, widths, natural=None):
        """widths: the columns' widths; natural: those their text wanted (_measure), when narrowed."""
        self.sheet = sheet
        natural = natural or widths
        self.wrap = {
            i: widths[i] for i, c in enumerate(columns) if c.wrap or widths[i] < natural[i]
        }  # i: width
        self.wrap_alignment = Alignment(wrap_text=True, vertical="top")
        self.bold = Font(bold=True)
        # The style of a plain value in a tall row, made once and copied into each such cell: openpyxl's
        # alignment setter looks the alignment up in the workbook's list every time, a third of the time
        # of a sheet of meetings.
        prototype = WriteOnlyCell(sheet)
        prototype.alignment = self.wrap_alignment
        self.wrapped_style = prototype._style

    def cell(self, value, index=None):
        """The value or cell to write; index: its column, for the wrapping of text (row() wraps a row whole)."""
        kind = type(value)
        if kind is str:
            wrapped = index in self.wrap and _too_wide(value, self.wrap[index])
            if value and value[0] in FORMULA_STARTS:
                cell = WriteOnlyCell(self.sheet, value=value)
                cell.data_type = "s"  # text, never a formula
                cell.quotePrefix = True
            elif wrapped:
                cell = WriteOnlyCell(self.sheet, value=value)
            else:
                return value
            if wrapped:
                cell.alignment = self.wrap_alignment
            return cell
        if kind is datetime:
            if value.tzinfo is not None:
                value = value.astimezone(SHANGHAI).replace(tzinfo=None)
            cell = WriteOnlyCell(self.sheet, value=value)
            cell.number_format = DATETIME_FORMAT
            return cell
        if kind is Decimal:
            cell = WriteOnlyCell(self.sheet, value=value)
            number_format = _decimal_format(value)
            if number_format:
                cell.number_format = number_format
            return cell
        # int, None and date (openpyxl formats a plain date as yyyy-mm-dd by itself)
        return value

    def row(self, values):
        """The cells of a row; self.lines: the lines its tallest wrapped cell takes."""
        cell = self.cell
        total = isinstance(values, Total)
        self.lines = 1
        if not self.wrap and not total:
            return [cell(v) for v in values]
        wrap = self.wrap
        tall = [i for i, v in enumerate(values) if type(v) is str and i in wrap and _too_wide(v, wrap[i])]
        if tall:
            self.lines = max(_lines(values[i], wrap[i]) for i in tall)
        cells = [cell(v) for v in values]
        if tall or total:
            for i, c in enumerate(cells):
                if isinstance(c, Cell):  # a date, an amount, text kept from becoming a formula: few
                    if tall:
                        c.alignment = self.wrap_alignment
                elif c is None and not total:
                    continue  # an empty cell: nothing to align
                elif tall:
                    c = cells[i] = Cell(self.sheet, row=1, column=1, value=c, style_array=self.wrapped_style)
                else:
                    c = cells[i] = WriteOnlyCell(self.sheet, value=c)
                if total:
                    c.font = self.bold
        return cells


def _header_lines(columns, widths):
    return max(_lines(c.title, w) for c, w in zip(columns, widths, strict=True)) if columns else 1


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


def write_sheet(workbook, spec, *, on_rows=None, every=2000, heading=""):
    """Write one Sheet; returns the number of data rows. on_rows(n) is called every `every` rows.
    heading: the title of the book, printed at the top of every page with the sheet's name."""
    sheet = workbook.create_sheet(spec.title[:MAX_SHEET_TITLE])
    rows = spec.rows() if callable(spec.rows) else spec.rows
    rows = iter(rows)
    sample = list(islice(rows, SAMPLE_ROWS))
    natural = _measure(spec.columns, sample + ([[spec.note]] if spec.note and not sample else []))
    layout = _layout(spec.columns, natural)
    _print_setup(sheet, layout, heading=heading, name=spec.title)
    heights = sheet.row_dimensions  # a write-only sheet writes a row's height as the row is appended
    if _header_lines(spec.columns, layout.widths) > 1:
        heights[1].height = _row_height(_header_lines(spec.columns, layout.widths))
    sheet.append(_header(sheet, spec.columns))
    writer = _Writer(sheet, spec.columns, layout.widths, natural)
    count = 0
    for values in chain(sample, rows):
        cells = writer.row(values)
        if writer.lines > 1:
            heights[count + 2].height = _row_height(writer.lines)
        sheet.append(cells)
        heights.pop(count + 2, None)  # written: nothing to keep
        count += 1
        if on_rows is not None and count % every == 0:
            on_rows(count)
    if not count and spec.note:
        sheet.append([writer.cell(spec.note)])
    return count


def write_cover(workbook, title, pairs):
    """The cover: the title, then a label and a value a line, values left-aligned and wrapped when long."""
    sheet = workbook.create_sheet("封面")
    widths = [
        min(30, max(16, *(text_width(label) + 4 for label, _v in pairs))),  # bold: a little wider
        min(MAX_WIDTH, max(30, *(text_width(v) + 4 for _label, v in pairs))),
    ]
    _print_setup(sheet, Layout(widths), title_rows=False)  # the title is its first line: the footer alone
    sheet.page_setup.orientation = Worksheet.ORIENTATION_PORTRAIT
    writer = _Writer(sheet, [Column("项目"), Column("内容", wrap=True)], widths)
    heading = WriteOnlyCell(sheet, value=title)
    heading.data_type = "s"
    heading.font = Font(bold=True, size=16)
    sheet.append([heading])
    sheet.append([])
    bold, top = Font(bold=True), Alignment(vertical="top", wrap_text=True)
    shown = Alignment(horizontal="left", vertical="top", wrap_text=True)
    for row, (label, value) in enumerate(pairs, start=3):
        cell = WriteOnlyCell(sheet, value=label)
        cell.data_type = "s"
        cell.font, cell.alignment = bold, top
        content = writer.cell(value, 1)
        if not isinstance(content, Cell):
            content = WriteOnlyCell(sheet, value=content)
        content.alignment = shown
        lines = max(_lines(label, widths[0]), _lines(value, widths[1]) if isinstance(value, str) else 1)
        sheet.row_dimensions[row].height = _row_height(lines)
        sheet.append([cell, content])


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
            counts[spec.title] = write_sheet(workbook, spec, on_rows=on_rows, heading=book.cover_title)
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
