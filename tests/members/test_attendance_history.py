"""参加组织生活 on the member's page: the attendance the page (and the member's 待办 page) promises."""

import uuid
from datetime import date, datetime, time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from branches.models import Role
from meetings import services as meeting_services
from tests.conftest import make_member
from tests.members.conftest import WALKTHROUGH_DAY
from tests.members.test_views import id_number

TODAY = WALKTHROUGH_DAY


def hold(branch, member, status, held_on, *, types=("theme_day",), group=None, topic="学习讨论", reason=""):
    """A meeting whose only 应到 is `member` (the branch in these tests has no one else)."""
    return meeting_services.record_meeting(
        branch=branch, group=group, types=list(types), held_on=held_on, topic=topic, token=uuid.uuid4().hex,
        attendance={member.pk: (status, reason)}, lecturer="书记",
        now=timezone.make_aware(datetime.combine(held_on, time(20))),
    )  # fmt: skip


@pytest.fixture
def member(tree):
    return make_member(tree.a1, tree.g1, id_number(60), name="张伟")


def test_the_member_page_lists_recent_attendance_newest_first(client, personas, tree, member, today):
    hold(tree.a1, member, "absent", date(2025, 11, 28), topic="一年多以前")
    hold(
        tree.a1,
        member,
        "present",
        date(2026, 3, 27),
        types=("theme_day", "party_lecture"),
        topic="三月主题党日",
    )
    hold(tree.a1, member, "leave", date(2026, 9, 25), topic="九月主题党日", reason="住院治疗")
    hold(tree.a1, member, "absent", date(2026, 10, 30), topic="十月主题党日")
    hold(
        tree.a1, member, "away", date(2026, 11, 12), group=tree.g1, types=("group_meeting",), topic="小组学习"
    )
    voided = hold(tree.a1, member, "absent", date(2026, 11, 27), topic="录错的会议")
    meeting_services.void_meeting(meeting=voided, reason="重复录入")
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("members:detail", args=[member.pk])).content.decode()
    section = page[page.index('id="attendance"') : page.index(">经历<")]
    assert "近12个月共 4 次：出席 1 · 请假 1 · 缺席 1 · 外出 1" in section
    topics = ["小组学习", "十月主题党日", "九月主题党日", "三月主题党日"]
    assert [section.index(t) for t in topics] == sorted(section.index(t) for t in topics)
    assert "一年多以前" not in section and "录错的会议" not in section
    assert "（请假事由：住院治疗）" in section
    assert "主题党日</span>" in section and "党课</span>" in section and "党小组会</span>" in section
    for status in ("出席", "请假", "缺席", "外出"):
        assert f">{status}</span>" in section


def test_meetings_are_linked_only_for_those_who_may_open_them(client, personas, tree, member, today):
    branch_meeting = hold(tree.a1, member, "present", date(2026, 10, 30), topic="支部主题党日")
    group_meeting = hold(tree.a1, member, "present", date(2026, 11, 12), group=tree.g1,
                         types=("group_meeting",), topic="小组学习")  # fmt: skip
    member.user = personas[Role.MEMBER]
    member.save()
    links = {m: f'href="{reverse("meetings:detail", args=[m.pk])}"' for m in (branch_meeting, group_meeting)}
    url = reverse("members:detail", args=[member.pk])

    def page_as(role):
        client.force_login(personas[role])
        return client.get(url).content.decode()

    secretary = page_as(Role.SECRETARY)
    assert links[branch_meeting] in secretary and links[group_meeting] in secretary
    leader = page_as(Role.GROUP_LEADER)  # their group's meeting, not the branch's
    assert "支部主题党日" in leader and links[branch_meeting] not in leader and links[group_meeting] in leader
    own = page_as(Role.MEMBER)  # their own attendance, but no meeting records
    assert "支部主题党日" in own and "小组学习" in own
    assert "/meetings/" not in own


def test_a_member_never_sees_anyone_elses_attendance(client, personas, tree, member, today):
    make_member(tree.a1, None, id_number(61), name="本人", user=personas[Role.MEMBER])
    client.force_login(personas[Role.MEMBER])
    assert client.get(reverse("members:detail", args=[member.pk])).status_code == 404


def test_no_attendance_says_so(client, personas, member, today):
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert "近12个月没有参加组织生活的记录（会议登记出勤后显示在这里）。" in page


def test_the_member_page_reads_a_constant_number_of_queries_however_many_meetings(
    client, personas, tree, member, today
):
    hold(tree.a1, member, "present", date(2026, 1, 9))
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:detail", args=[member.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for day in range(1, 31):  # more than a page: the rest a page further on
        hold(tree.a1, member, "absent" if day % 3 else "present", date(2026, 11, day), group=tree.g1,
             types=("group_meeting",))  # fmt: skip
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(many) == len(few)
    page = response.content.decode()
    assert "近12个月共 31 次" in page and "第 1 / 2 页" in page
    older = client.get(url, {"attendance_page": 2}).content.decode()
    assert "2026-01-09" in older and "2026-01-09" not in page
