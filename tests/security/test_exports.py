"""Text entered through the real forms comes out of the 台账 and roster workbooks as text, never a formula."""

import io

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from members.models import Member
from tests.security.conftest import SAFE_TEXT, idn, meeting_data

FORMULAS = {k: v for k, v in SAFE_TEXT.items() if k.startswith("formula_")}
# Text that must survive the trip into Excel unchanged (the formula-like ones included).
ROUND_TRIP = {k: SAFE_TEXT[k] for k in ("script", "sql_drop", "fullwidth", "zero_width", "rtl", "emoji_zwj",
                                        "astral", "combining", *FORMULAS)}  # fmt: skip


def _cells(content):
    workbook = load_workbook(io.BytesIO(content))
    return [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]


def _download_ledger(client, branch):
    started = client.post(
        reverse("ledgers:branch_export", args=[branch.pk]), {"year": timezone.localdate().year}
    )
    assert started.status_code == 302
    status = client.get(started["Location"].rstrip("/") + "/status/").json()
    assert status["status"] == "done", status
    response = client.get(status["download_url"])
    return b"".join(response.streaming_content)


def _cells_holding(cells, text):
    return [c for c in cells if isinstance(c.value, str) and text in c.value]


@pytest.mark.parametrize("text", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_a_meeting_topic_reaches_the_ledger_as_text(secretary, branch, text):
    response = secretary.post(reverse("meetings:create") + f"?branch={branch.pk}",
                              meeting_data(branch, topic=text, content=text))  # fmt: skip
    assert response.status_code == 302
    cells = _cells(_download_ledger(secretary, branch))
    holding = _cells_holding(cells, text)
    assert holding, "the topic is missing from the ledger"
    assert all(c.data_type == "s" for c in holding)
    assert not [c for c in cells if c.data_type == "f"]


@pytest.mark.parametrize("text", FORMULAS.values(), ids=FORMULAS.keys())
def test_formula_text_in_every_kind_of_record_stays_text_in_the_ledger(secretary, branch, text):
    person = branch.people[1]
    data = meeting_data(branch, types=["theme_day", "org_life_meeting"], place=text, host=text,
                        **{f"att_{person.pk}": "leave", f"reason_{person.pk}": text,
                           "rect-0-problem": text, "rect-0-measure": text, "rect-0-owner": text,
                           "rect-0-due_on": "2027-06-30"})  # fmt: skip
    assert secretary.post(reverse("meetings:create") + f"?branch={branch.pk}", data).status_code == 302
    talk = {"talked_on": timezone.localdate().isoformat(), "t0-initiator": branch.people[0].pk,
            "t0-counterpart": branch.people[2].pk, "t0-topic": text}  # fmt: skip
    assert secretary.post(reverse("meetings:talks", args=[branch.pk]), talk).status_code == 302
    member = secretary.post(reverse("members:create"), {
        "name": text[:50], "id_number": idn(600), "branch": branch.pk, "category": "full", "ethnicity": "汉族",
        "joined_on": "2005-07-01", "confirmed_on": "2006-07-01", "dues_kind": "employed", "note": text,
    })  # fmt: skip
    assert member.status_code == 302
    cells = _cells(_download_ledger(secretary, branch))
    holding = _cells_holding(cells, text[:50])
    assert len(holding) >= 4, [c.value for c in holding]
    assert all(c.data_type == "s" and c.quotePrefix for c in holding if c.value.startswith(text[0]))
    assert not [c for c in cells if c.data_type == "f"]


@pytest.mark.parametrize("text", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_the_roster_export_keeps_names_and_notes_as_text(secretary, branch, text):
    response = secretary.post(reverse("members:create"), {
        "name": text[:50], "id_number": idn(601), "branch": branch.pk, "category": "full", "ethnicity": "汉族",
        "joined_on": "2005-07-01", "confirmed_on": "2006-07-01", "dues_kind": "employed", "note": text,
    })  # fmt: skip
    assert response.status_code == 302
    member = Member.objects.get(id_number=idn(601))
    export = secretary.get(reverse("members:export"))
    assert export.status_code == 200
    cells = _cells(export.content)
    exported = [c.value for c in cells if c.value in (member.name, member.note)]
    assert sorted(exported) == sorted([member.name, member.note])
    assert all(c.data_type == "s" for c in _cells_holding(cells, text[:50]))
    assert not [c for c in cells if c.data_type == "f"]
