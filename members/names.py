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


def distinct_labels(people):
    """{pk: label} for people listed together, so that namesakes can be told apart (pure).

    A name that occurs once among `people` is its own label. People who share a name get, in brackets, the
    first of these that differs for every one of them: their 党小组 (谢伟（第一党小组）), their birth year
    (谢伟（1975年生）), the year they joined the party (谢伟（2001年入党）), and failing all three their record
    number (谢伟（编号52）). Nothing from the 身份证号: it is masked for most roles.

    people: objects with pk, name, birth_on (a date), joined_on (a date or None) and group (None or an
    object with a name), such as Member rows read with select_related("group"); a person listed twice
    counts once. Only namesakes are read beyond pk and name, so a list without them needs no group loaded.
    A label depends on who else is listed: label everyone a page (or a sheet) shows in one call, and use
    these labels wherever that page names them (drop-downs, rows, lists).
    """
    unique = {}
    for person in people:
        unique.setdefault(person.pk, person)
    namesakes = {}
    for person in unique.values():
        namesakes.setdefault(person.name, []).append(person)
    labels = {}
    for name, same in namesakes.items():
        if len(same) == 1:
            labels[same[0].pk] = name
            continue
        for person, mark in zip(same, _marks(same), strict=True):
            labels[person.pk] = f"{name}（{mark}）"
    return labels


def _group_mark(person):
    return person.group.name if person.group is not None else None


def _birth_mark(person):
    return f"{person.birth_on.year}年生" if person.birth_on else None


def _joined_mark(person):
    return f"{person.joined_on.year}年入党" if person.joined_on else None


def _marks(namesakes):
    """What tells the namesakes apart: the first kind of mark that every one of them has, each different."""
    for mark in (_group_mark, _birth_mark, _joined_mark):
        marks = [mark(person) for person in namesakes]
        if None not in marks and len(set(marks)) == len(marks):
            return marks
    return [f"编号{person.pk}" for person in namesakes]
