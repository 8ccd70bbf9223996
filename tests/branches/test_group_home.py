"""A 党小组长's menu and landing page: every menu entry leads to something of theirs, and the group's page
says whether this month's 党小组会 is done (defects found walking the demo)."""

import re
from calendar import monthrange
from html import unescape

from django.urls import reverse
from django.utils import timezone

from branches.models import Role
from tests.conftest import make_meeting

NAV_LINK = re.compile(r'<a class="nav-link" href="([^"#][^"]*)"')


def _menu(client):
    page = client.get(reverse("home"), follow=True).content.decode()
    menu = page[page.index('id="mainNav"') : page.index("</nav>")]
    return {href.split("?")[0] for href in NAV_LINK.findall(menu)}


def _row(page, rule_name):
    """The 本期事项 item of the rule."""
    [row] = [item.split("</li>")[0] for item in page.split('<li class="list-group-item">')
             if f'<span class="fw-semibold">{rule_name}</span>' in item]  # fmt: skip
    return row


def test_a_group_leaders_menu_holds_only_what_leads_to_their_group(client, personas, tree):
    """Once it offered 民主评议, which opened “您的权限范围内没有党支部” with zeros."""
    client.force_login(personas[Role.GROUP_LEADER])
    reviews = reverse("reviews:overview")
    assert "您的权限范围内没有党支部" in client.get(reviews).content.decode()  # what the entry opened
    menu = _menu(client)
    assert menu == {
        reverse("home"),
        reverse("branches:tree"),
        reverse("compliance:flags"),
        reverse("meetings:list"),
        reverse("members:list"),
    }
    assert "第一党小组" in client.get(reverse("branches:tree")).content.decode()
    for href in menu:
        assert client.get(href, follow=True).status_code == 200


def test_a_members_menu_holds_only_the_home(client, personas):
    client.force_login(personas[Role.MEMBER])
    assert _menu(client) == {reverse("home")}


def test_branch_and_office_roles_keep_the_overview_and_reviews(client, personas):
    for role in (Role.SECRETARY, Role.COMMITTEE_MEMBER, Role.INSTRUCTOR, Role.TOWNSHIP_ADMIN, "superuser"):
        client.force_login(personas[role])
        menu = _menu(client)
        assert {reverse("reviews:overview"), reverse("dashboards:township")} <= menu, role


def test_a_group_leaders_landing_page_says_whether_this_months_group_meeting_is_done(
    client, personas, branch, tree
):
    """Once the group's page never said whether this month's 党小组会 was held."""
    today = timezone.localdate()
    month_end = today.replace(day=monthrange(today.year, today.month)[1])
    client.force_login(personas[Role.GROUP_LEADER])
    landing = client.get(reverse("home"))
    assert landing["Location"] == reverse("branches:detail", args=[tree.g1.pk])
    page = unescape(client.get(landing["Location"]).content.decode())
    assert "本期事项" in page
    row = _row(page, "党小组会")
    assert f"{today.year}年{today.month}月" in row and "已 0/1" in row and "✓" not in row
    assert tree.g1.name not in row  # the page is headed with it; the branch home's row names it
    client.force_login(personas[Role.SECRETARY])
    home = unescape(client.get(reverse("dashboards:branch", args=[branch.pk])).content.decode())
    assert f"· {tree.g1.name}" in home
    client.force_login(personas[Role.GROUP_LEADER])
    assert "第二党小组" not in page  # the branch's other group is not the leader's
    record = f"{reverse('meetings:create')}?group={tree.g1.pk}&period_end={month_end:%Y-%m-%d}"
    assert f'href="{record}"' in row
    form = client.get(record).content.decode()
    assert re.search(r'value="group_meeting"[^>]*checked', form)

    held = make_meeting(branch, tree.g1, branch.people, held_on=today, topic="学习党章")
    row = _row(unescape(client.get(landing["Location"]).content.decode()), "党小组会")
    assert "✓ 已完成" in row and "已 1/1" in row
    assert f'href="{reverse("meetings:detail", args=[held.pk])}"' in row and record not in row
