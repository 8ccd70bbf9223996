"""What the secretary meets on the meeting and talk pages: drafts per link, the 主题党日 note, refused edits
of voided records, and the 谈心谈话 form's messages. `branch` has 党员0–3; 党员0–2 sit on the committee."""

import re
import uuid
from datetime import date, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from branches.models import Role
from meetings import services
from meetings.models import Meeting, Talk


@pytest.fixture
def secretary(client, personas):
    client.force_login(personas[Role.SECRETARY])
    return client


def create_url(branch, query=""):
    return reverse("meetings:create") + f"?branch={branch.pk}{query}"


def draft_key(html):
    return re.search(r'data-draft-key="([^"]+)"', html).group(1)


def form_data(page, **overrides):
    """The form as the browser would send it from `page`: its token, its list's basis, everyone present."""
    data = {
        "types": page.context["form"].initial["types"], "held_on": timezone.localdate().isoformat(),
        "topic": "学习党章", "token": page.context["form"].initial["token"], "grid_basis": page.context["grid_basis"],
        "rect-TOTAL_FORMS": "3", "rect-INITIAL_FORMS": "0",
        **{f"att_{item['row'].member_id}": "present" for item in page.context["grid"]},
    }  # fmt: skip
    data.update(overrides)
    return data


def theme_day_note(html):
    return re.search(r'<p class="([^"]*)" id="theme-day-note">', html).group(1).split()


# ---------------------------------------------------------------- the form's draft


def test_each_link_and_each_user_has_a_draft_of_its_own(client, personas, branch):
    client.force_login(personas[Role.SECRETARY])
    links = ["&type=committee_meeting", "&type=theme_day", "&type=party_lecture&period_end=2025-09-30"]
    keys = [draft_key(client.get(create_url(branch, link)).content.decode()) for link in links]
    assert len(set(keys)) == 3  # the 主题党日 link never gets what was typed on the 支委会 link
    assert (
        draft_key(client.get(create_url(branch, links[0])).content.decode()) == keys[0]
    )  # reopened: restored
    client.force_login(personas[Role.COMMITTEE_MEMBER])
    assert draft_key(client.get(create_url(branch, links[0])).content.decode()) != keys[0]  # same phone


def test_what_the_link_asks_for_is_on_the_page(secretary, branch):
    html = secretary.get(create_url(branch, "&type=party_lecture&period_end=2025-09-30")).content.decode()
    assert 'value="2025-09-30"' in html and "已预填为该周期的最后一天（2025年9月30日）" in html
    assert re.search(r'<input[^>]* name="types" value="party_lecture"[^>]* checked', html)
    assert not re.search(r'<input[^>]* name="types" value="committee_meeting"[^>]* checked', html)


def test_a_draft_is_offered_on_an_opened_form_not_over_a_form_sent_back(secretary, branch):
    page = secretary.get(create_url(branch, "&type=theme_day"))
    assert 'data-restore-draft="1"' in page.content.decode()
    shown_again = secretary.post(create_url(branch, "&type=theme_day"), form_data(page, refresh="1"))
    assert 'data-restore-draft="0"' in shown_again.content.decode()  # it shows what was sent


def test_types_changed_without_updating_the_list_get_the_new_list_not_a_refusal(secretary, branch):
    """A changed tick (by hand, or from a draft) must not end in "不在本次应到名单内": the list is redone."""
    url = create_url(branch, "&type=theme_day")
    page = secretary.get(url)
    assert len(page.context["grid"]) == 4
    sent = secretary.post(url, form_data(page, types=["committee_meeting"], topic="支委会"))
    assert sent.status_code == 200 and not Meeting.objects.exists()
    html = sent.content.decode()
    assert "出勤名单还没有更新。现已按新的选择列出应到人员（共 3 人）" in html
    assert "不在本次应到名单内" not in html and 'value="支委会"' in html
    assert [item["row"].member.name for item in sent.context["grid"]] == ["党员0", "党员1", "党员2"]
    checked = secretary.post(url, form_data(sent, types=["committee_meeting"], topic="支委会"))
    assert checked.status_code == 302
    assert Meeting.objects.get().attendance.count() == 3


# ---------------------------------------------------------------- the 主题党日 note


def test_the_fixed_theme_day_note_shows_only_for_a_theme_day(secretary, branch):
    assert "d-none" in theme_day_note(
        secretary.get(create_url(branch, "&type=committee_meeting")).content.decode()
    )
    page = secretary.get(create_url(branch, "&type=theme_day"))
    assert "d-none" not in theme_day_note(page.content.decode())
    refreshed = secretary.post(
        create_url(branch, "&type=theme_day"), form_data(page, types=["party_lecture"], refresh="1")
    )
    assert "d-none" in theme_day_note(refreshed.content.decode())


# ---------------------------------------------------------------- editing a record that cannot change


def _meeting(branch, held_on=None):
    held_on = held_on or timezone.localdate()
    attendance = {r.member_id: ("present", "") for r in services.attendance_list(
        branch=branch, types=["theme_day"], held_on=held_on)}  # fmt: skip
    entered = timezone.make_aware(datetime.combine(held_on, time(20)))  # on the day: not a 补录
    return services.record_meeting(branch=branch, types=["theme_day"], held_on=held_on, topic="学习党章",
                                   attendance=attendance, token=uuid.uuid4().hex, now=entered)  # fmt: skip


def test_a_voided_record_is_refused_when_its_edit_page_opens(secretary, branch):
    meeting = _meeting(branch)
    services.void_meeting(meeting=meeting, reason="重复录入")
    url = reverse("meetings:edit", args=[meeting.pk])
    response = secretary.get(url, follow=True)
    assert response.redirect_chain == [(reverse("meetings:detail", args=[meeting.pk]), 302)]
    html = response.content.decode()
    assert "该记录已作废，不能修改。" in html and 'id="meeting-form"' not in html
    assert secretary.post(url, {"topic": "改了"}).status_code == 302
    meeting.refresh_from_db()
    assert meeting.topic == "学习党章"


def test_a_record_of_a_locked_year_is_refused_when_its_edit_page_opens(secretary, branch):
    meeting = _meeting(branch, held_on=date(timezone.localdate().year - 1, 12, 1))
    services.set_year_lock(branch=branch, year=meeting.held_on.year, locked=True)
    html = secretary.get(reverse("meetings:edit", args=[meeting.pk]), follow=True).content.decode()
    assert (
        f"{meeting.held_on.year}年度台账已锁定，如需修改请联系党委解锁。" in html
        and 'id="meeting-form"' not in html
    )


# ---------------------------------------------------------------- 谈心谈话


def talks_url(branch):
    return reverse("meetings:talks", args=[branch.pk])


def talk_row(i, initiator=None, counterpart=None, topic=""):
    return {f"t{i}-initiator": initiator.pk if initiator else "", f"t{i}-counterpart": counterpart.pk if counterpart else "",
            f"t{i}-topic": topic}  # fmt: skip


def test_a_talk_row_without_a_counterpart_asks_for_it_and_keeps_the_typing(secretary, branch):
    p = branch.people
    data = {"talked_on": timezone.localdate().isoformat(), **talk_row(0, p[0], p[1], "谈工作"),
            **talk_row(1, p[0], None, "谈思想"), **talk_row(2, None, None, "谈家庭")}  # fmt: skip
    response = secretary.post(talks_url(branch), data)
    assert response.status_code == 200 and not Talk.objects.exists()
    html = response.content.decode()
    assert "第2行谈话对象：请选择（本行已填写谈话人、主要内容）。" in html
    assert "第3行谈话人：请选择（本行已填写主要内容）。" in html and "第3行谈话对象：请选择" in html
    assert "请至少填写一组谈话" not in html
    assert (
        f'<option value="{p[0].pk}" selected>' in html
        and 'value="谈思想"' in html
        and 'value="谈家庭"' in html
    )


def test_a_talk_sent_again_says_it_was_not_saved_twice(secretary, branch):
    p = branch.people
    first = {"talked_on": timezone.localdate().isoformat(), **talk_row(0, p[0], p[1], "谈工作")}
    assert "已登记 1 次谈心谈话。" in secretary.post(talks_url(branch), first, follow=True).content.decode()
    again = secretary.post(talks_url(branch), first, follow=True).content.decode()
    assert "已登记 0 次谈心谈话；1 次此前已登记，未重复保存。" in again
    more = secretary.post(talks_url(branch), {**first, **talk_row(1, p[2], p[3], "谈思想")}, follow=True)
    assert "已登记 1 次谈心谈话；1 次此前已登记，未重复保存。" in more.content.decode()
    assert Talk.objects.count() == 2


def test_a_type_ticked_that_lists_the_same_people_saves_without_a_refresh(secretary, branch):
    """A 党课 added to a 主题党日: both list the whole branch, so what was marked still fits."""
    url = create_url(branch, "&type=theme_day")
    page = secretary.get(url)
    sent = secretary.post(url, form_data(page, types=["theme_day", "party_lecture"], lecturer="书记"))
    assert sent.status_code == 302
    assert sorted(Meeting.objects.get().types.values_list("type", flat=True)) == [
        "party_lecture",
        "theme_day",
    ]


# ---------------------------------------------------------------- who may change a record into what


def _group_meeting(branch, group):
    from tests.conftest import make_meeting

    held_on = timezone.localdate()
    return make_meeting(branch, group, branch.people, held_on=held_on, attachment=False,
                        now=timezone.make_aware(datetime.combine(held_on, time(20))))  # fmt: skip


def edit_data(meeting, **overrides):
    """The edit form as sent back unchanged: the record's fields, everyone as recorded, no new 整改事项."""
    data = {
        "types": [t.type for t in meeting.types.all()], "group": meeting.group_id or "",
        "held_on": meeting.held_on.isoformat(), "topic": meeting.topic, "token": meeting.submit_token,
        "lecturer": meeting.lecturer, "for_year": meeting.for_year or "",
        "rect-TOTAL_FORMS": "3", "rect-INITIAL_FORMS": "0",
        **{f"att_{a.member_id}": a.status for a in meeting.attendance.all()},
        **{f"reason_{a.member_id}": a.leave_reason for a in meeting.attendance.all()},
    }  # fmt: skip
    items = list(meeting.rectifications.filter(voided_at=None).order_by("due_on", "pk"))
    data.update({"item-TOTAL_FORMS": str(len(items)), "item-INITIAL_FORMS": str(len(items))})
    for i, item in enumerate(items):
        data.update({f"item-{i}-id": item.pk, f"item-{i}-problem": item.problem, f"item-{i}-measure": item.measure,
                     f"item-{i}-owner": item.owner, f"item-{i}-due_on": item.due_on.isoformat(),
                     f"item-{i}-done_on": item.done_on.isoformat() if item.done_on else ""})  # fmt: skip
    data.update(overrides)
    return data


def test_a_group_leader_cannot_turn_their_group_meeting_into_another_groups_or_the_branchs(
    client, personas, tree, branch
):
    meeting = _group_meeting(branch, tree.g1)
    client.force_login(personas[Role.GROUP_LEADER])
    url = reverse("meetings:edit", args=[meeting.pk])
    form = client.get(url).context["form"]
    assert [value for value, _label in form.fields["types"].choices] == ["group_meeting"]
    assert list(form.fields["group"].queryset) == [tree.g1]  # as on the new-meeting form
    to_other_group = client.post(url, edit_data(meeting, group=tree.g2.pk))
    assert to_other_group.status_code == 200
    assert "所选党小组不在您可记录的范围内" in to_other_group.content.decode()
    to_branch_meeting = client.post(url, edit_data(meeting, types=["general_meeting"], group=""))
    assert to_branch_meeting.status_code == 200
    assert "您只能记录党小组会，不能改为其他会议类型。" in to_branch_meeting.content.decode()
    meeting.refresh_from_db()
    assert meeting.group == tree.g1 and list(meeting.types.values_list("type", flat=True)) == [
        "group_meeting"
    ]
    assert client.post(url, edit_data(meeting, topic="小组学习")).status_code == 302  # their own: saved
    # The service refuses it too, whatever form it comes from.
    attendance = {p.pk: ("present", "") for p in branch.people}
    with pytest.raises(ValidationError, match="您只能记录本党小组的党小组会"):
        services.update_meeting(meeting=meeting, types=["general_meeting"], held_on=meeting.held_on, topic="x",
                                attendance=attendance, user=personas[Role.GROUP_LEADER])  # fmt: skip


def test_the_secretary_may_still_move_a_group_meeting_to_another_group(secretary, tree, branch):
    meeting = _group_meeting(branch, tree.g1)
    form = secretary.get(reverse("meetings:edit", args=[meeting.pk])).context["form"]
    assert set(form.fields["group"].queryset) == {tree.g1, tree.g2}
    assert len(form.fields["types"].choices) == 6


# ---------------------------------------------------------------- 组织生活会 and its 整改清单


def org_life_url(branch):
    return create_url(branch, "&type=org_life_meeting")


def test_a_rectification_row_in_error_opens_its_section_and_is_listed_at_the_top(secretary, branch):
    page = secretary.get(org_life_url(branch))
    sent = secretary.post(
        org_life_url(branch), form_data(page, topic="组织生活会", **{"rect-0-problem": "学习不够"})
    )
    assert sent.status_code == 200 and not Meeting.objects.exists()
    html = sent.content.decode()
    assert re.search(r'<details [^>]*id="org-life-section" open>', html)
    summary = html[html.index('id="error-summary"') : html.index('name="held_on"')]
    assert "整改清单第1行责任人：整改事项须填写责任人和整改期限。" in summary
    assert 'value="学习不够"' in html


def test_the_org_life_section_is_unfolded_for_an_org_life_record_and_folded_for_others(secretary, branch):
    unfolded = re.compile(r'<details [^>]*id="org-life-section" open>')
    assert unfolded.search(secretary.get(org_life_url(branch)).content.decode())
    assert not unfolded.search(secretary.get(create_url(branch, "&type=committee_meeting")).content.decode())
    page = secretary.get(org_life_url(branch))
    assert secretary.post(org_life_url(branch), form_data(page, topic="组织生活会")).status_code == 302
    meeting = Meeting.objects.get()
    assert unfolded.search(secretary.get(reverse("meetings:edit", args=[meeting.pk])).content.decode())


def test_impossible_org_life_dates_are_refused_on_their_fields(secretary, branch):
    page = secretary.get(org_life_url(branch))
    today = timezone.localdate()
    tomorrow = (today + timedelta(days=1)).isoformat()
    sent = secretary.post(org_life_url(branch), form_data(page, topic="组织生活会", reported_on=tomorrow))
    assert sent.status_code == 200 and not Meeting.objects.exists()
    assert sent.context["form"].errors["reported_on"] == ["报告上级党委日期不能晚于今天。"]
    sent = secretary.post(org_life_url(branch), form_data(page, topic="组织生活会", reported_on="2030-01-01"))
    assert "报告上级党委日期不能晚于今天。" in sent.content.decode()
    day_before = (today - timedelta(days=1)).isoformat()
    sent = secretary.post(org_life_url(branch), form_data(page, topic="组织生活会", reported_on=day_before))
    assert sent.context["form"].errors["reported_on"] == ["报告上级党委日期不能早于会议召开日期。"]
    early_due = {"rect-0-problem": "学习不够", "rect-0-owner": "党员1", "rect-0-due_on": day_before}
    sent = secretary.post(org_life_url(branch), form_data(page, topic="组织生活会", **early_due))
    assert sent.context["rectifications"].forms[0].errors["due_on"] == ["整改期限不能早于会议召开日期。"]
    assert "整改清单第1行整改期限：整改期限不能早于会议召开日期。" in sent.content.decode()
    assert not Meeting.objects.exists()


def test_the_service_refuses_impossible_org_life_dates(branch):
    held_on = date(2026, 1, 15)
    attendance = {r.member_id: ("present", "") for r in services.attendance_list(
        branch=branch, types=["org_life_meeting"], held_on=held_on)}  # fmt: skip
    entered = timezone.make_aware(datetime.combine(held_on, time(20)))
    common = {"branch": branch, "types": ["org_life_meeting"], "held_on": held_on, "topic": "组织生活会",
              "attendance": attendance, "now": entered, "for_year": 2025}  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        services.record_meeting(token=uuid.uuid4().hex, reported_on=date(2026, 1, 16), **common)
    assert refused.value.message_dict["reported_on"] == ["报告上级党委日期不能晚于今天。"]
    with pytest.raises(ValidationError) as refused:
        services.record_meeting(token=uuid.uuid4().hex, **common, rectifications=[
            {"problem": "学习不够", "owner": "党员1", "due_on": date(2026, 1, 10)}])  # fmt: skip
    assert refused.value.message_dict["rectifications"] == [
        "整改事项“学习不够”的整改期限不能早于会议召开日期。"
    ]
    assert not Meeting.objects.exists()


def _org_life(secretary, branch, items):
    page = secretary.get(org_life_url(branch))
    rows = {}
    for i, (problem, owner, due_on) in enumerate(items):
        rows.update({f"rect-{i}-problem": problem, f"rect-{i}-owner": owner, f"rect-{i}-due_on": due_on})
    assert (
        secretary.post(org_life_url(branch), form_data(page, topic="组织生活会", **rows)).status_code == 302
    )
    return Meeting.objects.get()


def test_saved_rectifications_are_corrected_completed_and_voided_on_the_edit_page(secretary, branch):
    due = (timezone.localdate() + timedelta(days=90)).isoformat()
    meeting = _org_life(secretary, branch, [("学习不够", "党员1", due), ("录错的一条", "党员2", due)])
    url = reverse("meetings:edit", args=[meeting.pk])
    html = secretary.get(url).content.decode()
    assert (
        'value="学习不够"' in html and 'value="录错的一条"' in html and "完成日期" in html and "作废" in html
    )
    first, second = meeting.rectifications.order_by("pk")
    index = {item.pk: i for i, item in enumerate(meeting.rectifications.order_by("due_on", "pk"))}
    today = timezone.localdate().isoformat()
    changes = {f"item-{index[first.pk]}-done_on": today, f"item-{index[first.pk]}-measure": "每月集中学习",
               f"item-{index[second.pk]}-void": "on"}  # fmt: skip
    no_reason = secretary.post(url, edit_data(meeting, **changes))
    assert no_reason.status_code == 200
    assert "勾选作废时请填写作废原因。" in no_reason.content.decode()
    changes[f"item-{index[second.pk]}-void_reason"] = "重复录入"
    # The same 问题 typed again in a blank row is not a second item.
    again = {
        "rect-0-problem": "学习不够",
        "rect-0-measure": "每月集中学习",
        "rect-0-owner": "党员1",
        "rect-0-due_on": due,
    }
    assert secretary.post(url, edit_data(meeting, **changes, **again)).status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.done_on == timezone.localdate() and first.measure == "每月集中学习"
    assert second.voided_at is not None and second.void_reason == "重复录入"
    assert meeting.rectifications.count() == 2 and second.history.count() == 2  # voided, not deleted
    detail = secretary.get(reverse("meetings:detail", args=[meeting.pk])).content.decode()
    listed = detail[detail.index('<div class="fw-semibold">整改清单</div>') : detail.index("报告上级党委：")]
    assert f"已于{today}完成" in listed and "录错的一条" not in listed  # its voiding is in the history below
    html = secretary.get(url).content.decode()
    assert 'value="录错的一条"' not in html and html.count('value="学习不够"') == 1


def test_a_completion_date_in_the_future_is_refused(secretary, branch):
    due = (timezone.localdate() + timedelta(days=90)).isoformat()
    meeting = _org_life(secretary, branch, [("学习不够", "党员1", due)])
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    sent = secretary.post(
        reverse("meetings:edit", args=[meeting.pk]), edit_data(meeting, **{"item-0-done_on": tomorrow})
    )
    assert (
        sent.status_code == 200
        and "整改清单已保存的第1项完成日期：完成日期不能晚于今天。" in sent.content.decode()
    )
    assert meeting.rectifications.get().done_on is None


# ---------------------------------------------------------------- a locked or voided record's page


def test_a_locked_years_record_offers_no_edit_or_void_and_says_it_is_locked(secretary, branch):
    meeting = _meeting(branch, held_on=date(timezone.localdate().year - 1, 12, 1))
    services.set_year_lock(branch=branch, year=meeting.held_on.year, locked=True)
    html = secretary.get(reverse("meetings:detail", args=[meeting.pk])).content.decode()
    assert reverse("meetings:edit", args=[meeting.pk]) not in html
    assert reverse("meetings:void", args=[meeting.pk]) not in html
    assert "已锁定" in html and f"{meeting.held_on.year}年度台账已锁定：该记录不能修改或作废" in html
    void_page = secretary.get(reverse("meetings:void", args=[meeting.pk])).content.decode()
    assert "不能作废：" in void_page and 'name="reason"' not in void_page


def test_the_void_page_of_a_voided_record_says_it_is_voided(secretary, branch):
    meeting = _meeting(branch)
    services.void_meeting(meeting=meeting, reason="重复录入")
    url = reverse("meetings:void", args=[meeting.pk])
    html = secretary.get(url).content.decode()
    assert "该记录已于" in html and "（原因：重复录入），不计入组织生活，无需再次作废。" in html
    assert 'name="reason"' not in html
    assert secretary.post(url, {"reason": "再次"}).status_code == 200
    meeting.refresh_from_db()
    assert meeting.void_reason == "重复录入"


def test_the_theme_day_approval_is_shown_on_the_record(secretary, branch):
    meeting = _meeting(branch)
    Meeting.objects.filter(pk=meeting.pk).update(
        off_day_approved_by="镇党委", off_day_approved_on=meeting.held_on
    )
    html = secretary.get(reverse("meetings:detail", args=[meeting.pk])).content.decode()
    assert '改期批准人</dt><dd class="col-8">镇党委' in html
    assert f'改期批准日期</dt><dd class="col-8">{meeting.held_on:%Y-%m-%d}' in html


# ---------------------------------------------------------------- every correction asked for at once


def test_a_refused_form_lists_every_correction_at_once(secretary, branch):
    url = create_url(branch, "&type=theme_day")
    page = secretary.get(url)
    held_on = (timezone.localdate() - timedelta(days=20)).isoformat()  # a 补录: needs its reason
    person = branch.people[0]
    sent = secretary.post(url, form_data(page, topic="", held_on=held_on, **{f"att_{person.pk}": "leave"}))
    assert sent.status_code == 200 and not Meeting.objects.exists()
    errors = sent.context["form"].errors
    assert "topic" in errors and "backfill_reason" in errors
    assert f"{person.name}请假，请填写请假事由。" in errors["__all__"]
    summary = sent.content.decode()
    summary = summary[summary.index('id="error-summary"') : summary.index('name="held_on"')]
    assert "主题" in summary and "补录原因" in summary and "请假，请填写请假事由" in summary


def test_the_service_refuses_every_problem_at_once(branch):
    held_on = timezone.localdate()
    expected = services.attendance_list(branch=branch, types=["party_lecture"], held_on=held_on)
    attendance = {r.member_id: ("leave", "") for r in expected}
    with pytest.raises(ValidationError) as refused:
        services.record_meeting(branch=branch, types=["party_lecture"], held_on=held_on, topic="党课",
                                attendance=attendance, token=uuid.uuid4().hex)  # fmt: skip
    problems = refused.value.message_dict
    assert problems["lecturer"] == ["党课请填写主讲人。"]
    assert len(problems["attendance"]) == len(expected)  # each member without a reason named
