"""Arbitrary text (hypothesis) into the meeting topic, a member's name, the roster search and import cells.

For each example the outcome is predicted from the text alone: stored exactly as the form trims it,
or refused with a Chinese message on that field when it is blank, too long or holds characters that
cannot be stored. Each example runs in a savepoint that is rolled back, so examples do not see each
other's rows.
"""

import contextlib
import io

from django.db import transaction
from django.urls import reverse
from django.utils.html import escape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from branches.text import has_unsafe_characters
from meetings.models import Meeting
from members.models import Member, RosterImport
from tests.security.conftest import CJK, SAFE_TEXT, UNSAFE_TEXT, error_messages, idn, meeting_data, row_counts

# Text a browser can send: any code point but lone surrogates (which UTF-8 cannot carry). Hostile
# samples are mixed in so every run meets markup, formulas and control characters, not only by luck.
CHARACTERS = st.characters(blacklist_categories=("Cs",))
TEXT = st.one_of(
    st.text(CHARACTERS, max_size=260),
    st.sampled_from([*SAFE_TEXT.values(), *UNSAFE_TEXT.values()]),
    st.builds(lambda a, b: a + b, st.sampled_from([*SAFE_TEXT.values(), *UNSAFE_TEXT.values()]),
              st.text(CHARACTERS, max_size=40)),
)  # fmt: skip
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextlib.contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def expected_problem(text, limit):
    trimmed = text.strip()
    return not trimmed or len(trimmed) > limit or has_unsafe_characters(trimmed)


def check_outcome(response, *, text, limit, field, stored, before, page):
    trimmed = text.strip()
    if expected_problem(text, limit):
        assert response.status_code == 200
        messages = error_messages(response)
        assert field in response.context["form"].errors, messages
        assert all(CJK.search(m) for m in messages)
        assert row_counts() == before
    else:
        assert response.status_code == 302, error_messages(response)
        assert stored() == trimmed
        assert escape(trimmed) in page(response).content.decode()


@PROPERTY
@given(topic=TEXT)
def test_any_meeting_topic_is_stored_as_trimmed_or_refused_in_chinese(secretary, branch, topic):
    with rolled_back():
        before = row_counts()
        url = reverse("meetings:create") + f"?branch={branch.pk}"
        response = secretary.post(url, meeting_data(branch, topic=topic))
        check_outcome(response, text=topic, limit=200, field="topic", before=before,
                      stored=lambda: Meeting.objects.get().topic,
                      page=lambda r: secretary.get(r["Location"]))  # fmt: skip


@PROPERTY
@given(name=TEXT)
def test_any_member_name_is_stored_as_trimmed_or_refused_in_chinese(secretary, branch, name):
    with rolled_back():
        before = row_counts()
        data = {"name": name, "id_number": idn(800), "branch": branch.pk, "category": "full", "ethnicity": "汉族",
                "joined_on": "2005-07-01", "confirmed_on": "2006-07-01", "dues_kind": "employed"}  # fmt: skip
        response = secretary.post(reverse("members:create"), data)
        check_outcome(response, text=name, limit=50, field="name", before=before,
                      stored=lambda: Member.objects.get(id_number=idn(800)).name,
                      page=lambda r: secretary.get(r["Location"]))  # fmt: skip


@PROPERTY
@given(query=TEXT)
def test_any_roster_search_answers_a_page(secretary, branch, query):
    response = secretary.get(reverse("members:list"), {"q": query})
    assert response.status_code == 200
    if not has_unsafe_characters(query) and "\x00" not in query:
        assert escape(query.strip()) in response.content.decode() or not query.strip()


def _roster(name, note):
    wb = Workbook()
    sheet = wb.active
    sheet.append(["姓名", "身份证号码", "人员类别", "所在党支部", "入党时间", "转正时间", "备注"])
    sheet.append([name, idn(801), "正式党员", "甲社区第一党支部", "2005-07-01", "2006-07-01", note])
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    buffer.name = "名册.xlsx"
    return buffer


# openpyxl itself will not write the characters XML cannot hold, so a real workbook never has them.
CELL_TEXT = TEXT.map(lambda t: ILLEGAL_CHARACTERS_RE.sub("", t).replace("\ufffe", "").replace("\uffff", ""))


@settings(PROPERTY, max_examples=25)
@given(name=CELL_TEXT, note=CELL_TEXT)
def test_any_cell_text_is_imported_or_reported_by_row_in_chinese(secretary, branch, name, note):
    with rolled_back():
        before = row_counts()["members.Member"]
        upload = secretary.post(reverse("members:import"), {"file": _roster(name, note)})
        if upload.status_code == 200:  # no data rows: a blank name and number make a footer line
            assert "表中没有数据行" in upload.content.decode()
            return
        assert upload.status_code == 302
        assert secretary.get(upload["Location"]).status_code == 200
        secretary.post(upload["Location"], {"mode": "skip"})
        record = RosterImport.objects.get()
        counts = record.outcome["counts"]
        if counts["created"]:
            member = Member.objects.get(id_number=idn(801))
            assert member.name and len(member.name) <= 50 and not has_unsafe_characters(member.name)
            detail = secretary.get(reverse("members:detail", args=[member.pk])).content.decode()
            assert escape(member.name) in detail
        else:
            assert counts["failed"] == 1 and row_counts()["members.Member"] == before
            problems = [message for _row, _column, message in record.outcome["problems"]]
            assert problems and all(CJK.search(m) for m in problems)
