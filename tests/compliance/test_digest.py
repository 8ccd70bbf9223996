"""The daily reminder email: only for subscribers, only their scope, once a day."""

from datetime import date

from django.core import mail
from django.urls import reverse

from branches.models import Role
from compliance import engine, services
from compliance.models import DigestSubscription
from tests.conftest import make_org

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
