"""Characters a browser or a spreadsheet can send but the database or an Excel export cannot hold.

Pure: used by the forms (to refuse them with a message), the services that read raw POST values,
and the roster import (which cleans them away, as it does other stray characters).
"""

import re

# C0 control characters other than tab, newline and carriage return: PostgreSQL refuses NUL in text,
# and openpyxl refuses all of them, so one such character would break every later 台账 export.
# U+FFFE and U+FFFF are not characters at all: a workbook holding one no longer opens in Excel.
# Format characters stay allowed: emoji sequences need the zero-width joiner, and names in
# right-to-left scripts (Uyghur) need the direction marks.
UNSAFE_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
UNSAFE_MESSAGE = "含有无法保存的控制字符（常见于从其他软件复制来的文字），请删除后重新输入。"


def has_unsafe_characters(text: str) -> bool:
    return bool(UNSAFE_CHARACTERS.search(text))


def strip_unsafe_characters(text: str) -> str:
    return UNSAFE_CHARACTERS.sub("", text)


# Characters that take no space on screen: zero-width space, joiners and non-joiners, direction marks and
# embeddings, the word joiner, the byte-order mark. Inside a name they are harmless (see above); a required
# field holding only these (and spaces) looks empty to whoever reads it, so it counts as empty.
INVISIBLE_ONLY = re.compile("[\\s\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]*")


def looks_empty(text: str) -> bool:
    return INVISIBLE_ONLY.fullmatch(text) is not None
