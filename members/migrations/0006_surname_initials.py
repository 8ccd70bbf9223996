"""Stored name_initials read a polyphonic surname with its everyday reading (曾伟敏 as cwm): give the
surname its surname letter (zwm), as members.names now does for every name entered.

Set-based: one UPDATE per surname. pypinyin gives one letter per Chinese character, so only the surname's
letters at the front change and the rest of what is stored is kept. The tables are copied here (the
first letters of members.names' readings as of this migration) so that later changes there do not change
what this migration did.
"""

from django.db import migrations
from django.db.models import Value
from django.db.models.functions import Concat, Substr

SURNAME_LETTERS = {
    "曾": "z", "单": "s", "解": "x", "仇": "q", "朴": "p", "区": "o", "查": "z", "盖": "g", "乐": "y",
    "覃": "q", "缪": "m", "种": "c", "秘": "b", "繁": "p", "重": "c", "翟": "z", "折": "s", "句": "g",
    "召": "s", "乜": "n", "阚": "k", "藏": "z", "粘": "n", "佴": "n", "祭": "z", "蕃": "p", "隗": "w",
}  # fmt: skip
COMPOUND_SURNAME_LETTERS = {"万俟": "mq", "尉迟": "yc", "长孙": "zs", "澹台": "tt"}


def give_surnames_their_letters(apps, schema_editor):
    Member = apps.get_model("members", "Member")
    stored = Member.objects.exclude(name_initials="")
    # Compound surnames last: none starts with a character of the single table, and they set two letters.
    for table in (SURNAME_LETTERS, COMPOUND_SURNAME_LETTERS):
        for surname, letters in table.items():
            stored.filter(name__startswith=surname).exclude(name_initials__startswith=letters).update(
                name_initials=Concat(Value(letters), Substr("name_initials", len(letters) + 1))
            )


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0005_drop_dues_month_index"),
    ]

    operations = [
        migrations.RunPython(give_surnames_their_letters, migrations.RunPython.noop, elidable=True),
    ]
