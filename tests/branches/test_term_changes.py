"""Office-holders changing during a term (补选、调整): a new record for the new holder, the old one keeping its
name and dates; a typo is still corrected in place when the office says so."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from branches import services
from branches.models import CommitteePosition, CommitteeTerm, Role


@pytest.fixture
def office(client, personas):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    return client


def _term(org, elected_on, **holders):
    return services.record_term(organisation=org, elected_on=elected_on, positions=list(holders.items()))


def _fresh(term):
    return CommitteeTerm.objects.get(pk=term.pk)


def _record(term, position):
    """(name, started, ended) of every holder of the post in the term, earliest first."""
    rows = term.positions.filter(position=position).order_by("started_on", "pk")
    return list(rows.values_list("holder_name", "started_on", "ended_on"))


def _edit(term, changed_on=None, **names):
    return services.update_term(
        term=_fresh(term), ends_on=term.ends_on, note=term.note, positions=list(names.items()),
        changed_on=changed_on,
    )  # fmt: skip


# --- the service ------------------------------------------------------------------------------------


def test_a_post_left_during_the_term_is_filled_by_a_new_holder_and_the_old_keeps_her_name(tree):
    today = timezone.localdate()
    term = _term(tree.a2, date(2024, 3, 22), secretary="何志海", discipline="丁丹")
    _edit(term, discipline="")
    assert services.term_holders(_fresh(term)).keys() == {"secretary"}  # the edit page shows the post empty
    _edit(term, discipline="钱新")
    assert _record(term, "discipline") == [("丁丹", date(2024, 3, 22), today), ("钱新", today, None)]


def test_a_dated_change_ends_the_sitting_holder_and_starts_the_new_one(tree):
    term = _term(tree.a2, date(2024, 1, 1), secretary="赵书记", organisation="钱委员")
    saved = _edit(term, changed_on=date(2025, 6, 1), secretary="赵书记", organisation="孙委员")
    assert _record(term, "organisation") == [
        ("钱委员", date(2024, 1, 1), date(2025, 6, 1)),
        ("孙委员", date(2025, 6, 1), None),
    ]
    assert _record(term, "secretary") == [("赵书记", date(2024, 1, 1), None)]  # unchanged
    assert saved.changes == ["组织委员钱委员于2025-06-01离任", "孙委员自2025-06-01任组织委员"]


def test_without_a_date_a_changed_name_is_a_correction_of_the_same_record(tree):
    term = _term(tree.a2, date(2024, 1, 1), secretary="赵书计")
    _edit(term, secretary="赵书记")
    assert _record(term, "secretary") == [("赵书记", date(2024, 1, 1), None)]


def test_a_dated_vacancy_and_a_later_appointment(tree):
    term = _term(tree.a2, date(2024, 1, 1), secretary="赵书记", youth="李青")
    _edit(term, changed_on=date(2025, 3, 1), secretary="赵书记", youth="")
    with pytest.raises(ValidationError, match="青年委员李青于2025-03-01离任，新任的任职日期不能早于该日期"):
        _edit(term, changed_on=date(2025, 2, 1), secretary="赵书记", youth="周青")
    _edit(term, changed_on=date(2025, 9, 1), secretary="赵书记", youth="周青")
    assert _record(term, "youth") == [
        ("李青", date(2024, 1, 1), date(2025, 3, 1)),
        ("周青", date(2025, 9, 1), None),
    ]


def test_a_change_is_dated_within_the_term(tree):
    old = _term(tree.a2, date(2019, 1, 1), secretary="老书记")
    _term(tree.a2, date(2024, 1, 1), secretary="新书记")
    tomorrow = timezone.localdate() + timedelta(days=1)
    cases = [
        (date(2018, 12, 31), "变动日期不能早于本届选举日期（2019-01-01）"),
        (date(2024, 1, 1), "变动日期应早于下一届选举日期（2024-01-01）"),
        (tomorrow, "变动日期不能晚于今天"),
    ]
    for changed_on, message in cases:
        with pytest.raises(ValidationError, match=message):
            _edit(old, changed_on=changed_on, secretary="接任书记")
    assert _record(old, "secretary") == [("老书记", date(2019, 1, 1), date(2024, 1, 1))]


def test_a_change_in_a_past_term_ends_at_the_next_election(tree):
    old = _term(tree.a2, date(2019, 1, 1), secretary="老书记")
    _term(tree.a2, date(2024, 1, 1), secretary="新书记")
    _edit(old, changed_on=date(2021, 5, 1), secretary="接任书记")
    assert _record(old, "secretary") == [
        ("老书记", date(2019, 1, 1), date(2021, 5, 1)),
        ("接任书记", date(2021, 5, 1), date(2024, 1, 1)),
    ]


def test_a_past_holder_is_not_blanked_silently(tree):
    old = _term(tree.a2, date(2019, 1, 1), secretary="老书记", propaganda="老宣传")
    _term(tree.a2, date(2024, 1, 1), secretary="新书记")
    with pytest.raises(ValidationError, match="宣传委员老宣传任职至2024-01-01换届"):
        _edit(old, secretary="老书记", propaganda="")
    assert _record(old, "propaganda") == [("老宣传", date(2019, 1, 1), date(2024, 1, 1))]


# --- the pages --------------------------------------------------------------------------------------


def _post(office, term, **data):
    return office.post(
        reverse("branches:term_edit", args=[term.pk]), {"ends_on": term.ends_on.isoformat(), **data}
    )


def test_the_walkthrough_clear_then_appoint_through_the_page(office, tree):
    """清空纪检委员 (丁丹) and save; edit again, enter 钱新 and save: 钱新 sits from today, 丁丹 stays on record."""
    today = timezone.localdate()
    term = _term(tree.a2, date(2026, 3, 22), secretary="何志海", discipline="丁丹")
    url = reverse("branches:term_edit", args=[term.pk])
    page = office.get(url).content.decode()
    assert 'name="change" value="change"' in page and "checked" in page.split('value="change"')[1][:40]
    _post(
        office, term, pos_secretary="何志海", pos_discipline="", change="change", changed_on=today.isoformat()
    )
    assert (
        'value="丁丹"' not in office.get(url).content.decode()
    )  # the post is shown empty, not with her name
    response = _post(
        office,
        term,
        pos_secretary="何志海",
        pos_discipline="钱新",
        change="change",
        changed_on=today.isoformat(),
    )
    assert response.status_code == 302
    assert _record(term, "discipline") == [("丁丹", date(2026, 3, 22), today), ("钱新", today, None)]
    detail = office.get(response["Location"]).content.decode()
    assert f'钱新 <span class="text-body-secondary">（{today:%Y-%m-%d}任职）</span>' in detail
    assert f"纪检委员 丁丹（2026-03-22 至 {today:%Y-%m-%d}）" in detail
    record = office.get(url).content.decode().split('id="h-record"')[1]
    assert "丁丹</td><td>2026-03-22</td><td>" + f"{today:%Y-%m-%d}" in record
    assert f"钱新</td><td>{today:%Y-%m-%d}</td>" in record


def test_replacing_a_sitting_holder_in_one_save(office, tree):
    term = _term(tree.a2, date(2024, 1, 1), secretary="赵书记", discipline="丁丹")
    response = _post(office, term, pos_secretary="赵书记", pos_discipline="钱新", change="change",
                     changed_on="2026-06-01")  # fmt: skip
    assert response.status_code == 302
    assert _record(term, "discipline") == [
        ("丁丹", date(2024, 1, 1), date(2026, 6, 1)),
        ("钱新", date(2026, 6, 1), None),
    ]
    shown = office.get(response["Location"]).content.decode()
    assert "已保存届次信息：纪检委员丁丹于2026-06-01离任；钱新自2026-06-01任纪检委员。" in shown
    again = _post(
        office, term, pos_secretary="赵书记", pos_discipline="钱新", change="change", changed_on="2026-06-01"
    )  # fmt: skip  (a double submit)
    assert again.status_code == 302
    assert term.positions.filter(position="discipline").count() == 2


def test_a_changed_name_without_saying_what_it_is_is_asked_about(office, tree):
    term = _term(tree.a2, date(2024, 1, 1), secretary="赵书计")
    response = _post(office, term, pos_secretary="赵书记")
    assert response.status_code == 200
    assert "书记由“赵书计”改为“赵书记”：请选择是人员变动" in response.content.decode()
    assert _record(term, "secretary") == [("赵书计", date(2024, 1, 1), None)]


def test_a_change_needs_its_date(office, tree):
    term = _term(tree.a2, date(2024, 1, 1), secretary="赵书记")
    response = _post(office, term, pos_secretary="钱书记", change="change", changed_on="")
    assert response.status_code == 200
    assert "人员变动请填写变动日期。" in response.content.decode()
    assert _record(term, "secretary") == [("赵书记", date(2024, 1, 1), None)]


def test_a_change_date_outside_the_term_is_shown_on_the_form(office, tree):
    term = _term(tree.a2, date(2024, 1, 1), secretary="赵书记")
    response = _post(office, term, pos_secretary="钱书记", change="change", changed_on="2023-06-01")
    assert response.status_code == 200
    assert "变动日期不能早于本届选举日期（2024-01-01）。" in response.content.decode()
    assert _record(term, "secretary") == [("赵书记", date(2024, 1, 1), None)]


def test_a_past_term_offers_correction_first_and_no_date(office, tree):
    old = _term(tree.a2, date(2019, 1, 1), secretary="赵书计")
    _term(tree.a2, date(2024, 1, 1), secretary="钱书记")
    page = office.get(reverse("branches:term_edit", args=[old.pk])).content.decode()
    assert "checked" in page.split('value="correction"')[1][:40]
    assert 'name="changed_on" value=' not in page
    _post(office, old, pos_secretary="赵书记", change="correction")
    assert CommitteePosition.objects.get(term=old).holder_name == "赵书记"
