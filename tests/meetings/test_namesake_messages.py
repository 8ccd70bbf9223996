"""The attendance problems a refused meeting lists name a namesake as the attendance grid does."""

import uuid
from datetime import date

import pytest
from django.core.exceptions import ValidationError

from meetings import services
from tests.compliance.conftest import idn
from tests.conftest import make_member

HELD_ON = date(2026, 11, 20)


def test_leave_and_missing_attendance_messages_say_which_namesake(tree, branch):
    first = make_member(branch, tree.g1, idn(81), name="谢伟")
    second = make_member(branch, tree.g2, idn(82), name="谢伟")
    expected = services.attendance_list(branch=branch, types=["theme_day"], held_on=HELD_ON)
    attendance = {row.member_id: ("present", "") for row in expected}
    attendance[first.pk] = ("leave", "")  # on leave with no reason
    del attendance[second.pk]  # no status chosen
    with pytest.raises(ValidationError) as refused:
        services.record_meeting(branch=branch, types=["theme_day"], held_on=HELD_ON, topic="学习",
                                attendance=attendance, token=uuid.uuid4().hex)  # fmt: skip
    problems = refused.value.message_dict["attendance"]
    assert f"谢伟（{tree.g1.name}）请假，请填写请假事由。" in problems
    assert f"请为每位应到人员选择出勤情况：谢伟（{tree.g2.name}）" in problems
