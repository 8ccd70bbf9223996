"""A member whose records here begin later than their joining (imported, or a party member of long
standing registered by hand) is on the branch's roster from then: the years already closed stay as they
were, in every reader of "who was on the roster" (roster_as_of, the 台账, the engine)."""

from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook

from branches.models import Organisation, Role
from ledgers import exports, xlsx
from meetings.selectors import talk_gap_list
from members import roster_import, services
from members.models import CategoryChange, Member, Membership, StatusChange
from members.selectors import dues_start, roster_as_of
from tests.compliance.conftest import hold, idn

IMPORT_DAY = date(2026, 12, 7)
LONG_STANDING = {
    "name": "老党员",
    "id_number": "320102198007227312",
    "category": "正式党员",
    "joined_on": "2005-07-01",
    "confirmed_on": "2006-07-01",
}


def import_rows(*rows, today=IMPORT_DAY):
    results, counts = roster_import.run_import(
        rows=list(enumerate(rows, start=2)),
        branch_queryset=Organisation.objects.all(),
        mode="skip",
        strict=False,
        today=today,
    )
    assert roster_import.problems(results) == [] and counts["created"] == len(rows)
    return counts


def on_roster(member, branch, on):
    return [row for row in roster_as_of(branch=branch, on=on) if row.member_id == member.pk]


def test_an_imported_member_of_long_standing_is_on_the_roster_from_the_import_month(tree):
    import_rows({**LONG_STANDING, "branch": tree.a1.name})
    member = Member.objects.get()
    assert member.records_from == date(2026, 12, 1)
    assert list(member.memberships.values_list("started_on", "start_reason")) == [
        (date(2026, 12, 1), "名册导入")
    ]
    assert list(member.status_changes.values_list("changed_on", flat=True)) == [date(2026, 12, 1)]
    # The development history keeps its dates.
    assert list(member.category_changes.order_by("changed_on").values_list("category", "changed_on")) == [
        ("probationary", date(2005, 7, 1)),
        ("full", date(2006, 7, 1)),
    ]
    assert on_roster(member, tree.a1, date(2025, 12, 31)) == []
    assert on_roster(member, tree.a1, date(2026, 11, 30)) == []
    [row] = on_roster(member, tree.a1, date(2026, 12, 1))
    assert (row.category_then, row.status_then) == ("full", "normal")
    assert dues_start(member) == (date(2026, 12, 1), "此前的党费未在本系统记录")


def test_an_imported_applicant_who_applied_this_month_is_listed_from_applying(tree):
    import_rows(
        {"name": "申请人", "id_number": idn(5), "category": "入党申请人", "applied_on": "2026-12-03",
         "branch": tree.a1.name}
    )  # fmt: skip
    member = Member.objects.get()
    assert list(member.memberships.values_list("started_on", flat=True)) == [date(2026, 12, 3)]
    assert [r.category_then for r in roster_as_of(branch=tree.a1, on=date(2026, 12, 3))] == ["applicant"]


def register(tree, id_number, **values):
    facts = {
        "name": "登记党员",
        "category": "full",
        "joined_on": date(2005, 7, 1),
        "confirmed_on": date(2006, 7, 1),
    }
    return services.register_member(
        branch=tree.a1, id_number=id_number, today=IMPORT_DAY, **{**facts, **values}
    )


def test_a_member_of_long_standing_registered_by_hand_is_on_the_roster_from_this_month(tree):
    member = register(tree, idn(1))
    assert member.records_from == date(2026, 12, 1)
    assert Membership.objects.get(member=member).started_on == date(2026, 12, 1)
    assert StatusChange.objects.get(member=member).changed_on == date(2026, 12, 1)
    assert on_roster(member, tree.a1, date(2026, 6, 30)) == []


def test_a_registration_with_its_own_date_of_joining_the_branch_keeps_it(tree):
    member = register(tree, idn(2), started_on=date(2019, 3, 1))
    assert Membership.objects.get(member=member).started_on == date(2019, 3, 1)
    # Its dues and reports are judged from this month all the same.
    assert member.records_from == date(2026, 12, 1)


def test_one_not_yet_a_party_member_is_listed_from_their_first_date_as_before(tree):
    member = register(tree, idn(3), category="activist", joined_on=None, confirmed_on=None,
                      applied_on=date(2025, 3, 1), activist_on=date(2025, 9, 1))  # fmt: skip
    assert member.records_from is None
    assert Membership.objects.get(member=member).started_on == date(2025, 3, 1)
    assert CategoryChange.objects.filter(member=member).count() == 2


def _workbook_values(branch, year, user):
    buffer = BytesIO()
    xlsx.render(exports.branch_book(branch, year=year, user=user, as_of=IMPORT_DAY), buffer)
    buffer.seek(0)
    book = load_workbook(buffer)
    return {
        name: [list(r) for r in book[name].iter_rows(values_only=True)]
        for name in book.sheetnames
        if name != "封面"  # its 生成时间 is the moment of rendering
    }


@pytest.fixture
def last_year(branch):
    """2025 at the branch: a 谈心谈话 round that reached everyone then on the roster, and a 主题党日."""
    from meetings import services as meeting_services

    a, b, c, d = branch.people
    meeting_services.record_talks(
        branch=branch, talked_on=date(2025, 5, 6), today=date(2025, 5, 6),
        pairs=[(a, b, "谈工作"), (a, c, "谈工作"), (a, d, "谈工作"), (b, c, "谈工作"), (b, d, "谈工作"),
               (c, d, "谈工作")],
    )  # fmt: skip
    hold(branch, ["theme_day"], date(2025, 6, 27))
    return branch


def test_an_import_in_december_leaves_last_years_ledger_as_it_was(
    last_year, personas, django_capture_on_commit_callbacks
):
    office = personas[Role.TOWNSHIP_ADMIN]
    before = _workbook_values(last_year, 2025, office)
    gaps = talk_gap_list(last_year, year=2025, as_of=IMPORT_DAY)
    with django_capture_on_commit_callbacks(execute=True):
        import_rows({**LONG_STANDING, "branch": last_year.name})
    after = _workbook_values(last_year, 2025, office)
    assert Member.objects.filter(name="老党员").exists()
    # The roster, 党费收缴 and 学习培训 sheets do not list them; 谈心谈话 coverage (合规情况) does not ask for them.
    assert [sheet for sheet, rows in before.items() if after[sheet] != rows] == []
    # The 谈心谈话 page of 2025 names nobody more than its flag did.
    assert talk_gap_list(last_year, year=2025, as_of=IMPORT_DAY) == gaps
    # This year's ledger lists them from December: the months before are not this branch's to collect.
    dues = {r[1]: r for r in _workbook_values(last_year, 2026, office)["党费收缴"]}
    assert dues["老党员"][5:16] == [exports.NOT_OWED_HERE] * 11 and dues["老党员"][16] is None
