"""谈心谈话 corrected and voided, and the talks page's 尚未谈话 list. `branch` has 党员0–3; 党员0–2 sit on the
committee, so a year needs the pairs 0—1, 0—2, 1—2 and 党员3 with any of them (4 人次)."""

import re
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from branches import services as branch_services
from branches.models import Role
from compliance import engine
from compliance.models import Flag
from meetings import services
from meetings.models import Talk
from meetings.signals import records_changed
from tests.compliance.conftest import idn
from tests.conftest import make_member, page_queries

TODAY = timezone.localdate()
LAST = TODAY.year - 1  # a year that is over: its talk_coverage is judged overdue, not still open


@pytest.fixture
def secretary(client, personas):
    client.force_login(personas[Role.SECRETARY])
    return client


def talk(branch, a, b, topic="谈工作", on=None):
    on = on or date(LAST, 5, 6)
    [saved] = services.record_talks(branch=branch, talked_on=on, pairs=[(a, b, topic)], today=TODAY).created
    return saved


def talks_url(branch, year=LAST, **query):
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"{reverse('meetings:talks', args=[branch.pk])}?year={year}{extra}"


def edit_url(saved):
    return reverse("meetings:talk_edit", args=[saved.branch_id, saved.pk])


def void_url(saved):
    return reverse("meetings:talk_void", args=[saved.branch_id, saved.pk])


def correction(saved, **changes):
    data = {"talked_on": saved.talked_on.isoformat(), "initiator": saved.initiator_id,
            "counterpart": saved.counterpart_id, "topic": saved.topic}  # fmt: skip
    data.update(changes)
    return data


def section(html, element_id):
    """The text of the element with this id (tags dropped), or "" when the page has none."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:ul|section|p)>', html, re.S)
    return re.sub(r"<[^>]+>", " ", found.group(1)) if found else ""


def signalled(django_capture_on_commit_callbacks, write):
    """The (branch, dates) the write announced to the compliance refresh once it committed."""
    seen = []

    def handler(sender, branch_id, dates, **kwargs):
        seen.append((branch_id, sorted(set(dates))))

    records_changed.connect(handler)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            write()
    finally:
        records_changed.disconnect(handler)
    return seen


# ---------------------------------------------------------------- correcting


def test_a_correction_changes_the_talk_keeps_the_old_one_in_history_and_refreshes_both_dates(
    branch, django_capture_on_commit_callbacks
):
    p = branch.people
    saved = talk(branch, p[0], p[1])
    moved = date(LAST, 9, 1)
    seen = signalled(django_capture_on_commit_callbacks, lambda: services.correct_talk(
        talk=saved, talked_on=moved, initiator=p[0], counterpart=p[3], topic=" 谈思想 ", today=TODAY))  # fmt: skip
    saved.refresh_from_db()
    assert (saved.talked_on, saved.counterpart_id, saved.topic) == (moved, p[3].pk, "谈思想")
    assert saved.history.count() == 2
    assert saved.history.earliest().counterpart_id == p[1].pk
    assert seen == [(branch.pk, [date(LAST, 5, 6), moved])]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"talked_on": TODAY + timedelta(days=1)}, "谈话日期不能晚于今天。"),
        ({"counterpart": 0}, "党员0不能与自己谈话。"),
        ({"counterpart": "newcomer"}, f"新党员在{LAST}-05-06不在本支部名册中。"),
        ({"initiator": "stranger"}, f"外支部党员在{LAST}-05-06不在本支部名册中。"),
    ],
)
def test_a_correction_is_judged_as_a_new_talk_would_be(branch, tree, change, message):
    p = branch.people
    others = {
        "newcomer": make_member(tree.a1, None, idn(20), name="新党员", started_on=date(LAST, 6, 1)),
        "stranger": make_member(tree.a2, None, idn(21), name="外支部党员"),
    }
    saved = talk(branch, p[0], p[1])
    values = {"talked_on": saved.talked_on, "initiator": p[0], "counterpart": p[1], "topic": "谈工作"}
    for field, value in change.items():
        values[field] = p[value] if isinstance(value, int) else others.get(value, value)
    with pytest.raises(ValidationError, match=message):
        services.correct_talk(talk=saved, today=TODAY, **values)
    saved.refresh_from_db()
    assert (saved.counterpart_id, saved.history.count()) == (p[1].pk, 1)


def test_a_correction_onto_another_talk_of_that_day_is_refused(branch):
    p = branch.people
    talk(branch, p[0], p[1], "谈工作")
    other = talk(branch, p[0], p[2], "谈工作")
    with pytest.raises(ValidationError, match=f"党员0与党员1在{LAST}-05-06已有一条内容相同的谈话记录"):
        services.correct_talk(talk=other, talked_on=other.talked_on, initiator=p[0], counterpart=p[1],
                              topic="谈工作", today=TODAY)  # fmt: skip
    # the same two people on the same day about something else is another talk, as record_talks has it
    services.correct_talk(talk=other, talked_on=other.talked_on, initiator=p[0], counterpart=p[1],
                          topic="谈家庭", today=TODAY)  # fmt: skip
    assert Talk.objects.filter(initiator=p[0], counterpart=p[1], voided_at__isnull=True).count() == 2


def test_a_locked_year_refuses_a_correction_from_it_and_into_it(branch):
    p = branch.people
    in_locked = talk(branch, p[0], p[1], on=date(LAST, 5, 6))
    this_year = talk(branch, p[0], p[2], on=TODAY)
    services.set_year_lock(branch=branch, year=LAST, locked=True)
    with pytest.raises(ValidationError, match=f"{LAST}年度台账已锁定，如需修改请联系党委解锁。"):
        services.correct_talk(talk=in_locked, talked_on=TODAY, initiator=p[0], counterpart=p[1], topic="x",
                              today=TODAY)  # fmt: skip
    with pytest.raises(ValidationError, match=f"{LAST}年度台账已锁定"):
        services.correct_talk(talk=this_year, talked_on=date(LAST, 3, 1), initiator=p[0], counterpart=p[2],
                              topic="x", today=TODAY)  # fmt: skip
    with pytest.raises(ValidationError, match=f"{LAST}年度台账已锁定"):
        services.void_talk(talk=in_locked, reason="录错")
    assert Talk.objects.filter(voided_at__isnull=True).count() == 2


def test_the_correction_page_keeps_what_was_typed_and_says_what_is_wrong(secretary, branch):
    p = branch.people
    saved = talk(branch, p[0], p[1])
    future = (TODAY + timedelta(days=3)).isoformat()
    response = secretary.post(edit_url(saved), correction(saved, talked_on=future, topic="谈学习"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "谈话日期不能晚于今天。" in html and 'value="谈学习"' in html and f'value="{future}"' in html
    response = secretary.post(edit_url(saved), correction(saved, counterpart=p[0].pk))
    assert "谈话对象不能是谈话人本人。" in response.content.decode()
    saved.refresh_from_db()
    assert saved.topic == "谈工作" and saved.history.count() == 1


def test_a_correction_sent_twice_changes_the_talk_once(secretary, branch):
    p = branch.people
    saved = talk(branch, p[0], p[1])
    data = correction(saved, counterpart=p[3].pk, topic="谈思想")
    first = secretary.post(edit_url(saved), data)
    second = secretary.post(edit_url(saved), data, follow=True)
    assert first.status_code == 302 and second.status_code == 200
    assert "谈话记录已更正" in second.content.decode()
    saved.refresh_from_db()
    assert (saved.counterpart_id, saved.topic, saved.history.count()) == (p[3].pk, "谈思想", 2)
    assert Talk.objects.count() == 1


def test_a_talk_with_someone_who_has_left_can_still_be_corrected(secretary, branch):
    p = branch.people
    saved = talk(branch, p[0], p[3])
    p[3].on_roster = False
    p[3].save()
    page = secretary.get(edit_url(saved)).content.decode()
    assert f'<option value="{p[3].pk}" selected>党员3</option>' in page
    response = secretary.post(edit_url(saved), correction(saved, topic="谈工作安排"))
    assert response.status_code == 302
    saved.refresh_from_db()
    assert saved.topic == "谈工作安排"


# ---------------------------------------------------------------- voiding


def test_voiding_needs_a_reason_and_keeps_the_talk(secretary, branch, django_capture_on_commit_callbacks):
    p = branch.people
    saved = talk(branch, p[0], p[1])
    response = secretary.post(void_url(saved), {"reason": "  "})
    assert response.status_code == 200 and "作废原因" in response.content.decode()
    assert Talk.objects.get().voided_at is None
    seen = signalled(
        django_capture_on_commit_callbacks, lambda: secretary.post(void_url(saved), {"reason": "重复录入"})
    )
    saved.refresh_from_db()
    assert saved.voided_at is not None and saved.void_reason == "重复录入" and saved.history.count() == 2
    assert seen == [(branch.pk, [saved.talked_on])]
    # hidden from the list, shown with its reason on request
    assert "党员0 与 党员1" not in section(secretary.get(talks_url(branch)).content.decode(), "talk-list")
    shown = secretary.get(talks_url(branch, void=1)).content.decode()
    assert "已作废" in shown and "作废原因：重复录入" in shown
    # a voided talk offers neither 修改 nor 作废, and its correction page says why
    assert edit_url(saved) not in shown
    assert "该谈话记录已作废，不能修改。" in secretary.get(edit_url(saved)).content.decode()


def test_a_void_sent_twice_voids_once(secretary, branch):
    p = branch.people
    saved = talk(branch, p[0], p[1])
    assert secretary.post(void_url(saved), {"reason": "录错"}).status_code == 302
    again = secretary.post(void_url(saved), {"reason": "录错了"}, follow=True)
    assert "无需再次作废" in again.content.decode()
    saved.refresh_from_db()
    assert saved.void_reason == "录错" and saved.history.count() == 2
    assert services.void_talk(talk=saved, reason="再来一次").void_reason == "录错"


def test_a_voided_talk_uncovers_its_pair_after_the_refresh(branch, django_capture_on_commit_callbacks):
    p = branch.people
    first = talk(branch, p[0], p[1])
    for a, b in ((p[0], p[2]), (p[1], p[2]), (p[3], p[1])):
        talk(branch, a, b)
    engine.refresh(as_of=TODAY, since=date(LAST, 1, 1))
    year_flags = Flag.objects.filter(rule="talk_coverage", branch=branch, period_start=date(LAST, 1, 1))
    assert not year_flags.filter(resolved_on=None).exists()
    # through the hook a real write runs: on commit, the branch is refreshed
    with django_capture_on_commit_callbacks(execute=True):
        services.void_talk(talk=first, reason="实际未谈")
    flag = year_flags.get(resolved_on=None)
    assert flag.state == "overdue" and "应4人次，已3人次" in flag.message


def test_a_locked_year_shows_no_buttons_and_its_pages_say_why(secretary, branch):
    p = branch.people
    saved = talk(branch, p[0], p[1])
    services.set_year_lock(branch=branch, year=LAST, locked=True)
    page = secretary.get(talks_url(branch)).content.decode()
    assert f"{LAST}年度台账已锁定" in page and edit_url(saved) not in page and void_url(saved) not in page
    for url in (edit_url(saved), void_url(saved)):
        response = secretary.post(url, {**correction(saved, topic="改"), "reason": "录错"})
        assert response.status_code == 200
        assert f"{LAST}年度台账已锁定，如需修改请联系党委解锁。" in response.content.decode()
    saved.refresh_from_db()
    assert saved.voided_at is None and saved.topic == "谈工作"


def test_only_those_who_record_for_the_branch_see_the_buttons(client, personas, branch):
    p = branch.people
    saved = talk(branch, p[0], p[1])
    for role, shown in ((Role.SECRETARY, True), (Role.COMMITTEE_MEMBER, True), (Role.INSTRUCTOR, False)):
        client.force_login(personas[role])
        page = client.get(talks_url(branch)).content.decode()
        assert (edit_url(saved) in page, void_url(saved) in page) == (shown, shown), role
    client.force_login(personas[Role.INSTRUCTOR])
    assert client.post(void_url(saved), {"reason": "x"}).status_code == 403
    assert Talk.objects.get().voided_at is None


def test_a_talk_of_another_branch_is_not_found_through_this_one(secretary, branch, tree):
    elsewhere = [make_member(tree.a2, None, idn(30 + i), name=f"村党员{i}") for i in range(2)]
    other = talk(tree.a2, *elsewhere)  # a2 is in the secretary's township, not their branch
    for view in ("meetings:talk_edit", "meetings:talk_void"):
        assert secretary.get(reverse(view, args=[branch.pk, other.pk])).status_code == 404
    assert (
        secretary.post(reverse("meetings:talk_void", args=[branch.pk, other.pk]), {"reason": "x"}).status_code
        == 404
    )
    assert Talk.objects.get().voided_at is None


# ---------------------------------------------------------------- 尚未谈话


def test_the_page_names_the_missing_pairs_and_members(secretary, branch):
    p = branch.people
    talk(branch, p[0], p[1])
    html = secretary.get(talks_url(branch)).content.decode()
    assert section(html, "missing-pairs").split() == ["党员0—党员2", "党员1—党员2"]
    assert section(html, "missing-members").split() == ["党员3"]
    assert "应谈 4 人次，已谈到 1 人次" in html and "3 人次" in section(html, "talk-gaps")
    # another year is judged on its own talks
    assert section(
        secretary.get(talks_url(branch, TODAY.year)).content.decode(), "missing-pairs"
    ).split() == ["党员0—党员1", "党员0—党员2", "党员1—党员2"]


def test_when_everyone_is_covered_the_page_says_so(secretary, branch):
    p = branch.people
    for a, b in ((p[0], p[1]), (p[2], p[0]), (p[1], p[2]), (p[3], p[2])):
        talk(branch, a, b)
    html = secretary.get(talks_url(branch)).content.decode()
    assert "本年度谈心谈话已全部覆盖" in html
    assert not section(html, "missing-pairs") and not section(html, "missing-members")


def test_the_page_and_the_flag_count_the_same(secretary, branch):
    p = branch.people
    talk(branch, p[0], p[1])
    talk(branch, p[3], p[3 - 1])  # 党员3 with 党员2, a committee member
    engine.refresh(as_of=TODAY, since=date(LAST, 1, 1))
    flag = Flag.objects.get(
        rule="talk_coverage", branch=branch, period_start=date(LAST, 1, 1), resolved_on=None
    )
    required, covered = re.search(r"应(\d+)人次，已(\d+)人次", flag.message).groups()
    assert f"应谈 {required} 人次，已谈到 {covered} 人次" in secretary.get(talks_url(branch)).content.decode()


def test_a_branch_without_a_committee_term_says_why_everyone_is_listed(client, personas, tree):
    people = [make_member(tree.a2, None, idn(40 + i), name=f"村党员{i}") for i in range(3)]
    talk(tree.a2, people[0], people[1])
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    html = client.get(talks_url(tree.a2)).content.decode()
    assert "无支委会" in section(html, "no-committee")
    assert section(html, "missing-members").split() == ["村党员0", "村党员1", "村党员2"]
    assert "本年度谈心谈话已全部覆盖" not in html


def test_a_member_who_left_is_no_longer_listed_and_a_new_committee_member_is(secretary, branch):
    p = branch.people
    newcomer = make_member(branch, None, idn(50), name="党员4")
    p[3].on_roster = False
    p[3].save()
    branch_services.record_term(
        organisation=branch, elected_on=TODAY, positions=[("secretary", "党员0"), ("organisation", "党员4")]
    )
    html = secretary.get(talks_url(branch)).content.decode()
    assert section(html, "missing-pairs").split() == ["党员0—党员4"]
    assert section(html, "missing-members").split() == ["党员1", "党员2"]
    assert newcomer.name not in section(html, "missing-members")


# ---------------------------------------------------------------- queries


def test_the_talks_page_reads_as_many_queries_for_a_large_branch_as_for_a_small_one(secretary, branch):
    p = branch.people
    talk(branch, p[0], p[1])
    small = page_queries(secretary, talks_url(branch, void=1))
    people = [make_member(branch, None, idn(100 + i), name=f"新党员{i}") for i in range(20)]
    for i, person in enumerate(people):
        talk(branch, p[i % 3], person, on=date(LAST, 1 + i % 12, 10))
    services.void_talk(talk=Talk.objects.filter(counterpart=people[0]).get(), reason="录错")
    assert Talk.objects.count() == 21
    large = page_queries(secretary, talks_url(branch, void=1))
    assert large == small <= 20
