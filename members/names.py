"""Pinyin initials of a person's name, for the roster's pinyin order and its search by initials (pure).

pypinyin reads a name as any other text, so a polyphonic surname gets its everyday reading: 曾 as céng
(曾经) rather than the surname Zēng, 单 as dān rather than Shàn. pypinyin (0.55) has no surname mode
(mozillazg/python-pinyin#297 is open), so the first character, or a compound surname, is read from the
tables below, the readings of the 《百家姓》 and common dictionaries. Only the rest of the name is left to
pypinyin.
"""

from pypinyin import Style, lazy_pinyin

# Single-character surnames whose surname reading differs from pypinyin's everyday one.
SURNAME_READINGS = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "区": "ou",
    "查": "zha",
    "盖": "ge",
    "乐": "yue",
    "覃": "qin",
    "缪": "miao",
    "种": "chong",
    "秘": "bi",
    "繁": "po",
    "重": "chong",
    "翟": "zhai",
    "折": "she",
    "句": "gou",
    "召": "shao",
    "乜": "nie",
    "阚": "kan",
    "藏": "zang",
    "粘": "nian",
    "佴": "nai",
    "祭": "zhai",
    "蕃": "pi",
    "隗": "wei",
}

# Compound surnames with a polyphonic character. 尉 alone is the surname Wèi (pypinyin reads it so);
# only in 尉迟 is it Yù. 单于 is not listed: a name 单于X is far more often 单 (Shàn) with the given
# name 于X than the rare compound surname Chányú.
COMPOUND_SURNAME_READINGS = {
    "万俟": ("mo", "qi"),
    "尉迟": ("yu", "chi"),
    "长孙": ("zhang", "sun"),
    "澹台": ("tan", "tai"),
}


def surname_readings(name):
    """The readings of the polyphonic surname the name starts with, one per character; () if none."""
    for surname, readings in COMPOUND_SURNAME_READINGS.items():
        if name.startswith(surname):
            return readings
    reading = SURNAME_READINGS.get(name[:1])
    return (reading,) if reading else ()


def name_initials(name):
    """The first letters of the name's syllables, lower case, the surname read as a surname: 曾伟敏 → zwm."""
    # pypinyin gives one item per Chinese character, so the surname's items are the first ones.
    letters = lazy_pinyin(name, style=Style.FIRST_LETTER)
    readings = surname_readings(name)
    letters[: len(readings)] = [reading[0] for reading in readings]
    return "".join(letters).lower()
