"""Compliance fixtures: a branch with a committee, and meetings held through the service."""

import uuid
from datetime import date, datetime, time

import pytest
from django.utils import timezone

from branches import services as branch_services
from meetings import services as meeting_services
from members.idcard import check_character
from tests.conftest import make_member


def idn(serial):
    body = f"32010219800722{serial:03d}"
    return body + check_character(body)


@pytest.fixture
def branch(tree):
    """甲社区第一党支部 (founded 2010) with 4 full members in 第一党小组 and a full committee."""
    people = [make_member(tree.a1, tree.g1, idn(i), name=f"党员{i}") for i in range(4)]
    branch_services.record_term(
        organisation=tree.a1, elected_on=date(2024, 1, 5),
        positions=[("secretary", "党员0"), ("organisation", "党员1"), ("propaganda", "党员2")],
    )  # fmt: skip
    tree.a1.people = people
    return tree.a1


def hold(branch, types, held_on, *, group=None, entered=None, present=True, **extra):
    expected = meeting_services.attendance_list(
        branch=branch, types=list(types), held_on=held_on, group=group
    )
    attendance = {r.member_id: ("present" if present else "absent", "") for r in expected}
    entered = entered or held_on
    return meeting_services.record_meeting(
        branch=branch, group=group, types=list(types), held_on=held_on, topic="学习", attendance=attendance,
        token=uuid.uuid4().hex, now=timezone.make_aware(datetime.combine(entered, time(20))),
        lecturer=extra.pop("lecturer", "党员0"), **extra,
    )  # fmt: skip
