"""The 待办 list's links: each opens for the one reading it. A branch's name links to the branch only where
its page would open (a 党小组长 sees their group, not its branch), and 记录 shows only where the meeting form
would take the record (a read-only 党委领导 has none); neither costs a query a row."""

import re
from datetime import date

import pytest
from django.urls import reverse

from branches.models import Role
from compliance.models import Flag
from tests.compliance.conftest import idn
from tests.conftest import make_member, page_queries

pytestmark = pytest.mark.django_db

DUE = {"state": "due"}


def _missing(branch, rule, month, *, group=None):
    """An overdue missing-meeting flag for a month of 2026."""
    start, end = date(2026, month, 1), date(2026, month, 28)
    return Flag.objects.create(
        key=f"{rule}:{branch.pk}:{group.pk if group else '-'}:{month}", rule=rule, state="overdue",
        branch=branch, group=group, period_start=start, period_end=end, raised_on=date(2026, 12, 1),
        message=f"{(group or branch).name}2026年{month}月{'党小组会' if group else '主题党日'}未召开",
    )  # fmt: skip


@pytest.fixture
def flags(tree):
    """A1's group g1 missed a 党小组会, A1 itself a 主题党日, and a g1 member owes dues."""
    member = make_member(tree.a1, tree.g1, idn(1), name="王建国")
    Flag.objects.create(key=f"dues_arrears:p{member.pk}", rule="dues_arrears", state="overdue", branch=tree.a1,
                        member=member, message="王建国：连续3个月未交纳党费", raised_on=date(2026, 12, 1))  # fmt: skip
    return _missing(tree.a1, "group_meeting", 9, group=tree.g1), _missing(tree.a1, "theme_day", 10)


def _list_html(client):
    page = client.get(reverse("compliance:flags"), DUE).content.decode()
    return page.split('<div class="list-group">')[1].split("</main>")[0]


def _hrefs(html):
    return [href.replace("&amp;", "&") for href in re.findall(r'href="([^"]+)"', html)]


def _record_links(html):
    return [href for href in _hrefs(html) if href.startswith(reverse("meetings:create"))]


# A 党员's own login has no list (it is sent to its own page: test_digest).
@pytest.mark.parametrize("role", [*(role for role in Role if role != Role.MEMBER), "superuser"])
def test_every_link_on_the_work_list_opens_for_the_one_reading_it(client, personas, flags, role):
    client.force_login(personas[role])
    for href in _hrefs(_list_html(client)):
        assert client.get(href).status_code == 200, href


def test_a_group_leader_reads_the_branchs_name_without_a_dead_link_and_records_the_groups_meeting(
    client, personas, tree, flags
):
    client.force_login(personas[Role.GROUP_LEADER])
    html = _list_html(client)
    assert "甲社区第一党支部" in html and "第一党小组2026年9月党小组会未召开" in html
    assert reverse("branches:detail", args=[tree.a1.pk]) not in html
    assert _record_links(html) == [f"{reverse('meetings:create')}?group={tree.g1.pk}&period_end=2026-09-28"]


def test_the_read_only_leader_opens_the_branch_but_gets_no_record_button(client, personas, tree, flags):
    client.force_login(personas[Role.TOWNSHIP_LEADER])
    html = _list_html(client)
    assert reverse("branches:detail", args=[tree.a1.pk]) in html
    assert "党小组会未召开" in html and "主题党日未召开" in html
    assert _record_links(html) == []
    assert ">记录</a>" not in html


def test_the_secretary_records_both_the_groups_and_the_branchs_meetings(client, personas, tree, flags):
    client.force_login(personas[Role.SECRETARY])
    assert sorted(_record_links(_list_html(client))) == sorted([
        f"{reverse('meetings:create')}?group={tree.g1.pk}&period_end=2026-09-28",
        f"{reverse('meetings:create')}?branch={tree.a1.pk}&type=theme_day&period_end=2026-10-28",
    ])  # fmt: skip


def _queries(client):
    return page_queries(client, reverse("compliance:flags"), DUE)


@pytest.mark.parametrize("role", [Role.GROUP_LEADER, Role.TOWNSHIP_LEADER, Role.SECRETARY])
def test_deciding_the_links_costs_no_query_a_row(client, personas, tree, flags, role):
    client.force_login(personas[role])
    few = _queries(client)
    for month in range(1, 9):
        _missing(tree.a1, "group_meeting", month, group=tree.g1)
        _missing(tree.a1, "group_meeting", month, group=tree.g2)
        _missing(tree.a1, "theme_day", month)
    assert _queries(client) == few
