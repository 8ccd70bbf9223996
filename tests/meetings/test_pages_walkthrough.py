"""What the secretary meets on the meeting and talk pages: drafts per link, the 主题党日 note, refused edits
of voided records, and the 谈心谈话 form's messages. `branch` has 党员0–3; 党员0–2 sit on the committee."""

import re
import uuid
from datetime import date, datetime, time

import pytest
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
