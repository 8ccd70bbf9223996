"""The county zip reads its branches a chunk at a time: each workbook in it is the branch's own ledger, cell
for cell, and the queries do not grow with the number of branches in a chunk."""

import zipfile
from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from branches import services as branch_services
from branches.models import Role
from ledgers import exports, services, xlsx
from meetings import services as meeting_services
from members import services as member_services
from members.models import ThoughtReport
from tests.compliance.conftest import hold, idn
from tests.conftest import make_campaign, make_member, make_org
from tests.ledgers.conftest import AS_OF, YEAR

pytestmark = pytest.mark.django_db
GENERATED = "生成时间"  # the moment each workbook was written: the one cell allowed to differ


def _values(workbook):
    return {
        sheet.title: [row for row in sheet.iter_rows(values_only=True) if row[0] != GENERATED]
        for sheet in workbook.worksheets
    }


def _alone(branch, user):
    buffer = BytesIO()
    xlsx.render(exports.branch_book(branch, year=YEAR, user=user, as_of=AS_OF), buffer)
    return _values(load_workbook(buffer))


def _zipped(township, user, tmp_path):
    path = tmp_path / "all.zip"
    services.write_zip(township, year=YEAR, user=user, path=path, as_of=AS_OF)
    with zipfile.ZipFile(path) as archive:
        return {name: _values(load_workbook(BytesIO(archive.read(name)))) for name in archive.namelist()}


def _furnish(branch, serial):
    """A branch with records of every kind its ledger shows, named after the branch."""
    people = [make_member(branch, None, idn(serial + i), name=f"{branch.name}党员{i}") for i in range(3)]
    branch_services.record_term(organisation=branch, elected_on=date(2024, 1, 5),
                                positions=[("secretary", people[0].name)])  # fmt: skip
    hold(branch, ["theme_day", "party_lecture"], date(2026, 2, 27), lecturer=people[0].name)
    meeting_services.record_talks(branch=branch, talked_on=date(2026, 4, 2), today=AS_OF,
                                  pairs=[(people[0], people[1], f"{branch.name}谈工作")])  # fmt: skip
    member_services.record_dues_payment(member=people[1], month=date(2026, 3, 1), paid_on=date(2026, 3, 20),
                                        amount=Decimal("12.00"), today=AS_OF)  # fmt: skip
    ThoughtReport.objects.create(
        member=people[2], received_on=date(2026, 5, 5), title=f"{branch.name}思想汇报"
    )
    make_campaign(branch, year=2026, campaign_on=date(2026, 11, 1))
    member_services.transfer_out(member=people[2], on=date(2026, 9, 23), counterpart="外县", today=AS_OF)
    return people


@pytest.mark.parametrize("chunk", [50, 1])
def test_each_workbook_in_the_zip_is_the_branchs_own_ledger(ledger_branch, tree, personas, tmp_path,
                                                             monkeypatch, chunk):  # fmt: skip
    monkeypatch.setattr(services, "ZIP_CHUNK", chunk)
    people = _furnish(tree.a2, 40)
    # 甲村's member moves to 甲社区第一 (another chunk when a chunk is one branch): each keeps its months.
    member_services.move_member(member=people[1], branch=tree.a1, on=date(2026, 10, 28), today=AS_OF)
    office = personas[Role.TOWNSHIP_ADMIN]
    zipped = _zipped(tree.township, office, tmp_path)
    for branch in (tree.a1, tree.a2):
        assert zipped[f"{branch.name}-{YEAR}年度台账.xlsx"] == _alone(branch, office)
    a2 = zipped[f"甲村党支部-{YEAR}年度台账.xlsx"]
    assert [row[1] for row in a2["党员名册"][1:]] == ["甲村党支部党员0"]
    assert [(row[1], row[7], row[-1]) for row in a2["党费收缴"][1:]] == [
        ("甲村党支部党员0", None, None),
        ("甲村党支部党员1", Decimal(12), "2026-10-28转至甲社区第一党支部"),
        ("甲村党支部党员2", None, "2026-09-23转出"),
        (exports.TOTAL, Decimal(12), None),
    ]
    a1 = zipped[f"甲社区第一党支部-{YEAR}年度台账.xlsx"]
    assert [row[7] for row in a1["党费收缴"][1:] if row[1] == "甲村党支部党员1"] == [exports.NOT_OWED_HERE]
    assert [row[4] for row in a2["谈心谈话"][1:]] == ["甲村党支部谈工作"]
    assert ("支部书记", "甲村党支部党员0") in a2["封面"]


def test_the_zip_reads_more_branches_in_no_more_queries(ledger_branch, tree, personas, tmp_path):
    office = personas[Role.TOWNSHIP_ADMIN]

    def queries():
        with CaptureQueriesContext(connection) as captured:
            services.write_zip(tree.township, year=YEAR, user=office, path=tmp_path / "all.zip", as_of=AS_OF)
        return len(captured)

    _furnish(tree.a2, 40)
    queries()  # the first reads the office's roles, kept on the account after
    two = queries()
    for i in range(4):
        _furnish(make_org(tree.township, f"新村{i}党支部"), 50 + 10 * i)
    assert len(exports.subtree_branches(tree.township, YEAR)) == 6
    assert queries() == two
