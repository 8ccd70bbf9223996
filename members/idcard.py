"""Chinese resident ID numbers (身份证号, GB 11643-1999): normalise, check, derive birth date and gender."""

import re
from dataclasses import dataclass
from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"
# Characters that sneak in from copied text: zero-width, BOM, bidi marks.
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060\ufeff\\s\u3000]")


class InvalidIdNumber(ValueError):
    pass


@dataclass(frozen=True)
class IdInfo:
    number: str
    birth_on: date
    gender: str
    region_code: str


def normalise_id_number(raw):
    if raw is None:
        return ""
    text = str(raw)
    text = INVISIBLE.sub("", text)
    # Full-width digits and letters (U+FF10…) map to ASCII by a fixed offset.
    text = "".join(chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else c for c in text)
    return text.upper()


def check_character(body17):
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(body17, WEIGHTS, strict=True))
    return CHECK_CHARACTERS[total % 11]


def parse_id_number(raw, *, today):
    number = normalise_id_number(raw)
    if len(number) != 18:
        raise InvalidIdNumber(f"身份证号应为18位，当前为{len(number)}位。")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise InvalidIdNumber("身份证号只能由数字组成（最后一位可以是X）。")
    try:
        birth_on = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as error:
        raise InvalidIdNumber(f"身份证号中的出生日期{number[6:14]}不存在。") from error
    if birth_on > today or birth_on.year < 1900:
        raise InvalidIdNumber(f"身份证号中的出生日期{birth_on:%Y-%m-%d}不合理。")
    expected = check_character(number[:17])
    if number[17] != expected:
        raise InvalidIdNumber(f"身份证号校验位错误（应为{expected}），请核对是否有输错的数字。")
    gender = "male" if int(number[16]) % 2 else "female"
    return IdInfo(number=number, birth_on=birth_on, gender=gender, region_code=number[:6])


def age_on(birth_on, on):
    return on.year - birth_on.year - ((on.month, on.day) < (birth_on.month, birth_on.day))
