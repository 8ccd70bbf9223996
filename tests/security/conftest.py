"""Hostile input: a branch with a roster and a committee, logged-in clients, and the checks every case makes.

Every case ends in one of two outcomes a user can tell apart: the page comes back with a Chinese
message (status 200 or 400) and no table has gained or lost a row, or the input is stored as typed
and shown escaped. Never a 500.
"""

import re
import uuid

import pytest
from django import forms
from django.apps import apps
from django.utils import timezone

from branches.models import Role
from members.idcard import check_character

CJK = re.compile("[\u4e00-\u9fff]")

# The tables a form, an upload or an import of this suite could write to.
WATCHED_MODELS = [
    "branches.Organisation", "branches.CommitteeTerm", "branches.CommitteePosition",
    "members.Member", "members.Membership", "members.CategoryChange", "members.StatusChange",
    "members.Transfer", "members.Mobility", "members.Exemption", "members.PipelineEvent",
    "members.DuesPayment", "members.ThoughtReport", "members.RosterImport",
    "meetings.Meeting", "meetings.MeetingTypeTag", "meetings.Attendance", "meetings.RectificationItem",
    "meetings.Attachment", "meetings.Talk", "meetings.YearLock",
    "evaluations.Campaign", "evaluations.Participant", "evaluations.FollowUp",
    "compliance.RuleSetting", "ledgers.LedgerExport",
]  # fmt: skip

# Strings that must be stored as typed (after the usual trimming of spaces) and shown escaped.
SAFE_TEXT = {
    "script": "<script>alert('x')</script>",
    "img_onerror": '"><img src=x onerror=alert(1)>',
    "svg_onload": "<svg/onload=alert(1)>",
    "js_url": "javascript:alert(document.cookie)",
    "sql_or": "' OR 1=1 --",
    "sql_drop": "'; DROP TABLE meetings_meeting; --",
    "sql_union": '" UNION SELECT password FROM auth_user --',
    "template": "{{ request.user }}{% debug %}",
    "format": "%s%n%x{0}",
    "fullwidth": "１２３ＡＢＣ（全角）",
    "zero_width": "党\u200b员\u200c王\u200d芳\u2060",
    "rtl": "\u202e阿依古丽\u202c\u200f",
    "emoji_zwj": "👨‍👩‍👧‍👦🏳️‍🌈",
    "astral": "𠀀𪚥𝕏😀",
    "combining": "e\u0301\u0302\u0303z\u0336\u0336",
    "formula_eq": '=HYPERLINK("http://x","点我")',
    "formula_plus": "+cmd|' /C calc'!A0",
    "formula_minus": "-1+1",
    "formula_at": "@SUM(A1:A2)",
    "backslash": "C:\\Windows\\..\\x\\0",
}
# Strings a database or an Excel export cannot hold: refused with a Chinese message.
UNSAFE_TEXT = {
    "nul": "会议\x00记录",
    "nul_only": "\x00",
    "bell": "铃\x07声",
    "escape": "\x1b[31m红色",
    "vertical_tab": "换\x0b页\x0c",
    "noncharacter": "非字符\ufffe\uffff",
}


def idn(serial, birth="19800722"):
    body = f"320102{birth}{serial:03d}"
    return body + check_character(body)


def row_counts():
    return {label: apps.get_model(label).objects.count() for label in WATCHED_MODELS}


def _context_values(context):
    if context is None:
        return []
    contexts = context if isinstance(context, list) else [context]
    return [value for c in contexts for value in c.flatten().values()]


def _forms_in(context):
    found = []
    for value in _context_values(context):
        if isinstance(value, forms.BaseFormSet):
            found.extend(f for f in value.forms if f not in found)
            found.append(value)
        elif isinstance(value, forms.BaseForm) and value not in found:
            found.append(value)
        elif isinstance(value, list | tuple) and value and all(isinstance(v, forms.BaseForm) for v in value):
            found.extend(v for v in value if v not in found)
    return found


def error_messages(response):
    """Every error the re-rendered page shows: form and formset errors, and flashed error messages."""
    found = []
    for item in _forms_in(response.context):
        if isinstance(item, forms.BaseFormSet):
            found.extend(item.non_form_errors())
            continue
        for errors in item.errors.values():
            found.extend(errors)
    for message in response.context.get("messages", []) if response.context else []:
        if message.level_tag == "error":
            found.append(str(message))
    return found


def assert_refused(response, before, *, field=None):
    """The form is shown again with a Chinese message (on `field` when given); nothing was written."""
    assert response.status_code in (200, 400), response.status_code
    messages = error_messages(response)
    assert messages, "the page was shown again without saying why"
    assert all(CJK.search(m) for m in messages), messages
    html = response.content.decode()
    assert any(_escaped(m) in html for m in messages), messages
    if field is not None:
        assert any(field in item.errors for item in _forms_in(response.context)), messages
    assert row_counts() == before


def _escaped(text):
    from django.utils.html import escape

    return escape(text)


def assert_shown_escaped(html, text):
    """The text appears HTML-escaped, and never as raw markup."""
    from django.utils.html import escape

    assert escape(text) in html
    if "<" in text:
        assert text not in html


@pytest.fixture
def secretary(client, personas, branch):
    client.force_login(personas[Role.SECRETARY])
    return client


@pytest.fixture
def office(client, personas, branch):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    return client


def meeting_data(branch, **overrides):
    """A valid 主题党日 form for today with everyone present; overrides replace fields."""
    data = {
        "types": ["theme_day"], "held_on": timezone.localdate().isoformat(), "topic": "学习党章",
        "token": uuid.uuid4().hex, "rect-TOTAL_FORMS": "3", "rect-INITIAL_FORMS": "0",
        **{f"att_{p.pk}": "present" for p in branch.people},
    }  # fmt: skip
    data.update(overrides)
    return data
