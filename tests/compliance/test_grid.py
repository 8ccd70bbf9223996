"""The obligation grid: the figures every page and workbook counts from, on a scripted township."""

from datetime import date

from django.db import connection
from django.test.utils import CaptureQueriesContext

from branches.models import Organisation
from compliance.grid import obligation_grid, tally, tally_by
from compliance.periods import State
from tests.compliance.conftest import hold
from tests.conftest import make_org

AS_OF = date(2026, 11, 25)  # 6 days left of November: due soon
SINCE = date(2026, 10, 1)


def test_october_and_november_of_a_branch_with_groups(branch):
    hold(branch, ["general_meeting", "theme_day"], date(2026, 10, 30))
    hold(branch, ["committee_meeting"], date(2026, 10, 9))
    hold(branch, ["group_meeting"], date(2026, 10, 12), group=_group(branch, "第一党小组"))
    cells = obligation_grid([branch.pk], since=SINCE, as_of=AS_OF)
    by_rule = tally_by(cells, lambda c: c.rule.code)
    # October: theme day and committee met; one of two groups met; November still open.
    assert by_rule["theme_day"].met == 1 and by_rule["theme_day"].due_soon == 1
    assert by_rule["committee_meeting"].met == 1 and by_rule["committee_meeting"].due_soon == 1
    assert (by_rule["group_meeting"].met, by_rule["group_meeting"].overdue) == (1, 1)
    assert by_rule["group_meeting"].due_soon == 2
    assert by_rule["general_meeting"].met == 1  # Q4 met by the 30 October meeting
    assert by_rule["party_lecture"].due == 1
    assert by_rule["merged_meeting"].not_applicable == 2
    total = tally(cells)
    assert total.applicable == total.met + total.due + total.due_soon + total.overdue
    assert 0 < total.rate < 100
    october = [c for c in cells if c.rule.code == "group_meeting" and c.period.start == SINCE]
    assert {c.unit_name: c.state for c in october} == {"第一党小组": State.MET, "第二党小组": State.OVERDUE}
    assert {c.branch_name for c in cells} == {branch.name}


def test_queries_do_not_depend_on_the_number_of_branches(tree):
    def count(ids):
        with CaptureQueriesContext(connection) as ctx:
            obligation_grid(ids, since=SINCE, as_of=AS_OF)
        return len(ctx.captured_queries)

    few = count([tree.a1.pk])
    more = [make_org(tree.township, f"新建第{i}党支部", founded_on=date(2020, 1, 1)).pk for i in range(12)]
    assert count([tree.a1.pk, *more]) == few


def test_nothing_applies_to_a_branch_founded_this_month(tree):
    new = make_org(tree.township, "刚成立党支部", founded_on=date(2026, 11, 10))
    assert obligation_grid([new.pk], since=SINCE, as_of=AS_OF) == []
    assert tally([]).rate is None


def _group(branch, name):
    return Organisation.objects.get_children(branch).get(name=name)
