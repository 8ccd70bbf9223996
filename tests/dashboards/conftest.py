"""The scripted township that the dashboard tests work out by hand."""

from datetime import date

import pytest

from branches import services as branch_services
from tests.compliance.conftest import hold, idn
from tests.conftest import make_member


@pytest.fixture
def township(tree):
    """Township A in October 2026, figures worked out by hand:

    甲社区第一党支部 (a1, groups g1 and g2, with a committee): 支委会, 主题党日 and g1's 党小组会 held;
    g2 held nothing (overdue); 支组合一 does not apply. 甲村党支部 (a2, 支组合一, no committee): its monthly
    党员大会 meets 支组合一; no 主题党日 (overdue); 支委会 does not apply.
    October: 6 applicable, 4 met, 2 overdue, 2 not applicable; rate 66.7 %.
    Records held in October: 5, one of them 补录.
    """
    people = [make_member(tree.a1, tree.g1, idn(i), name=f"党员{i}") for i in range(3)]
    people.append(make_member(tree.a2, None, idn(10), name="村党员"))
    people.append(make_member(tree.a2, None, idn(11), name="预备党员", category="probationary",
                              joined_on=date(2026, 6, 1)))  # fmt: skip
    make_member(tree.b1, None, idn(20), name="乙镇党员")  # another township: never counted
    branch_services.record_term(
        organisation=tree.a1, elected_on=date(2024, 1, 5),
        positions=[("secretary", "党员0"), ("organisation", "党员1"), ("propaganda", "党员2")],
    )  # fmt: skip
    hold(tree.a1, ["general_meeting", "theme_day"], date(2026, 10, 30))
    hold(tree.a1, ["committee_meeting"], date(2026, 10, 9))
    hold(tree.a1, ["group_meeting"], date(2026, 10, 12), group=tree.g1)
    hold(
        tree.a1,
        ["party_lecture"],
        date(2026, 10, 15),
        entered=date(2026, 10, 26),
        backfill_reason="记录员出差",
    )
    hold(tree.a2, ["general_meeting"], date(2026, 10, 20))
    hold(tree.b1, ["theme_day"], date(2026, 10, 30))
    return tree
