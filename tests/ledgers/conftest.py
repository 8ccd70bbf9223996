"""A branch with a year of records: members (one named like a formula), meetings, talks, dues, reports."""

from datetime import date
from decimal import Decimal

import pytest

from branches import services as branch_services
from meetings import services as meeting_services
from members import services as member_services
from members.models import ThoughtReport
from tests.compliance.conftest import hold, idn
from tests.conftest import make_member

YEAR = 2026
AS_OF = date(2026, 11, 25)
INJECTION = '=HYPERLINK("http://x","y")'


@pytest.fixture
def ledger_branch(tree):
    people = [make_member(tree.a1, tree.g1, idn(i), name=f"党员{i}") for i in range(4)]
    people.append(make_member(tree.a1, tree.g2, idn(9), name=INJECTION))
    people.append(make_member(tree.a1, None, idn(8), name="积极分子甲", category="activist",
                              applied_on=date(2025, 3, 1), activist_on=date(2025, 6, 1)))  # fmt: skip
    branch_services.record_term(
        organisation=tree.a1, elected_on=date(2024, 1, 5),
        positions=[("secretary", "党员0"), ("organisation", "党员1"), ("propaganda", "党员2")],
    )  # fmt: skip
    hold(tree.a1, ["general_meeting", "theme_day"], date(2026, 1, 30))
    hold(tree.a1, ["party_lecture"], date(2026, 2, 10), lecturer="党员0")
    hold(tree.a1, ["group_meeting"], date(2026, 3, 12), group=tree.g1, present=False)
    hold(tree.a1, ["theme_day"], date(2026, 10, 30))
    hold(tree.a1, ["org_life_meeting", "general_meeting"], date(2026, 1, 15), for_year=2025,
         rectifications=[{"problem": "学习不够", "measure": "每月集中学习", "owner": "党员1",
                          "due_on": date(2026, 6, 30)}])  # fmt: skip
    meeting_services.record_talks(branch=tree.a1, talked_on=date(2026, 4, 2),
                                  pairs=[(people[0], people[1], "谈工作"), (people[0], people[4], "谈思想")],
                                  today=AS_OF)  # fmt: skip
    for month in (1, 2, 3):
        member_services.record_dues_payment(member=people[0], month=date(2026, month, 1),
                                            paid_on=date(2026, month, 20), amount=Decimal("10.00"), today=AS_OF)  # fmt: skip
    ThoughtReport.objects.create(member=people[5], received_on=date(2026, 3, 3), title="第一季度思想汇报")
    tree.a1.people = people
    return tree.a1
