"""Two members of one branch with the same name: every sheet of the 台账 that names members tells them
apart, as the meeting pages do (members.names.distinct_labels), and the export reads no more for them."""

from datetime import date
from decimal import Decimal
from io import BytesIO

from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from branches.models import Organisation, Role
from ledgers import exports, xlsx
from meetings import services as meeting_services
from members import services as member_services
from members.models import ThoughtReport
from tests.compliance.conftest import hold, idn
from tests.conftest import make_member
from tests.ledgers.conftest import AS_OF, YEAR


def _book(branch, user):
    buffer = BytesIO()
    xlsx.render(exports.branch_book(branch, year=YEAR, user=user, as_of=AS_OF), buffer)
    buffer.seek(0)
    return load_workbook(buffer)


def _column(sheet, title):
    header = [c.value for c in sheet[1]]
    return [row[header.index(title)] for row in sheet.iter_rows(min_row=2, values_only=True)]


def _namesakes(ledger_branch, tree):
    first = make_member(ledger_branch, tree.g1, idn(61), name="谢伟")
    second = make_member(ledger_branch, tree.g2, idn(62), name="谢伟")
    return first, second


def test_every_sheet_that_names_members_tells_namesakes_apart(ledger_branch, tree, personas):
    first, second = _namesakes(ledger_branch, tree)
    labels = {f"谢伟（{tree.g1.name}）", f"谢伟（{tree.g2.name}）"}
    hold(ledger_branch, ["general_meeting"], date(2026, 6, 5))
    meeting_services.record_talks(branch=ledger_branch, talked_on=date(2026, 6, 6),
                                  pairs=[(first, second, "谈学习")], today=AS_OF)  # fmt: skip
    for person in (first, second):
        member_services.record_dues_payment(member=person, month=date(2026, 6, 1), paid_on=date(2026, 6, 20),
                                            amount=Decimal("5.00"), today=AS_OF)  # fmt: skip
        ThoughtReport.objects.create(member=person, received_on=date(2026, 7, 1), title="思想汇报")
    book = _book(ledger_branch, personas[Role.SECRETARY])

    def named(sheet, title="姓名"):
        return {name for name in _column(book[sheet], title) if name and name.startswith("谢伟")}

    assert named("党员名册") == labels
    assert named("党费收缴") == labels
    assert named("思想汇报") == labels
    assert named("学习培训") == labels
    talk = [r for r in book["谈心谈话"].iter_rows(min_row=2, values_only=True) if r[4] == "谈学习"][0]
    assert {talk[2], talk[3]} == labels
    june = [r for r in _column(book["三会一课记录"], "出席人员") if r and "谢伟" in r][0]
    assert all(label in june.split("、") for label in labels)
    # Everyone else keeps a name of their own.
    assert "党员1" in _column(book["党员名册"], "姓名")


def test_labelling_namesakes_reads_no_more_for_a_larger_branch(ledger_branch, tree, personas):
    def count():
        user = type(personas[Role.SECRETARY]).objects.get(pk=personas[Role.SECRETARY].pk)
        with CaptureQueriesContext(connection) as ctx:
            branch = Organisation.objects.get(pk=ledger_branch.pk)
            xlsx.render(exports.branch_book(branch, year=YEAR, user=user, as_of=AS_OF), BytesIO())
        return len(ctx.captured_queries)

    few = count()
    for i in range(70, 76):
        make_member(ledger_branch, tree.g1 if i % 2 else tree.g2, idn(i), name="谢伟")
    hold(ledger_branch, ["general_meeting"], date(2026, 6, 5))
    assert count() == few


def test_review_and_pipeline_sheets_tell_namesakes_apart(ledger_branch, tree, personas):
    from tests.conftest import make_campaign

    first, second = _namesakes(ledger_branch, tree)
    labels = {f"谢伟（{tree.g1.name}）", f"谢伟（{tree.g2.name}）"}
    make_campaign(ledger_branch, year=YEAR, campaign_on=date(YEAR, 11, 1), close=True,
                  grades={first: ("basic", "多次无故缺席")})  # fmt: skip
    for i, group in ((63, tree.g1), (64, tree.g2)):
        make_member(ledger_branch, group, idn(i), name="王芳", category="activist",
                    applied_on=date(2025, 3, 1), activist_on=date(2025, 9, 1))  # fmt: skip
    book = _book(ledger_branch, personas[Role.SECRETARY])

    reviews = {
        name: row for name, *row in (r[1:] for r in book["民主评议"].iter_rows(min_row=2, values_only=True))
    }
    assert labels <= reviews.keys()
    assert reviews[f"谢伟（{tree.g1.name}）"][-4] == "基本合格"
    assert {n for n in _column(book["发展党员"], "姓名") if n.startswith("王芳")} == {
        f"王芳（{tree.g1.name}）",
        f"王芳（{tree.g2.name}）",
    }
