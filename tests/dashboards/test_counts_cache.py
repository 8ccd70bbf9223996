"""The overview's counts are cached per branch and renewed by the writes that change them."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from branches import services as branch_services
from branches.models import Role
from compliance import grid
from compliance.grid import count_cells, counts_by_branch, obligation_grid
from compliance.models import GridStamp
from compliance.services import add_setting
from dashboards import selectors
from members import services as member_services
from members.services import build_member
from tests.compliance.conftest import hold, idn
from tests.conftest import make_member

from .test_dashboards import AS_OF, OCTOBER

SINCE = date(2025, 1, 1)


@pytest.fixture
def evaluated(monkeypatch):
    """The branch ids the obligation grid is evaluated for, call by call."""
    calls = []
    real = grid.obligation_grid

    def spy(branch_ids, **kwargs):
        calls.append(sorted(branch_ids))
        return real(branch_ids, **kwargs)

    monkeypatch.setattr(grid, "obligation_grid", spy)
    return calls


def _october(personas):
    scope = selectors.resolve_scope(personas[Role.TOWNSHIP_ADMIN])
    return selectors.overview(scope, period=OCTOBER, as_of=AS_OF)


def test_cached_counts_equal_the_grid_counted_afresh(township):
    ids = [township.a1.pk, township.a2.pk]
    counts_by_branch(ids, since=SINCE, as_of=AS_OF)
    assert counts_by_branch(ids, since=SINCE, as_of=AS_OF) == count_cells(
        obligation_grid(ids, since=SINCE, as_of=AS_OF)
    )


def test_a_second_view_evaluates_nothing_and_reads_only_the_tokens(township, evaluated):
    ids = [township.a1.pk, township.a2.pk]
    counts_by_branch(ids, since=SINCE, as_of=AS_OF)
    with CaptureQueriesContext(connection) as queries:
        counts_by_branch(ids, since=SINCE, as_of=AS_OF)
    assert evaluated == [sorted(ids)]
    assert len(queries) == 1 and "compliance_gridstamp" in queries[0]["sql"]


def test_a_meeting_logged_after_the_overview_was_seen_shows_at_once(township, personas):
    before = _october(personas)["total"]
    hold(township.a1, ["group_meeting"], date(2026, 10, 20), group=township.g2)  # g2 was overdue
    after = _october(personas)["total"]
    assert (after.met, after.overdue) == (before.met + 1, before.overdue - 1)


def test_a_write_evaluates_only_its_own_branch_again(township, personas, evaluated):
    _october(personas)
    hold(township.a2, ["theme_day"], date(2026, 10, 30))
    after = _october(personas)
    assert evaluated[-1] == [township.a2.pk]
    assert after["total"].overdue == 1  # only g2's 党小组会 is still missing


def test_another_day_is_judged_afresh(township, personas, evaluated):
    ids = [township.a1.pk]
    counts_by_branch(ids, since=SINCE, as_of=AS_OF)
    counts_by_branch(ids, since=SINCE, as_of=date(2026, 11, 26))
    assert len(evaluated) == 2


def _token(branch):
    return GridStamp.objects.filter(branch_id=branch.pk).values_list("token", flat=True).first()


def test_moving_a_member_renews_both_branches(township):
    member = make_member(township.a1, township.g1, idn(30), name="调动党员")
    old, new = _token(township.a1), _token(township.a2)
    member_services.move_member(member=member, branch=township.a2, on=date(2026, 11, 1))
    assert _token(township.a1) != old and _token(township.a2) != new


def test_a_bulk_registration_renews_its_branch(township):
    old = _token(township.a2)
    person = build_member(branch=township.a2, name="导入党员", id_number=idn(31), category="full",
                          joined_on=date(2005, 7, 1), confirmed_on=date(2006, 7, 1))  # fmt: skip
    member_services.bulk_register([person], today=AS_OF, start_reason="导入")
    assert _token(township.a2) != old


def test_a_new_committee_term_renews_its_branch(township):
    old = _token(township.a2)
    branch_services.record_term(organisation=township.a2, elected_on=date(2026, 11, 2),
                                positions=[("secretary", "村党员")])  # fmt: skip
    assert _token(township.a2) != old


def test_a_local_rule_renews_every_branch_and_shows_at_once(township, personas):
    before = _october(personas)
    assert any(f.rule.code == "theme_day" for f in before["figures"])
    add_setting(
        organisation=township.township, rule="theme_day", enabled=False, effective_from=date(2026, 1, 1)
    )
    after = _october(personas)
    # Switched off: nothing owed, every branch's month shown as not applicable (and why, on its 本期事项).
    [theme_day] = [f.tally for f in after["figures"] if f.rule.code == "theme_day"]
    assert theme_day.counts[:4] == (0, 0, 0, 0) and theme_day.not_applicable > 0
    assert (
        after["total"].overdue == before["total"].overdue - 1
    )  # 甲村's missing 主题党日 is no longer counted


def test_the_overview_seen_again_reads_only_the_tokens(township, personas, evaluated):
    scope = selectors.resolve_scope(personas[Role.TOWNSHIP_ADMIN])
    first = selectors.overview(scope, period=OCTOBER, as_of=AS_OF)
    scope = selectors.resolve_scope(personas[Role.TOWNSHIP_ADMIN])  # the next request's
    with CaptureQueriesContext(connection) as queries:
        again = selectors.overview(scope, period=OCTOBER, as_of=AS_OF)
    assert len(queries) == 1 and len(evaluated) == 1
    assert again["total"] == first["total"] and again["heatmap"] == first["heatmap"]


def test_the_pipeline_list_is_paginated(client, township, personas, monkeypatch):
    monkeypatch.setattr("dashboards.views.PAGE_SIZE", 1)
    monkeypatch.setattr("dashboards.views._today", lambda: date(2026, 8, 25))
    make_member(township.a2, None, idn(40), name="第二名预备党员", category="probationary",
                joined_on=date(2026, 6, 2))  # fmt: skip
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    url = reverse("dashboards:pipeline")
    first, second = client.get(url), client.get(url + "?page=2")
    assert "共 2 项" in first.content.decode() and "第 1 / 2 页" in first.content.decode()
    names = [n for n in (">预备党员</span>", ">第二名预备党员</span>") if n in second.content.decode()]
    assert len(names) == 1


def test_a_development_step_shows_in_the_deadlines_at_once(township, personas):
    from members import services as member_services
    from members.models import Member

    scope = selectors.resolve_scope(personas[Role.TOWNSHIP_ADMIN])
    assert [i.name for i in selectors.pipeline_deadlines(scope, as_of=date(2026, 8, 25))] == ["预备党员"]
    member = Member.objects.get(name="预备党员")
    member_services.record_pipeline_event(member=member, kind="approval", happened_on=date(2026, 8, 1),
                                          today=date(2026, 8, 25))  # fmt: skip
    scope = selectors.resolve_scope(personas[Role.TOWNSHIP_ADMIN])
    assert selectors.pipeline_deadlines(scope, as_of=date(2026, 8, 25)) == []


def test_counts_warmed_at_night_serve_the_first_view_of_the_day(
    township, personas, client, evaluated, monkeypatch
):
    from dashboards import views

    monkeypatch.setattr(views, "_today", lambda: AS_OF)
    every = sorted([township.a1.pk, township.a2.pk, township.b1.pk])
    assert selectors.warm_counts(as_of=AS_OF) == len(every)
    assert sorted(branch for call in evaluated for branch in call) == every
    evaluated.clear()
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    page = client.get(reverse("dashboards:township"))
    assert page.status_code == 200 and "甲村党支部" in page.content.decode()
    assert evaluated == []  # every branch's counts came from the night's work
    # Warmed in chunks, the counts equal those of one evaluation of the whole scope.
    monkeypatch.setattr(selectors, "WARM_CHUNK", 1)
    ids = [township.a1.pk, township.a2.pk]
    first = selectors.first_counted(selectors.chosen_period(None, AS_OF), AS_OF)
    assert counts_by_branch(ids, since=grid.grid_since(first), as_of=AS_OF, ending_from=first) == count_cells(
        obligation_grid(ids, since=grid.grid_since(first), as_of=AS_OF), ending_from=first
    )
