"""登记党员, 编辑 and the dated member actions, posted by a secretary with hostile input."""

import pytest
from django.urls import reverse

from members.models import Member
from tests.security.conftest import (
    SAFE_TEXT,
    UNSAFE_TEXT,
    assert_refused,
    assert_shown_escaped,
    idn,
    row_counts,
)

# Names a real roster may hold, or an attacker may type, that fit the 50-character field.
SAFE_NAMES = {key: text for key, text in SAFE_TEXT.items() if len(text) <= 50}


def member_data(target, **overrides):
    data = {
        "name": "王芳", "id_number": idn(500), "branch": target.pk, "group": "", "category": "full",
        "ethnicity": "汉族", "joined_on": "2005-07-01", "confirmed_on": "2006-07-01", "dues_kind": "employed",
    }  # fmt: skip
    data.update(overrides)
    return data


def create(client, target, **overrides):
    return client.post(reverse("members:create"), member_data(target, **overrides))


@pytest.mark.parametrize("name", SAFE_NAMES.values(), ids=SAFE_NAMES.keys())
def test_hostile_names_are_stored_as_typed_and_shown_escaped(secretary, branch, name):
    response = create(secretary, branch, name=name)
    assert response.status_code == 302, response.context["form"].errors
    member = Member.objects.get(id_number=idn(500))
    assert member.name == name.strip()
    assert_shown_escaped(secretary.get(response["Location"]).content.decode(), member.name)
    assert_shown_escaped(secretary.get(reverse("members:list")).content.decode(), member.name)


@pytest.mark.parametrize("field", ["work_unit", "note", "education"])
def test_markup_in_other_member_fields_is_escaped(secretary, branch, field):
    text = "<i onclick=alert(1)>x</i>"
    response = create(secretary, branch, **{field: text})
    assert response.status_code == 302, response.context["form"].errors
    assert getattr(Member.objects.get(id_number=idn(500)), field) == text
    assert_shown_escaped(secretary.get(response["Location"]).content.decode(), text)


def test_a_name_whose_initials_grow_when_lowercased_is_stored(secretary, branch):
    # "İ".lower() is two characters: 50 of them must not overflow the 50-character initials column.
    response = create(secretary, branch, name="İ" * 50)
    assert response.status_code == 302
    member = Member.objects.get(id_number=idn(500))
    assert member.name == "İ" * 50 and len(member.name_initials) <= 50


@pytest.mark.parametrize("field", ["name", "work_unit", "note", "ethnicity", "transfer_counterpart"])
@pytest.mark.parametrize("text", UNSAFE_TEXT.values(), ids=UNSAFE_TEXT.keys())
def test_control_characters_in_a_member_are_refused(secretary, branch, field, text):
    before = row_counts()
    response = create(secretary, branch, **{field: text})
    assert_refused(response, before, field=field)


@pytest.mark.parametrize(
    ("field", "limit"),
    [("name", 50), ("ethnicity", 20), ("education", 30), ("work_unit", 100), ("note", 200),
     ("transfer_counterpart", 100), ("transfer_letter_no", 50), ("phone", 20)],
)  # fmt: skip
def test_member_text_over_its_length_is_refused(secretary, branch, field, limit):
    before = row_counts()
    response = create(secretary, branch, **{field: "长" * (limit + 1)})
    assert_refused(response, before, field=field)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id_number": "' OR 1=1 --"}, "id_number"),
        ({"id_number": idn(500)[:17] + "Z"}, "id_number"),
        ({"id_number": "１" * 18}, "id_number"),
        ({"branch": "abc"}, "branch"),
        ({"branch": "999999999999999999999999"}, "branch"),
        ({"group": "1; DROP TABLE members_member"}, "group"),
        ({"category": "superuser"}, "category"),
        ({"gender": "other"}, "gender"),
        ({"dues_kind": "<script>"}, "dues_kind"),
        ({"dues_base": "一千"}, "dues_base"),
        ({"dues_base": "1e309"}, "dues_base"),
        ({"dues_base": "NaN"}, "dues_base"),
        ({"dues_base": "-5"}, "dues_base"),
        ({"dues_base": "123456789012345678"}, "dues_base"),
        ({"phone": "1390000abcd"}, "phone"),
        ({"joined_on": "0001-01-01"}, "joined_on"),
        ({"joined_on": "9999-12-31", "confirmed_on": ""}, "joined_on"),
        ({"joined_on": "2005-02-30"}, "joined_on"),
        ({"joined_on": "1979-01-01", "confirmed_on": "1980-01-01"}, "joined_on"),  # before birth (1980)
        ({"confirmed_on": "2005-06-30"}, "confirmed_on"),  # before joining
        ({"birth_on": "1900-01-01"}, "birth_on"),
        ({"started_on": "9999-12-31"}, None),
    ],
    ids=lambda v: str(v)[:40] if not isinstance(v, str) else v,
)
def test_wrong_member_values_are_refused(secretary, branch, overrides, field):
    before = row_counts()
    response = create(secretary, branch, **overrides)
    assert_refused(response, before, field=field)


def test_a_branch_of_another_township_cannot_be_posted(secretary, branch, tree):
    before = row_counts()
    response = create(secretary, branch, branch=tree.b1.pk)
    assert_refused(response, before, field="branch")


# ---------------------------------------------------------------- editing


@pytest.fixture
def person(branch):
    return branch.people[0]


def edit_data(member, **overrides):
    data = {
        "name": member.name, "id_number": member.id_number, "ethnicity": "汉族", "dues_kind": "employed",
        "phone": "", "education": "", "work_unit": "", "note": "",
    }  # fmt: skip
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": UNSAFE_TEXT["nul"]}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "名" * 51}, "name"),
        ({"note": UNSAFE_TEXT["escape"]}, "note"),
        ({"id_number": "123"}, "id_number"),
        ({"id_number": idn(1)}, "id_number"),  # another member's number
        ({"lost_contact_on": "9999-12-31"}, "lost_contact_on"),
        ({"lost_contact_on": "2026-02-29"}, "lost_contact_on"),
        ({"dues_base": "abc"}, "dues_base"),
    ],
    ids=lambda v: str(v)[:40] if not isinstance(v, str) else v,
)
def test_a_bad_edit_changes_nothing(secretary, person, overrides, field):
    before = row_counts()
    history = person.history.count()
    response = secretary.post(reverse("members:edit", args=[person.pk]), edit_data(person, **overrides))
    assert_refused(response, before, field=field)
    person.refresh_from_db()
    assert person.name == "党员0" and person.history.count() == history


# ---------------------------------------------------------------- dated actions


ACTION_CASES = [
    ("transfer_out", {"on": "2026-01-01", "counterpart": UNSAFE_TEXT["nul"]}, "counterpart"),
    ("transfer_out", {"on": "0001-01-01", "counterpart": "外地党委"}, None),
    ("transfer_out", {"on": "9999-12-31", "counterpart": "外地党委"}, None),
    ("transfer_out", {"on": "2026-01-01", "counterpart": "委" * 101}, "counterpart"),
    ("status", {"status": "deceased", "on": "2026-01-01", "reason": "\x07"}, "reason"),
    ("status", {"status": "superuser", "on": "2026-01-01", "reason": "x"}, "status"),
    ("status", {"status": "suspended", "on": "9999-12-31", "reason": "x"}, None),
    ("mobility", {"destination": "深圳\x00", "started_on": "2026-01-01"}, "destination"),
    ("mobility", {"destination": "深圳", "started_on": "0001-01-01"}, None),
    ("mobility", {"destination": "深圳", "started_on": "2026-03-01", "ended_on": "2026-02-01"}, None),
    (
        "exemption",
        {"kind": "sick", "started_on": "2026-01-01", "approved_on": "2026-01-01", "approved_by": "\x1b"},
        "approved_by",
    ),
    (
        "exemption",
        {"kind": "sick", "started_on": "2026-05-01", "ended_on": "2026-04-01", "approved_on": "2026-01-01"},
        None,
    ),
    ("exemption", {"kind": "sick", "started_on": "9999-12-01", "approved_on": "2026-01-01"}, None),
    ("dues", {"month": "9999-12", "paid_on": "2026-01-05"}, None),
    ("dues", {"month": "0001-01", "paid_on": "2026-01-05"}, None),
    ("dues", {"month": "2026-13", "paid_on": "2026-01-05"}, "month"),
    ("dues", {"month": "2026-01", "paid_on": "2026-01-05", "amount": "1e400"}, "amount"),
    ("dues", {"month": "2026-01", "paid_on": "2026-01-05", "amount": "-1"}, "amount"),
    ("dues", {"month": "2026-01", "paid_on": "2026-01-05", "amount": "99999999999"}, "amount"),
    ("dues", {"month": "2026-01", "paid_on": "9999-12-31"}, None),
    ("report", {"received_on": "2026-01-01", "title": "\x00"}, "title"),
    ("report", {"received_on": "9999-12-31", "title": "季度汇报"}, None),
    ("report", {"received_on": "2026-01-01", "title": "题" * 201}, "title"),
    ("pipeline", {"kind": "training", "happened_on": "2026-01-01", "hours": "99999"}, "hours"),
    ("pipeline", {"kind": "<b>", "happened_on": "2026-01-01"}, "kind"),
    ("category", {"category": "full", "on": "2026-01-01"}, "category"),  # already full: no next step
]


@pytest.mark.parametrize(("action", "data", "field"), ACTION_CASES,
                         ids=[f"{a}-{i}" for i, (a, _d, _f) in enumerate(ACTION_CASES)])  # fmt: skip
def test_a_bad_member_action_records_nothing(secretary, person, action, data, field):
    before = row_counts()
    response = secretary.post(reverse("members:action", args=[person.pk, action]), data)
    assert_refused(response, before, field=field)
    person.refresh_from_db()
    assert person.on_roster and person.status == "normal"


@pytest.mark.parametrize("action", ["bogus", "delete", "..%2F..%2Fadmin"])
def test_an_action_that_does_not_exist_is_404(secretary, person, action):
    before = row_counts()
    response = secretary.post(f"/members/{person.pk}/do/{action}/", {"reason": "x"})
    assert response.status_code == 404
    assert row_counts() == before


def test_markup_in_a_thought_report_title_is_escaped(secretary, person):
    title = "<script>alert('思想汇报')</script>"
    response = secretary.post(
        reverse("members:action", args=[person.pk, "report"]), {"received_on": "2026-01-01", "title": title}
    )
    assert response.status_code == 302
    assert_shown_escaped(secretary.get(response["Location"]).content.decode(), title)


@pytest.mark.parametrize("text", ["\u200b\u200b", "\u200e\ufeff"], ids=["zwsp", "marks"])
def test_a_member_name_of_invisible_characters_only_is_refused_as_empty(secretary, branch, text):
    before = row_counts()
    assert_refused(create(secretary, branch, name=text), before, field="name")
