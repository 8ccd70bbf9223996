"""Compliance fixtures: a branch with a committee, and meetings held through the service."""

import uuid
from datetime import date, datetime, time

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


def absent_from_theme_days(branch, people, months):
    """A 主题党日 on the 20th of each month of 2026, the people absent without leave, everyone else there."""
    absent = {person.pk for person in people}
    for month in months:
        expected = meeting_services.attendance_list(
            branch=branch, types=["theme_day"], held_on=date(2026, month, 20)
        )
        attendance = {r.member_id: ("absent" if r.member_id in absent else "present", "") for r in expected}
        meeting_services.record_meeting(branch=branch, types=["theme_day"], held_on=date(2026, month, 20), topic="x",
                                        attendance=attendance, token=uuid.uuid4().hex,
                                        now=timezone.make_aware(datetime(2026, month, 20, 20)))  # fmt: skip
