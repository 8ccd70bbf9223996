"""Compliance fixtures: a branch with a committee, and meetings held through the service."""

import uuid
from datetime import datetime, time

from django.utils import timezone

from meetings import services as meeting_services
from members.idcard import check_character


def idn(serial):
    body = f"32010219800722{serial:03d}"
    return body + check_character(body)


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
