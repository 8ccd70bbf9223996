"""The daily reminder email: only for subscribers, only their scope, once a day."""

from datetime import date

from django.core import mail
from django.urls import reverse

from branches.models import Role
from compliance import engine, services
from compliance.models import DigestSubscription
from tests.compliance.conftest import idn
from tests.conftest import make_member, make_org

TODAY = date(2026, 12, 1)


def test_subscribers_get_what_is_overdue_in_their_scope_once_a_day(personas, tree):
    make_org(tree.other_township, "乙镇第二党支部", founded_on=date(2020, 1, 1))
    engine.refresh(as_of=TODAY, since=date(2026, 1, 1))
    secretary, office = personas[Role.SECRETARY], personas[Role.TOWNSHIP_ADMIN]
    secretary.email, office.email = "sec@example.cn", ""
    secretary.save(), office.save()
    services.set_digest(user=secretary, enabled=True)
    services.set_digest(user=office, enabled=True)  # no address: nothing to send to
    assert services.send_digests(today=TODAY) == 1
    [message] = mail.outbox
    assert message.to == ["sec@example.cn"] and "待办提醒" in message.subject
    assert tree.a1.name in message.body and "乙镇" not in message.body  # only the secretary's branch
    assert services.send_digests(today=TODAY) == 0  # a rerun the same day sends nothing twice
    services.set_digest(user=secretary, enabled=False)
    assert services.send_digests(today=date(2026, 12, 2)) == 0


def test_subscribing_from_the_work_list(client, personas):
    member = personas[Role.COMMITTEE_MEMBER]
    client.force_login(member)
    page = client.post(reverse("compliance:digest"), {"enabled": "1"}, follow=True).content.decode()
    assert "没有登记电子邮箱" in page
    assert not DigestSubscription.objects.filter(user=member, enabled=True).exists()
    member.email = "wy@example.cn"
    member.save()
    page = client.post(reverse("compliance:digest"), {"enabled": "1"}, follow=True).content.decode()
    assert "已订阅每日提醒邮件" in page and "取消提醒邮件" in page
    assert DigestSubscription.objects.get(user=member).enabled


def test_a_members_own_login_is_sent_to_its_page_and_cannot_subscribe(client, personas, tree):
    """A 党员's login has no branch's flags to act on: the 待办 page says where its own reminders are (its
    page), offers no email, and a subscription posted anyway is refused."""
    login = personas[Role.MEMBER]
    login.email = "zw@example.cn"
    login.save()
    own = make_member(tree.a1, None, idn(5), name="张伟", user=login)
    client.force_login(login)
    response = client.get(reverse("compliance:flags"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "只能查看本人的记录" in page and "我的党员信息" in page
    assert f'href="{reverse("members:detail", args=[own.pk])}"' in page
    assert "订阅每日提醒邮件" not in page and "共 0 条" not in page
    refused = client.post(reverse("compliance:digest"), {"enabled": "1"})
    assert refused.status_code == 403 and "党员本人的账号不能订阅" in refused.content.decode()
    assert not DigestSubscription.objects.filter(user=login).exists()
    # One subscribed before this was refused may still leave it, from the same page.
    services.set_digest(user=login, enabled=True)
    assert "取消提醒邮件" in client.get(reverse("compliance:flags")).content.decode()
    page = client.post(reverse("compliance:digest"), {"enabled": "0"}, follow=True).content.decode()
    assert "已取消每日提醒邮件" in page
    assert not DigestSubscription.objects.get(user=login).enabled


def test_a_member_login_not_yet_on_the_roster_is_told_whom_to_ask(client, personas):
    client.force_login(personas[Role.MEMBER])
    page = client.get(reverse("compliance:flags")).content.decode()
    assert "尚未关联党员名册" in page and "订阅每日提醒邮件" not in page


def test_each_line_of_the_email_names_its_branch_grouped_by_branch(
    personas, tree, django_assert_max_num_queries
):
    """Two branches' 第二党小组 once read as the same line twice: each item is now under its branch's name, as
    the web list names it, with no query per item."""
    from branches.models import OrgLevel
    from compliance.models import Flag

    a3 = make_org(tree.township, "甲镇第三党支部", founded_on=date(2020, 1, 1))
    a3_group = make_org(a3, "第二党小组", OrgLevel.GROUP, founded_on=date(2020, 1, 1))
    message = "第二党小组2025年3月党小组会未召开（应1次，已0次）"
    for n, (branch, group) in enumerate([(tree.a1, tree.g2), (a3, a3_group), (tree.a1, None)]):
        Flag.objects.create(
            key=f"t{n}", rule="group_meeting" if group else "theme_day", state="overdue", branch=branch,
            group=group, message=message if group else f"{branch.name}2025年3月主题党日未召开（应1次，已0次）",
            period_start=date(2025, 3, 1), period_end=date(2025, 3, 31 - n), raised_on=TODAY,
        )  # fmt: skip
    office = personas[Role.TOWNSHIP_ADMIN]
    office.email = "zzy@example.cn"
    office.save()
    services.set_digest(user=office, enabled=True)
    with django_assert_max_num_queries(8):
        assert services.send_digests(today=TODAY) == 1
    body = mail.outbox[0].body
    blocks = [block.splitlines() for block in body.split("\n\n") if block.endswith("）") or "：\n" in block]
    # Each branch's items in the web list's order (the earliest due first); the branch of the most urgent
    # item first (a1's 主题党日, due 29 March), then a3 (30 March) before a1's group item (31 March).
    assert blocks == [
        ["甲社区第一党支部：", "  【逾期未完成】甲社区第一党支部2025年3月主题党日未召开（应1次，已0次）",
         f"  【逾期未完成】{message}"],
        ["甲镇第三党支部：", f"  【逾期未完成】{message}"],
    ]  # fmt: skip


def test_opening_the_subscription_address_goes_to_the_work_list_and_changes_nothing(client, personas):
    """After a session expired while subscribing, the login page sends the user back to /todo/digest/ by
    GET: they land on the list with the button, not on an English “HTTP ERROR 405”."""
    member = personas[Role.COMMITTEE_MEMBER]
    member.email = "wy@example.cn"
    member.save()
    url = reverse("compliance:digest")
    login = client.get(url)
    assert login.status_code == 302 and login.url.startswith(reverse("login"))
    response = client.post(
        login.url, {"username": member.username, "password": "pw-Testing-123"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("compliance:flags")
    assert response.status_code == 200 and "订阅每日提醒邮件" in response.content.decode()
    assert client.get(url, {"enabled": "1"}).url == reverse("compliance:flags")
    assert not DigestSubscription.objects.filter(user=member).exists()
