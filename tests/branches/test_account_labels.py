"""账号管理 names a 党小组 with its branch: every branch has a 第一党小组, so "第一党小组" alone says nothing.
The choices come in tree order from one query, however many organisations the county has."""

import re

import pytest
from django.urls import reverse

from branches.models import OrgLevel, Role
from tests.conftest import make_org, make_user, page_queries


@pytest.fixture
def office(client, personas):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    return client


def _options(page):
    """The 党组织 dropdown's labels, in the page's order."""
    select = page.split('name="organisation"')[1].split("</select>")[0]
    return [label for _value, label in re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', select)]


def test_the_dropdowns_name_each_group_with_its_branch_in_tree_order(office, personas):
    new_account = office.get(reverse("branches:account_create")).content.decode()
    expected = ["甲镇党委", "甲社区党委", "甲社区第一党支部", "甲社区第一党支部 · 第一党小组",
                "甲社区第一党支部 · 第二党小组", "甲村党支部"]  # fmt: skip
    assert _options(new_account) == expected
    grant = reverse("branches:account_detail", args=[personas[Role.SECRETARY].pk])
    assert _options(office.get(grant).content.decode()) == expected


def test_the_choices_are_one_query_however_many_groups(office, tree):
    few = page_queries(office, reverse("branches:account_create"))
    for i in range(10):
        branch = make_org(tree.township, f"甲镇第{i}村党支部")
        make_org(branch, "第一党小组", OrgLevel.GROUP)
        make_org(branch, "第二党小组", OrgLevel.GROUP)
    assert page_queries(office, reverse("branches:account_create")) == few
    assert "甲镇第9村党支部 · 第二党小组" in office.get(reverse("branches:account_create")).content.decode()


def test_the_list_the_page_and_the_history_name_a_group_role_with_its_branch(office, tree, personas):
    leader = personas[Role.GROUP_LEADER]  # 党小组长 of g1 in the `tree` fixture
    listed = office.get(reverse("branches:accounts")).content.decode()
    assert "甲社区第一党支部 · 第一党小组 · 党小组长" in listed
    page = reverse("branches:account_detail", args=[leader.pk])
    granted = office.post(page, {"role": Role.GROUP_LEADER, "organisation": tree.g2.pk}, follow=True)
    shown = granted.content.decode()
    assert "已授予甲社区第一党支部 · 第二党小组的党小组长角色" in shown
    roles = shown.split('<h2 class="h6">角色</h2>')[1].split("</ul>")[0]
    assert "甲社区第一党支部 · 第一党小组 · " in roles and "甲社区第一党支部 · 第二党小组 · " in roles
    assert "授予 甲社区第一党支部 · 第二党小组的党小组长" in shown.split("变动记录")[1]


def test_a_role_above_the_groups_keeps_its_own_name(office, tree):
    make_user("zhangsan", Role.SECRETARY, tree.a2)
    listed = office.get(reverse("branches:accounts")).content.decode()
    assert "甲村党支部 · 支部书记" in listed
