"""Who sees which flags: a 党小组组长 those of the group's members, a member on their own page only what they can act on."""

from datetime import date

import pytest
from django.urls import reverse

from branches.models import Role
from compliance.models import Flag
from tests.compliance.conftest import idn
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def _flag(member, rule, message, state="overdue"):
    return Flag.objects.create(key=f"{rule}:p{member.pk}", rule=rule, state=state, branch=member.branch,
                               member=member, message=f"{member.name}：{message}", raised_on=date(2026, 11, 1))  # fmt: skip


def test_a_group_leader_sees_the_flags_of_the_groups_members_and_no_others(client, personas, tree):
    ours = make_member(tree.a1, tree.g1, idn(1), name="王建国")
    theirs = make_member(tree.a1, tree.g2, idn(2), name="李四")
    away = _flag(ours, "mobile_member", "外出满6个月，应转移组织关系或保持经常联系")
    _flag(theirs, "dues_arrears", "连续3个月未交纳党费")
    client.force_login(personas[Role.GROUP_LEADER])
    listed = list(client.get(reverse("compliance:flags")).context["page"])
    assert listed == [away]
    badge = client.get(reverse("compliance:flags")).content.decode()
    assert "外出满6个月" in badge and "李四" not in badge


def test_a_member_on_their_own_page_sees_what_they_can_act_on_not_the_branchs_instructions(
    client, personas, tree
):
    member = make_member(tree.a1, tree.g1, idn(3), name="张伟", user=personas[Role.MEMBER])
    _flag(member, "lost_contact", "失联满6个月，应按规定停止其党籍")
    _flag(member, "dues_arrears", "连续3个月未交纳党费")
    url = reverse("members:detail", args=[member.pk])
    client.force_login(personas[Role.MEMBER])
    own = client.get(url).content.decode()
    assert "连续3个月未交纳党费" in own and "停止其党籍" not in own
    client.force_login(personas[Role.SECRETARY])
    branch_view = client.get(url).content.decode()
    assert "连续3个月未交纳党费" in branch_view and "停止其党籍" in branch_view


def test_a_group_leader_does_not_see_a_members_flags_another_branch_holds(client, personas, tree):
    """A member moved into the group keeps the old branch's follow-up with that branch, unseen by this
    branch's secretary, and so by the group's leader."""
    mover = make_member(tree.a2, None, idn(4), name="调入党员")
    held_there = _flag(mover, "review_followup", "民主评议不合格，应作出组织处置")
    mover.branch, mover.group = tree.a1, tree.g1
    mover.save()
    ours = _flag(mover, "thought_report", "2026年上半年未交思想汇报")
    Flag.objects.filter(pk=ours.pk).update(branch=tree.a1)
    for role in (Role.SECRETARY, Role.GROUP_LEADER):
        client.force_login(personas[role])
        listed = list(client.get(reverse("compliance:flags"), {"resolved": "1"}).context["page"])
        assert held_there not in listed and ours.pk in {f.pk for f in listed}
