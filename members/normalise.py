"""Reading messy roster cells (real rosters typed in Excel by hand)."""

import re
import unicodedata
from datetime import date, datetime, timedelta

INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060\ufeff]")
SPACES = re.compile(r"\s+")
EXCEL_EPOCH = date(1899, 12, 30)
MAX_EXCEL_SERIAL = 2958465
DATE_PATTERNS = (
    re.compile(r"^(\d{4})[.\-/](\d{1,2})[.\-/](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
MONTH_PATTERNS = (re.compile(r"^(\d{4})[.\-/](\d{1,2})$"), re.compile(r"^(\d{4})年(\d{1,2})月?$"))
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def clean_text(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value))
    text = INVISIBLE.sub("", text)
    return SPACES.sub(" ", text).strip()


def _from_serial(serial):
    if not 1 <= serial <= MAX_EXCEL_SERIAL:
        raise ValueError(f"无法识别的日期“{serial}”，请使用 2019-07-01 格式。")
    if serial < 61:
        # Excel counts a 1900-02-29 that never was; before it the offset is one day less.
        return EXCEL_EPOCH + timedelta(days=int(serial) + 1) if serial != 60 else date(1900, 2, 28)
    return EXCEL_EPOCH + timedelta(days=int(serial))


def _from_text(text):
    for pattern in DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            return _make_date(*match.groups(), text)
    for pattern in MONTH_PATTERNS:
        match = pattern.match(text)
        if match:
            return _make_date(*match.groups(), "1", text)
    if text.isdigit() and len(text) == 5:
        return _from_serial(int(text))
    raise ValueError(f"无法识别的日期“{text}”，请使用 2019-07-01 格式。")


def _make_date(year, month, day, text):
    try:
        return date(int(year), int(month), int(day))
    except ValueError as error:
        raise ValueError(f"日期不存在：{int(year)}年{int(month)}月{int(day)}日。") from error


def parse_roster_date(value, *, today=None):
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        result = value.date()
    elif isinstance(value, date):
        result = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = _from_serial(value)
    else:
        text = clean_text(value).replace(" ", "")
        if not text:
            return None
        result = _from_text(text)
    if today is not None and result > today:
        raise ValueError(f"日期晚于今天：{result:%Y-%m-%d}。")
    return result


def normalise_phone(value):
    text = clean_text(value).replace(" ", "")
    if not text:
        return ""
    mobile = re.sub(r"^\+?86", "", text)
    if MOBILE.match(mobile):
        return mobile
    if LANDLINE.match(text):
        return text
    raise ValueError(f"手机号码格式不正确：{text}")
