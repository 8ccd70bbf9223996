"""The 待办 list in the order of urgency the page states: overdue, then due soon, then warnings; each by the
date the thing was due, earliest first, undated ones last; branches interleaved by that date."""

from datetime import date

import pytest
from django.urls import reverse

from branches.models import Role
from compliance.models import Flag
from tests.compliance.conftest import idn
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def _flag(branch, message, state, period_end=None, **extra):
    return Flag.objects.create(
        key=message, rule=extra.pop("rule", "theme_day"), state=state, branch=branch, message=message,
        period_start=period_end and period_end.replace(day=1), period_end=period_end,
        raised_on=date(2026, 12, 1), **extra,
    )  # fmt: skip


@pytest.fixture
def mixed(tree):
    """Flags of A1 and A2 created out of order, the way the engine writes them (by rule, by branch)."""
    member = make_member(tree.a1, tree.g1, idn(1), name="周宇鹏")
    _flag(tree.a1, "关注：补录", "warning", date(2026, 11, 27), rule="backfill")
    _flag(
        tree.a1,
        "即将到期：2026年度学习培训",
        "due_soon",
        date(2026, 12, 31),
        rule="training_hours",
        member=member,
    )
    _flag(tree.a1, "逾期：第一党小组2026年3月党小组会", "overdue", date(2026, 3, 31), rule="group_meeting",
          group=tree.g1)  # fmt: skip
    _flag(tree.a1, "逾期：党费欠缴（无日期）", "overdue", rule="dues_arrears", member=member)
    _flag(tree.a1, "逾期：2025年9月主题党日", "overdue", date(2025, 9, 30))
    _flag(tree.a2, "逾期：甲村2025年7月主题党日", "overdue", date(2025, 7, 31))
    _flag(tree.a1, "即将到期：委员会届满", "due_soon", date(2026, 12, 22), rule="committee_term")
    _flag(tree.a1, "逾期：2025年5月支部委员会会议", "overdue", date(2025, 5, 31), rule="committee_meeting")


def _listed(client, **params):
    return [flag.message for flag in client.get(reverse("compliance:flags"), params).context["page"]]


def test_the_secretary_reads_the_longest_overdue_first_then_what_falls_due_next(client, personas, mixed):
    client.force_login(personas[Role.SECRETARY])
    assert _listed(client) == [
        "逾期：2025年5月支部委员会会议",
        "逾期：2025年9月主题党日",
        "逾期：第一党小组2026年3月党小组会",
        "逾期：党费欠缴（无日期）",
        "即将到期：委员会届满",
        "即将到期：2026年度学习培训",
        "关注：补录",
    ]
    assert "同类按应完成日期从早到晚" in client.get(reverse("compliance:flags")).content.decode()


def test_the_office_reads_every_branch_by_date_not_branch_by_branch(client, personas, mixed):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    assert _listed(client, state="overdue") == [
        "逾期：2025年5月支部委员会会议",
        "逾期：甲村2025年7月主题党日",
        "逾期：2025年9月主题党日",
        "逾期：第一党小组2026年3月党小组会",
        "逾期：党费欠缴（无日期）",
    ]
