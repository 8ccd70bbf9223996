"""记录会议 posted by a secretary with hostile text, numbers, dates and attendance."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from branches.models import Role
from meetings.models import Meeting
from tests.security.conftest import (
    SAFE_TEXT,
    UNSAFE_TEXT,
    assert_refused,
    assert_shown_escaped,
    meeting_data,
    row_counts,
)


def create_url(branch):
    return reverse("meetings:create") + f"?branch={branch.pk}"


def post_meeting(client, branch, **overrides):
    return client.post(create_url(branch), meeting_data(branch, **overrides))


# ---------------------------------------------------------------- text stored as typed, shown escaped


@pytest.mark.parametrize("field", ["topic", "content"])
@pytest.mark.parametrize("text", SAFE_TEXT.values(), ids=SAFE_TEXT.keys())
def test_hostile_text_is_stored_as_typed_and_shown_escaped(secretary, branch, field, text):
    response = post_meeting(secretary, branch, **{field: text})
    assert response.status_code == 302, response.context and response.context["form"].errors
    meeting = Meeting.objects.get()
    assert getattr(meeting, field) == text.strip()
    detail = secretary.get(response["Location"]).content.decode()
    assert_shown_escaped(detail, text.strip())
    if field == "topic":
        listing = secretary.get(reverse("meetings:list")).content.decode()
        assert_shown_escaped(listing, text.strip())


@pytest.mark.parametrize(
    "field", ["place", "host", "recorder", "guests", "resolutions", "opinions", "criticism"]
)
def test_markup_in_every_other_text_field_is_escaped_on_the_detail_page(secretary, branch, field):
    text = f"<b onmouseover=alert('{field}')>{field}</b>"
    response = post_meeting(secretary, branch, types=["theme_day", "org_life_meeting"], **{field: text})
    assert response.status_code == 302, response.context["form"].errors
    assert getattr(Meeting.objects.get(), field) == text
    assert_shown_escaped(secretary.get(response["Location"]).content.decode(), text)


def test_markup_in_a_leave_reason_is_escaped(secretary, branch):
    person = branch.people[1]
    text = "<script>alert('请假')</script>"
    response = post_meeting(secretary, branch, **{f"att_{person.pk}": "leave", f"reason_{person.pk}": text})
    assert response.status_code == 302
    assert_shown_escaped(secretary.get(response["Location"]).content.decode(), text)


# ---------------------------------------------------------------- refused text


@pytest.mark.parametrize("field", ["topic", "place", "content", "criticism", "backfill_reason"])
@pytest.mark.parametrize("text", UNSAFE_TEXT.values(), ids=UNSAFE_TEXT.keys())
def test_control_characters_are_refused_with_a_chinese_message(secretary, branch, field, text):
    before = row_counts()
    response = post_meeting(secretary, branch, **{field: text})
    assert_refused(response, before, field=field)


@pytest.mark.parametrize("text", ["\x00病假", "事\x07假", "x" * 101], ids=["nul", "bell", "oversized"])
def test_a_leave_reason_the_database_cannot_hold_is_refused(secretary, branch, text):
    person = branch.people[1]
    before = row_counts()
    response = post_meeting(secretary, branch, **{f"att_{person.pk}": "leave", f"reason_{person.pk}": text})
    assert_refused(response, before)


@pytest.mark.parametrize(
    ("field", "limit"),
    [("topic", 200), ("place", 100), ("host", 50), ("recorder", 50), ("lecturer", 50), ("guests", 300),
     ("off_day_approved_by", 50), ("backfill_reason", 200)],
)  # fmt: skip
def test_text_over_its_length_is_refused(secretary, branch, field, limit):
    before = row_counts()
    response = post_meeting(secretary, branch, **{field: "长" * (limit + 1)})
    assert_refused(response, before, field=field)
    assert f"不超过 {limit}" in response.content.decode()


def test_text_at_its_length_is_stored(secretary, branch):
    response = post_meeting(secretary, branch, topic="长" * 200, place="地" * 100, host="主" * 50)
    assert response.status_code == 302
    assert Meeting.objects.get().topic == "长" * 200


def test_a_huge_textarea_is_stored_whole(secretary, branch):
    text = "会议记录。\n" * 100_000  # about 1.5 MB of UTF-8, under the 2.5 MB request limit
    response = post_meeting(secretary, branch, content=text)
    assert response.status_code == 302
    assert Meeting.objects.get().content == text.strip()


def test_a_request_over_the_size_limit_gets_a_chinese_400(secretary, branch):
    before = row_counts()
    response = post_meeting(secretary, branch, content="记" * 1_000_000)  # 3 MB of UTF-8
    assert response.status_code == 400
    assert "提交的内容过大" in response.content.decode()
    assert row_counts() == before


def test_too_many_fields_get_a_chinese_400(secretary, branch):
    before = row_counts()
    response = post_meeting(secretary, branch, **{f"x{i}": "1" for i in range(1200)})
    assert response.status_code == 400
    assert "提交的内容过大" in response.content.decode()
    assert row_counts() == before


# ---------------------------------------------------------------- wrong types


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"for_year": "二〇二六", "types": ["org_life_meeting"]}, "for_year"),
        ({"for_year": "2026.5", "types": ["org_life_meeting"]}, "for_year"),
        ({"for_year": "99999999999999999999", "types": ["org_life_meeting"]}, "for_year"),
        ({"for_year": "-2026", "types": ["org_life_meeting"]}, "for_year"),
        ({"start_time": "25:61"}, "start_time"),
        ({"start_time": "下午三点"}, "start_time"),
        ({"types": ["bogus"]}, "types"),
        ({"types": []}, "types"),
        ({"types": ["theme_day", "theme_day'; --"]}, "types"),
        ({"group": "abc", "types": ["group_meeting"]}, "group"),
        ({"group": "1 OR 1=1", "types": ["group_meeting"]}, "group"),
        ({"group": "999999999999999999999", "types": ["group_meeting"]}, "group"),
        ({"group": "²", "types": ["group_meeting"]}, "group"),
        ({"held_on": "abc"}, "held_on"),
        ({"held_on": ""}, "held_on"),
        ({"topic": ""}, "topic"),
        ({"topic": "   "}, "topic"),
        ({"token": ""}, "token"),
        ({"token": "t" * 65}, "token"),
    ],
    ids=lambda v: str(v)[:40] if not isinstance(v, str) else v,
)
def test_wrong_types_are_refused(secretary, branch, overrides, field):
    before = row_counts()
    response = post_meeting(secretary, branch, **overrides)
    assert_refused(response, before, field=field)


@pytest.mark.parametrize("status", ["bogus", "", "present'--", "出席"])
def test_an_attendance_status_that_does_not_exist_is_refused(secretary, branch, status):
    before = row_counts()
    response = post_meeting(secretary, branch, **{f"att_{branch.people[0].pk}": status})
    assert_refused(response, before)


def test_attendance_for_a_made_up_member_id_is_refused(secretary, branch):
    before = row_counts()
    response = post_meeting(secretary, branch, att_99999999="present", **{"att_１２": "present"})
    assert_refused(response, before)


# ---------------------------------------------------------------- dates


def _day(offset):
    return (timezone.localdate() + timedelta(days=offset)).isoformat()


@pytest.mark.parametrize(
    ("held_on", "message"),
    [
        ("0001-01-01", "不在该支部存续期间"),
        ("1900-01-01", "不在该支部存续期间"),
        ("2009-12-31", "不在该支部存续期间"),  # the day before the branch was founded
        ("9999-12-31", "不能晚于今天"),
        ("2026-02-30", "有效的日期"),
        ("2026-13-01", "有效的日期"),
        ("10000-01-01", "有效的日期"),
        ("２０２６－０１－０１", "有效的日期"),
    ],
)
def test_dates_out_of_range_are_refused(secretary, branch, held_on, message):
    before = row_counts()
    response = post_meeting(secretary, branch, held_on=held_on)
    assert_refused(response, before, field="held_on")
    assert message in response.content.decode()


def test_tomorrow_is_refused(secretary, branch):
    before = row_counts()
    response = post_meeting(secretary, branch, held_on=_day(1))
    assert_refused(response, before, field="held_on")


@pytest.mark.parametrize("field", ["reported_on", "off_day_approved_on"])
@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31"])
def test_extreme_secondary_dates_are_refused_or_stored(secretary, branch, field, value):
    before = row_counts()
    approver = (
        {"off_day_approved_by": "镇党委"} if field == "off_day_approved_on" else {}
    )  # the pair goes together
    response = post_meeting(
        secretary, branch, types=["theme_day", "org_life_meeting"], **{field: value}, **approver
    )
    if response.status_code == 302:
        assert str(getattr(Meeting.objects.get(), field)) == value
    else:
        assert_refused(response, before, field=field)


# ---------------------------------------------------------------- edit and void


@pytest.fixture
def meeting(secretary, branch):
    response = post_meeting(secretary, branch)
    assert response.status_code == 302
    return Meeting.objects.get()


@pytest.mark.parametrize("text", UNSAFE_TEXT.values(), ids=UNSAFE_TEXT.keys())
def test_edit_with_control_characters_changes_nothing(secretary, branch, meeting, text):
    before = row_counts()
    history = meeting.history.count()
    url = reverse("meetings:edit", args=[meeting.pk])
    response = secretary.post(url, meeting_data(branch, topic=text, token=meeting.submit_token))
    assert_refused(response, before, field="topic")
    meeting.refresh_from_db()
    assert meeting.topic == "学习党章" and meeting.history.count() == history


@pytest.mark.parametrize(
    "reason",
    [UNSAFE_TEXT["nul"], UNSAFE_TEXT["escape"], "原" * 201, "   "],
    ids=["nul", "esc", "long", "blank"],
)
def test_void_with_a_bad_reason_leaves_the_record_standing(secretary, meeting, reason):
    before = row_counts()
    response = secretary.post(reverse("meetings:void", args=[meeting.pk]), {"reason": reason})
    assert_refused(response, before, field="reason")
    meeting.refresh_from_db()
    assert meeting.voided_at is None


def test_a_void_reason_with_markup_is_escaped(secretary, meeting):
    reason = "<img src=x onerror=alert(1)>重复录入"
    response = secretary.post(reverse("meetings:void", args=[meeting.pk]), {"reason": reason})
    assert response.status_code == 302
    assert_shown_escaped(secretary.get(response["Location"]).content.decode(), reason)


@pytest.mark.parametrize(
    "comment",
    [UNSAFE_TEXT["nul"], UNSAFE_TEXT["bell"], "意" * 301, "   "],
    ids=["nul", "bell", "long", "blank"],
)
def test_a_bad_review_comment_leaves_the_record_as_it_was(client, personas, meeting, comment):
    client.force_login(personas[Role.INSTRUCTOR])
    before = row_counts()
    url = reverse("meetings:review", args=[meeting.pk])
    response = client.post(url, {"decision": "returned", "comment": comment}, follow=True)
    assert_refused(response, before)
    assert "请选择审核结果" not in response.content.decode()  # the message names the real problem
    meeting.refresh_from_db()
    assert meeting.review_state == "submitted" and meeting.review_comment == ""


def test_a_review_comment_with_markup_is_escaped_where_the_secretary_reads_it(client, personas, meeting):
    client.force_login(personas[Role.INSTRUCTOR])
    comment = "<script>alert('退回')</script>请补充记录"
    client.post(reverse("meetings:review", args=[meeting.pk]), {"decision": "returned", "comment": comment})
    client.force_login(personas[Role.SECRETARY])
    assert_shown_escaped(client.get(reverse("meetings:detail", args=[meeting.pk])).content.decode(), comment)
    home = client.get(reverse("home"), follow=True).content.decode()
    assert_shown_escaped(home, comment)


@pytest.mark.parametrize("year", ["99999", "０", "²", "-1", "2026; DROP TABLE x"])
def test_a_year_lock_for_a_year_that_cannot_be_is_refused(office, branch, year):
    before = row_counts()
    response = office.post(reverse("meetings:year_lock", args=[branch.pk]), {"year": year, "locked": "1"})
    assert response.status_code in (302, 400, 404)
    assert row_counts() == before


@pytest.mark.parametrize("text", ["\u200b", "\u200b\u200c\u200d\u2060", "\ufeff \u200e\u200f", "\u202e\u202c"],
                         ids=["zwsp", "joiners", "bom_marks", "embedding"])  # fmt: skip
def test_a_required_field_of_invisible_characters_only_is_refused_as_empty(secretary, branch, text):
    before = row_counts()
    response = post_meeting(secretary, branch, topic=text)
    assert_refused(response, before, field="topic")
    assert "必填" in response.content.decode()
