"""账号管理: the township office opens accounts for its subtree, gives and takes roles, resets passwords."""

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from branches.models import Role, RoleAssignment
from tests.conftest import make_user, page_queries

User = get_user_model()


@pytest.fixture
def office(client, personas):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    return client


def open_account(client, tree, **fields):
    data = {
        "username": "zhangsan",
        "full_name": "张三",
        "role": "secretary",
        "organisation": tree.a2.pk,
        **fields,
    }
    return client.post(reverse("branches:account_create"), data)


def logged_in(username, password):
    """A browser that logged in through the login page with this password (None if refused)."""
    browser = Client()
    response = browser.post(reverse("login"), {"username": username, "password": password})
    return browser if response.status_code == 302 else None


def settled_in(username, temporary):
    """A browser that logged in with a temporary password and replaced it, as the login then requires."""
    browser = logged_in(username, temporary)
    own = f"{username}-Qingxi-2026!"
    browser.post(
        reverse("password_change"), {"old_password": temporary, "new_password1": own, "new_password2": own}
    )
    return browser


def shown_password(client, account):
    page = client.get(reverse("branches:account_detail", args=[account.pk])).content.decode()
    marker = '<code class="fs-5 user-select-all">'
    return page.split(marker)[1].split("</code>")[0] if marker in page else None


def test_the_office_opens_an_account_and_its_password_is_shown_once(office, tree, personas):
    response = open_account(office, tree)
    account = User.objects.get(username="zhangsan")
    assert response.status_code == 302 and response["Location"] == reverse(
        "branches:account_detail", args=[account.pk]
    )
    assert account.get_full_name() == "张三"
    assert [(a.organisation, a.role) for a in account.role_assignments.all()] == [(tree.a2, Role.SECRETARY)]
    password = shown_password(office, account)
    assert password and len(password) == 12
    assert shown_password(office, account) is None  # once only
    assert logged_in("zhangsan", password)
    granted = RoleAssignment.history.get(user_id=account.pk)
    assert granted.history_type == "+" and granted.history_user == personas[Role.TOWNSHIP_ADMIN]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "secretary"}, "用户名“secretary”已被使用"),  # a persona's, whatever the case
        ({"username": "SECRETARY"}, "用户名“SECRETARY”已被使用"),
        ({"username": "张 三"}, "请输入合法的用户名"),
        ({"role": "secretary", "organisation": "township"}, "支部书记只能授予在"),
        ({"role": "group_leader", "organisation": "a2"}, "党小组长只能授予在党小组上"),
        ({"organisation": "b1"}, "选择一个有效的选项"),  # another township's branch
        ({"role": "member"}, "选择一个有效的选项"),  # a 党员's account goes with the roster
        ({"full_name": ""}, "这个字段是必填项"),
    ],
)
def test_bad_input_is_explained_and_opens_nothing(office, tree, fields, message):
    if isinstance(fields.get("organisation"), str):
        fields["organisation"] = getattr(tree, fields["organisation"]).pk
    before = User.objects.count()
    response = open_account(office, tree, **fields)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert User.objects.count() == before


def test_a_double_submit_opens_one_account(office, tree):
    assert open_account(office, tree).status_code == 302
    again = open_account(office, tree)
    assert again.status_code == 200 and "已被使用" in again.content.decode()
    assert User.objects.filter(username="zhangsan").count() == 1


def test_roles_are_given_and_taken_back_but_one_is_always_kept(office, tree):
    open_account(office, tree)
    account = User.objects.get(username="zhangsan")
    url = reverse("branches:account_detail", args=[account.pk])
    assert office.post(url, {"role": "group_leader", "organisation": tree.g1.pk}).status_code == 302
    twice = office.post(url, {"role": "group_leader", "organisation": tree.g1.pk})
    assert "该账号已有甲社区第一党支部 · 第一党小组的党小组长角色" in twice.content.decode()
    secretary, leader = account.role_assignments.order_by("pk")
    office.post(reverse("branches:account_revoke", args=[account.pk, secretary.pk]))
    assert list(account.role_assignments.all()) == [leader]
    refused = office.post(reverse("branches:account_revoke", args=[account.pk, leader.pk]), follow=True)
    assert "这是该账号唯一的角色" in refused.content.decode()
    assert list(account.role_assignments.all()) == [leader]
    history = " ".join(office.get(url).content.decode().split())
    assert (
        "收回 甲村党支部的支部书记（" in history
        and "授予 甲社区第一党支部 · 第一党小组的党小组长（" in history
    )


def test_a_reset_password_replaces_the_old_one_at_once(office, tree):
    open_account(office, tree)
    account = User.objects.get(username="zhangsan")
    first = shown_password(office, account)
    member_client = logged_in("zhangsan", first)
    assert member_client
    office.post(reverse("branches:account_password", args=[account.pk]))
    second = shown_password(office, account)
    assert second and second != first
    assert not logged_in("zhangsan", first)
    assert logged_in("zhangsan", second)
    assert member_client.get(reverse("branches:tree"))["Location"].startswith(reverse("login"))  # logged out


def test_a_stopped_account_cannot_log_in_and_is_logged_out(office, tree):
    open_account(office, tree)
    account = User.objects.get(username="zhangsan")
    password = shown_password(office, account)
    session = logged_in("zhangsan", password)
    assert session
    office.post(reverse("branches:account_active", args=[account.pk]), {"active": "0"})
    assert session.get(reverse("branches:tree"))["Location"].startswith(reverse("login"))
    assert not logged_in("zhangsan", password)
    assert account.role_assignments.exists()  # the roles stay, for when it comes back
    office.post(reverse("branches:account_active", args=[account.pk]), {"active": "1"})
    assert logged_in("zhangsan", password)


def test_a_stopped_account_is_told_why_only_with_the_right_password(office, tree):
    open_account(office, tree)
    account = User.objects.get(username="zhangsan")
    password = shown_password(office, account)
    office.post(reverse("branches:account_active", args=[account.pk]), {"active": "0"})
    browser = Client()
    refused = browser.post(reverse("login"), {"username": "zhangsan", "password": password})
    assert refused.status_code == 200 and "该账号已停用，请联系党委管理员。" in refused.content.decode()
    wrong = browser.post(reverse("login"), {"username": "zhangsan", "password": "not-the-password"})
    assert "该账号已停用" not in wrong.content.decode()
    assert "请输入一个正确的用户名和密码" in wrong.content.decode()  # as for a name that does not exist
    nobody = browser.post(reverse("login"), {"username": "nobody", "password": password})
    assert "请输入一个正确的用户名和密码" in nobody.content.decode()
    assert browser.get(reverse("branches:tree"))["Location"].startswith(reverse("login"))


def test_the_office_cannot_give_an_account_its_own_role_on_its_own_committee(office, tree, personas):
    """The account would become a colleague's, which no office manages: it would vanish from 账号管理."""
    open_account(office, tree)
    account = User.objects.get(username="zhangsan")
    url = reverse("branches:account_detail", args=[account.pk])
    refused = office.post(url, {"role": "township_admin", "organisation": tree.township.pk})
    assert refused.status_code == 200
    assert "不能在“甲镇党委”上授予与您同级的党委管理员角色" in refused.content.decode()
    assert 'value="township_admin" selected' in refused.content.decode()  # the input is kept
    assert not account.role_assignments.filter(role=Role.TOWNSHIP_ADMIN).exists()
    assert "zhangsan" in _usernames(office.get(reverse("branches:accounts")).content.decode())
    # Below the office's own 党委 it stays the office's to manage.
    assert office.post(url, {"role": "township_admin", "organisation": tree.community.pk}).status_code == 302
    assert office.get(url).status_code == 200
    opened = open_account(office, tree, username="lisi", role="township_admin", organisation=tree.township.pk)
    assert "与您同级的党委管理员角色" in opened.content.decode()
    assert not User.objects.filter(username="lisi").exists()


def test_the_temporary_password_cannot_be_changed_to_itself(office, tree):
    open_account(office, tree)
    temporary = shown_password(office, User.objects.get(username="zhangsan"))
    browser = logged_in("zhangsan", temporary)
    same = browser.post(
        reverse("password_change"),
        {"old_password": temporary, "new_password1": temporary, "new_password2": temporary},
    )
    assert same.status_code == 200 and "新密码不能与原密码相同。" in same.content.decode()
    assert browser.get(reverse("branches:tree"))["Location"] == reverse("password_change")  # still held


def test_the_office_manages_only_accounts_wholly_in_its_subtree(office, tree, personas):
    elsewhere = make_user("lisi", Role.SECRETARY, tree.b1)
    both = make_user("wangwu", Role.SECRETARY, tree.a2)
    RoleAssignment.objects.create(user=both, organisation=tree.b1, role=Role.INSTRUCTOR)
    listed = office.get(reverse("branches:accounts")).content.decode()
    for account in (elsewhere, both, personas["superuser"], personas[Role.TOWNSHIP_ADMIN]):
        assert account.username not in _usernames(listed)
        assert office.get(reverse("branches:account_detail", args=[account.pk])).status_code == 404
        assert office.post(reverse("branches:account_password", args=[account.pk])).status_code == 404
    assert _usernames(listed) == {
        "township_leader", "instructor", "secretary", "committee_member", "group_leader", "member",
    }  # fmt: skip


def _usernames(page):
    return {
        line.split("</span>")[0].strip()
        for line in page.split('<span class="small text-body-secondary">')[1:]
    }


def test_the_list_searches_and_its_queries_do_not_grow_with_the_accounts(office, tree):
    few = page_queries(office, reverse("branches:accounts"))
    for index in range(25):
        make_user(f"branch{index}", Role.COMMITTEE_MEMBER, tree.a2)
    assert page_queries(office, reverse("branches:accounts")) == few
    found = office.get(reverse("branches:accounts"), {"q": "branch1"}).content.decode()
    assert _usernames(found) == {"branch1", *(f"branch{n}" for n in range(10, 20))}
    empty = office.get(reverse("branches:accounts"), {"q": "没有此人"}).content.decode()
    assert "没有找到与“没有此人”相符的账号" in empty


def test_only_the_office_sees_the_menu(client, personas):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    assert "账号管理" in client.get(reverse("branches:tree")).content.decode()
    client.force_login(personas[Role.SECRETARY])
    assert "账号管理" not in client.get(reverse("branches:tree")).content.decode()


def test_the_office_registers_an_email_and_the_account_can_then_subscribe(office, tree, personas):
    secretary = personas[Role.SECRETARY]
    url = reverse("branches:account_email", args=[secretary.pk])
    bad = office.post(url, {"email": "不是邮箱"}, follow=True)
    assert "输入一个有效的 Email 地址" in bad.content.decode()
    User.objects.filter(pk=secretary.pk, email="").get()  # unchanged
    office.post(url, {"email": "shuji@example.cn"})
    secretary.refresh_from_db()
    assert secretary.email == "shuji@example.cn"
    own = Client()
    own.force_login(secretary)
    own.post(reverse("compliance:digest"), {"enabled": "1"})
    assert secretary.digest.enabled
    open_account(office, tree, username="lisi", email="lisi@example.cn")
    assert User.objects.get(username="lisi").email == "lisi@example.cn"


def test_no_account_reaching_beyond_the_subtree_or_a_colleagues_is_managed(office, tree, personas):
    from tests.conftest import make_member

    # A secretary here whose 党员 record is in another township: its login reads that record.
    roster_elsewhere = make_user("zhaoliu", Role.SECRETARY, tree.a2)
    make_member(tree.b1, None, "440106195109195322", name="赵六", user=roster_elsewhere)
    roster_here = make_user("sunqi", Role.SECRETARY, tree.a2)
    make_member(tree.a2, None, "320102197704166821", name="孙七", user=roster_here)
    colleague = make_user("colleague", Role.TOWNSHIP_ADMIN, tree.township)
    below = make_user("community_admin", Role.TOWNSHIP_ADMIN, tree.community)
    for account in (roster_elsewhere, colleague):
        assert office.post(reverse("branches:account_password", args=[account.pk])).status_code == 404
        assert (
            office.post(reverse("branches:account_active", args=[account.pk]), {"active": "0"}).status_code
            == 404
        )
    for account in (roster_here, below):
        assert office.get(reverse("branches:account_detail", args=[account.pk])).status_code == 200


def test_a_username_differing_only_by_width_or_case_is_taken(office, tree):
    response = open_account(office, tree, username="ＳＥＣＲＥＴＡＲＹ")
    assert response.status_code == 200 and "已被使用" in response.content.decode()
    assert not User.objects.filter(username="SECRETARY").exists()


def test_what_the_office_did_to_an_account_is_kept_with_who_did_it(office, tree, personas):
    open_account(office, tree)
    account = User.objects.get(username="zhangsan")
    office.post(reverse("branches:account_password", args=[account.pk]))
    office.post(reverse("branches:account_email", args=[account.pk]), {"email": "zs@example.cn"})
    office.post(reverse("branches:account_email", args=[account.pk]), {"email": "zs@example.cn"})  # unchanged
    office.post(reverse("branches:account_active", args=[account.pk]), {"active": "0"})
    office.post(reverse("branches:account_active", args=[account.pk]), {"active": "0"})  # a double submit
    page = " ".join(
        office.get(reverse("branches:account_detail", args=[account.pk])).content.decode().split()
    )
    who = f"（{personas[Role.TOWNSHIP_ADMIN].username}）"
    for what in (
        "开通账号",
        "授予 甲村党支部的支部书记",
        "重置密码",
        "登记电子邮箱：zs@example.cn",
        "停用账号",
    ):
        assert f"{what}{who}" in page, what
    kinds = list(account.account_events.order_by("at", "pk").values_list("kind", flat=True))
    assert kinds == ["opened", "password", "email", "stopped"]  # nothing twice for a repeated submit


def test_the_office_opens_a_members_own_login_from_their_page(office, tree, personas):
    from tests.conftest import make_member

    member = make_member(tree.a2, None, "320102197704166821", name="孙七")
    other = make_member(tree.a2, None, "440106195109195322", name="赵六")
    page = office.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert "开通账号" in page
    response = office.post(reverse("members:account", args=[member.pk]), {"username": "sunqi"})
    account = User.objects.get(username="sunqi")
    assert response["Location"] == reverse("branches:account_detail", args=[account.pk])
    member.refresh_from_db()
    assert member.user == account and account.get_full_name() == "孙七"
    assert [(a.organisation, a.role) for a in account.role_assignments.all()] == [(tree.a2, Role.MEMBER)]
    browser = settled_in("sunqi", shown_password(office, account))
    assert browser.get(reverse("members:detail", args=[member.pk])).status_code == 200
    assert browser.get(reverse("members:detail", args=[other.pk])).status_code == 404
    again = office.post(reverse("members:account", args=[member.pk]), {"username": "sunqi2"}, follow=True)
    assert "该党员已有登录账号" in again.content.decode()
    taken = office.post(reverse("members:account", args=[other.pk]), {"username": "SunQi"}, follow=True)
    assert "用户名“SunQi”已被使用" in taken.content.decode()
    assert User.objects.filter(username__iexact="sunqi").count() == 1


def test_a_secretary_cannot_open_logins(client, personas, tree):
    from tests.conftest import make_member

    member = make_member(tree.a1, None, "320102197704166821", name="孙七")
    client.force_login(personas[Role.SECRETARY])
    assert "开通账号" not in client.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert client.post(reverse("members:account", args=[member.pk]), {"username": "x1"}).status_code == 403
    assert not User.objects.filter(username="x1").exists()


def test_a_members_login_only_for_a_party_member_on_a_live_roster(office, tree):
    from branches.services import create_organisation, dissolve_organisation
    from members.services import transfer_out
    from tests.conftest import make_member

    activist = make_member(tree.a2, None, "320102197704166821", name="孙七", category="activist")
    refused = office.post(reverse("members:account", args=[activist.pk]), {"username": "sunqi"}, follow=True)
    assert "只能为正式党员和预备党员开通党员账号" in refused.content.decode()
    school = create_organisation(
        parent=tree.township,
        name="甲镇小学党支部",
        level="branch",
        kind="school",
        founded_on=date(2010, 1, 1),
    )
    member = make_member(school, None, "440106195109195322", name="赵六")
    # A branch is dissolved once nobody is on its roster; its members are transferred out first.
    transfer_out(member=member, on=date(2026, 6, 30), counterpart="县教育局党委")
    dissolve_organisation(organisation=school, dissolved_on=date(2026, 6, 30), reason="撤并")
    refused = office.post(reverse("members:account", args=[member.pk]), {"username": "zhaoliu"}, follow=True)
    assert "党组织未撤销" in refused.content.decode()
    assert not User.objects.filter(username__in=["sunqi", "zhaoliu"]).exists()


def test_a_temporary_password_must_be_replaced_at_the_next_login(office, tree):
    open_account(office, tree)
    account = User.objects.get(username="zhangsan")
    browser = logged_in("zhangsan", shown_password(office, account))
    sent = browser.get(reverse("branches:tree"))
    assert sent.status_code == 302 and sent["Location"] == reverse("password_change")
    page = browser.get(reverse("password_change")).content.decode()
    assert "您正在使用管理员设置的临时密码" in page
    changed = browser.post(
        reverse("password_change"), {"old_password": "", "new_password1": "x", "new_password2": "x"}
    )
    assert changed.status_code == 200  # refused: the form explains, still held to the change
    assert browser.get(reverse("branches:tree")).status_code == 302
    first = shown_password(office, account)  # None: shown once already
    assert first is None
    own = "Qingxi-Zhen-2026!"
    office.post(reverse("branches:account_password", args=[account.pk]))
    temporary = shown_password(office, account)
    browser = logged_in("zhangsan", temporary)
    done = browser.post(
        reverse("password_change"), {"old_password": temporary, "new_password1": own, "new_password2": own}
    )
    assert done.status_code == 302
    assert browser.get(reverse("branches:tree")).status_code == 200  # free to work
    again = logged_in("zhangsan", own)
    assert again.get(reverse("branches:tree")).status_code == 200  # not asked again
    kinds = list(account.account_events.order_by("at", "pk").values_list("kind", flat=True))
    assert kinds[-1] == "own_password"
    office.post(reverse("branches:account_password", args=[account.pk]))  # the office resets it again
    assert (
        logged_in("zhangsan", shown_password(office, account)).get(reverse("branches:tree")).status_code
        == 302
    )
