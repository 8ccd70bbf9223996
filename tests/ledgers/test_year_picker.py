"""The 台账 year picker offers the years the system holds records of: a year before them listed nothing
and reported every obligation 逾期未完成 (a 2020 ledger of the demo, whose records start in 2025: 0/72)."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from branches.models import Role
from compliance.models import RefreshRun
from ledgers.forms import ExportForm
from ledgers.models import LedgerExport
from ledgers.selectors import YEARS_BACK, first_ledger_year, first_record_years
from meetings.models import Meeting
from tests.compliance.conftest import hold
from tests.conftest import make_org
from tests.ledgers.conftest import YEAR

pytestmark = pytest.mark.django_db
TODAY = date(2026, 12, 7)


def _run(since, kind=RefreshRun.Kind.FULL, as_of=TODAY):
    return RefreshRun.objects.create(kind=kind, as_of=as_of, since=since, raised=0, resolved=0)


def test_before_any_record_the_years_start_where_the_engine_judges_from(tree):
    # No refresh has run: the engine's writes judge from 1 January of last year.
    assert first_ledger_year(tree.a1, today=TODAY) == 2025
    assert first_ledger_year(tree.township, today=TODAY) == 2025


def test_the_first_meeting_of_the_branch_or_its_subtree_brings_the_years_back(tree):
    hold(tree.a1, ["general_meeting"], date(2023, 5, 10))
    assert first_ledger_year(tree.a1, today=TODAY) == 2023
    assert first_ledger_year(tree.community, today=TODAY) == 2023  # a 党委 counts its branches' meetings
    assert first_ledger_year(tree.township, today=TODAY) == 2023
    assert first_ledger_year(tree.a2, today=TODAY) == 2025  # not another branch's
    assert first_ledger_year(tree.other_township, today=TODAY) == 2025
    voided = hold(tree.a2, ["general_meeting"], date(2021, 3, 1))
    Meeting.objects.filter(pk=voided.pk).update(voided_at=timezone.now())
    assert first_ledger_year(tree.a2, today=TODAY) == 2025  # a voided record is no record


def test_a_county_wide_refresh_judged_from_an_earlier_year_brings_the_years_back(tree):
    _run(date(2019, 1, 1), kind=RefreshRun.Kind.PARTIAL)  # some branches only: judged nothing county-wide
    assert first_ledger_year(tree.a1, today=TODAY) == 2025
    _run(None, as_of=date(2024, 6, 30))  # judged from 1 January of the year before its day
    assert first_ledger_year(tree.a1, today=TODAY) == 2023
    _run(date(2022, 1, 1))
    assert first_ledger_year(tree.a1, today=TODAY) == 2022


def test_never_before_the_branch_was_founded_nor_more_than_years_back(tree):
    _run(date(2010, 1, 1))
    assert first_ledger_year(tree.a1, today=TODAY) == TODAY.year - YEARS_BACK
    young = make_org(tree.township, "新村党支部", founded_on=date(2024, 3, 1))
    assert first_ledger_year(young, today=TODAY) == 2024
    newest = make_org(tree.township, "今年党支部", founded_on=date(2026, 3, 1))
    assert first_ledger_year(newest, today=TODAY) == 2026


def test_it_is_one_query(tree):
    hold(tree.a1, ["general_meeting"], date(2023, 5, 10))
    _run(date(2024, 1, 1))
    for organisation in (tree.a1, tree.township):
        with CaptureQueriesContext(connection) as captured:
            first_ledger_year(organisation, today=TODAY)
        assert len(captured) == 1


def test_the_ledgers_of_many_branches_learn_where_each_ones_records_start_in_one_query(tree):
    """For the ledger to say a year precedes the records (the county zip reads 50 branches at a time)."""
    hold(tree.a1, ["general_meeting"], date(2023, 5, 10))
    young = make_org(tree.township, "新村党支部", founded_on=date(2026, 3, 1))
    _run(date(2010, 1, 1), kind=RefreshRun.Kind.PARTIAL)
    with CaptureQueriesContext(connection) as captured:
        found = first_record_years([tree.a1, tree.a2, young, tree.b1], today=TODAY)
    assert len(captured) == 1
    assert found == {tree.a1.pk: 2023, tree.a2.pk: 2025, young.pk: 2026, tree.b1.pk: 2025}
    _run(date(2010, 1, 1))  # judged from 2010: no cap of YEARS_BACK here, the records are
    assert first_record_years([tree.a1], today=TODAY) == {tree.a1.pk: 2010}


def test_the_branch_page_and_the_form_offer_only_the_years_of_the_records(client, personas, ledger_branch):
    client.force_login(personas[Role.SECRETARY])
    today = timezone.localdate()
    first = min(today.year - 1, YEAR)  # the fixture's records are of 2026; none ran a refresh
    offered = [(y, f"{y}年") for y in range(today.year, first - 1, -1)]
    assert ExportForm(organisation=ledger_branch).fields["year"].choices == offered
    page = client.get(reverse("branches:detail", args=[ledger_branch.pk])).content.decode()
    assert f'<option value="{first}">{first}年</option>' in page
    assert f'<option value="{first - 1}">' not in page
    response = client.post(reverse("ledgers:branch_export", args=[ledger_branch.pk]), {"year": first - 1})
    assert response.status_code == 200 and not LedgerExport.objects.exists()
    assert f"请选择{first}年至{today.year}年之间的年度" in response.content.decode()


def test_the_township_form_offers_the_years_of_its_branches_records(tree, ledger_branch):
    hold(tree.a2, ["general_meeting"], date(2023, 5, 10))
    years = [y for y, _label in ExportForm(organisation=tree.township, township=True).fields["year"].choices]
    assert years[-1] == max(2023, timezone.localdate().year - YEARS_BACK)
