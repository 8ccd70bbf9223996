"""Branch and township workbooks, opened again with openpyxl as an inspector's Excel would."""

import zipfile
from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from branches.models import Organisation, Role
from compliance.checklist import branch_checklist
from compliance.grid import obligation_grid, tally
from compliance.models import Flag
from compliance.periods import STATE_LABELS
from ledgers import exports, services, xlsx
from members.masking import mask_id_number
from tests.compliance.conftest import hold, idn
from tests.conftest import make_member
from tests.ledgers.conftest import AS_OF, INJECTION, YEAR

BRANCH_SHEETS = ["封面", "党员名册", "三会一课记录", "主题党日", "组织生活会", "谈心谈话", "民主评议", "党费收缴",
                 "思想汇报", "学习培训", "发展党员", "合规情况"]  # fmt: skip


def _book(branch, user, year=YEAR):
    buffer = BytesIO()
    xlsx.render(exports.branch_book(branch, year=year, user=user, as_of=AS_OF), buffer)
    buffer.seek(0)
    return load_workbook(buffer)


def _rows(sheet):
    return [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]


def _header(sheet):
    return [c.value for c in sheet[1]]


def test_branch_ledger_has_every_sheet_with_its_rows(ledger_branch, personas):
    book = _book(ledger_branch, personas[Role.SECRETARY])
    assert book.sheetnames == BRANCH_SHEETS
    cover = {r[0]: r[1] for r in book["封面"].iter_rows(min_row=3, values_only=True)}
    assert (
        cover["党支部"] == "甲社区第一党支部" and cover["年度"] == "2026年" and cover["支部书记"] == "党员0"
    )
    assert cover["生成时间"].year == 2026  # a real date-time
    roster = book["党员名册"]
    assert _header(roster)[:6] == ["序号", "姓名", "性别", "民族", "出生日期", "身份证号码"]
    assert len(_rows(roster)) == 6
    meetings = _rows(book["三会一课记录"])
    # Held in 2026 and carrying one of the four types: 30 Jan, 10 Feb, 12 Mar, and the 15 Jan 组织生活会+大会.
    assert [r[1].date() for r in meetings] == [date(2026, 1, 15), date(2026, 1, 30), date(2026, 2, 10),
                                                 date(2026, 3, 12)]  # fmt: skip
    group = meetings[3]
    header = _header(book["三会一课记录"])
    # 第一党小组 (党员0–3) held its meeting and nobody came.
    assert (group[header.index("应到")], group[header.index("实到")], group[header.index("缺席")]) == (
        4,
        0,
        4,
    )
    assert group[header.index("缺席人员")] == "党员0、党员1、党员2、党员3"
    assert len(_rows(book["主题党日"])) == 2
    assert _rows(book["组织生活会"]) == [["本年度组织生活会尚未召开或未录入", *[None] * 17]]
    talks = _rows(book["谈心谈话"])
    assert [(r[2], r[3]) for r in talks] == [("党员0", "党员1"), ("党员0", INJECTION)]
    assert _rows(book["民主评议"])[0][0] == exports.NO_REVIEW_NOTE
    dues = {r[1]: r for r in _rows(book["党费收缴"])}
    assert dues["党员0"][5:8] == [10, 10, 10] and dues["党员0"][-3:] == [3, 30, None]  # no change in the year
    assert "积极分子甲" not in dues  # not yet a party member
    assert [r[1] for r in _rows(book["思想汇报"])] == ["积极分子甲"]
    assert [r[1] for r in _rows(book["发展党员"])] == ["积极分子甲"]


def test_last_years_org_life_meeting_is_in_last_years_ledger(ledger_branch, personas):
    rows = _rows(_book(ledger_branch, personas[Role.SECRETARY], year=2025)["组织生活会"])
    assert len(rows) == 1
    header = _header(_book(ledger_branch, personas[Role.SECRETARY], year=2025)["组织生活会"])
    assert rows[0][header.index("所属年度")] == 2025
    assert "学习不够／每月集中学习／党员1／2026-06-30／未完成" in rows[0][header.index(header[13])]


def test_dates_are_dates_and_formula_names_are_text(ledger_branch, personas):
    book = _book(ledger_branch, personas[Role.SECRETARY])
    roster = book["党员名册"]
    birth = roster.cell(row=2, column=5)
    assert birth.is_date and birth.number_format == "yyyy-mm-dd"
    names = [row[1] for row in roster.iter_rows(min_row=2)]
    injected = next(c for c in names if c.value == INJECTION)
    assert injected.data_type == "s" and injected.quotePrefix
    talk = next(row[3] for row in book["谈心谈话"].iter_rows(min_row=2) if row[3].value == INJECTION)
    assert talk.data_type == "s"
    for sheet in book.worksheets[1:]:
        assert sheet.freeze_panes == "A2" and sheet.print_title_rows == "$1:$1"
        assert sheet.page_setup.orientation == "landscape" and sheet.sheet_properties.pageSetUpPr.fitToPage


@pytest.mark.parametrize(("role", "masked"), [(Role.SECRETARY, False), (Role.TOWNSHIP_ADMIN, False),
                                               (Role.TOWNSHIP_LEADER, True), (Role.INSTRUCTOR, True)])  # fmt: skip
def test_id_numbers_are_masked_unless_the_role_may_see_them(ledger_branch, personas, role, masked):
    roster = _book(ledger_branch, personas[role])["党员名册"]
    ids = {r[1]: r[5] for r in _rows(roster)}
    full = idn(0)
    assert ids["党员0"] == (mask_id_number(full) if masked else full)


def test_compliance_sheet_equals_the_checklist_and_the_grid(ledger_branch, personas):
    """The same scope and date give the same figures on 本期事项, in the grid tally and in the workbook."""
    book = _book(ledger_branch, personas[Role.SECRETARY])
    sheet = book["合规情况"]
    header = _header(sheet)
    rows = {(r[1], r[2], r[3]): r for r in _rows(sheet)}
    checklist = [
        row for row in branch_checklist(ledger_branch, on=AS_OF) if row.obligation.period.start.year == YEAR
    ]
    assert checklist
    for row in checklist:
        line = rows[(row.rule.name, row.unit_name, row.obligation.period.label)]
        assert line[header.index("状态")] == row.state_label
        assert line[header.index("已完成")] == row.obligation.held
        assert (line[header.index("完成记录")] or "") == "、".join(
            f"{m.held_on:%Y-%m-%d} {m.topic}" for m in row.records
        )
    cells = [c for c in obligation_grid([ledger_branch.pk], since=date(YEAR, 1, 1), as_of=AS_OF)
             if c.period.start.year == YEAR]  # fmt: skip
    figures = tally(cells)
    states = [r[header.index("状态")] for r in rows.values()]
    assert states.count(STATE_LABELS["met"]) == figures.met
    assert states.count(STATE_LABELS["overdue"]) == figures.overdue
    cover = {r[0]: r[1] for r in book["封面"].iter_rows(min_row=3, values_only=True)}
    assert cover["合规完成率"] == f"{figures.met}/{figures.applicable}（{figures.rate}%）"


def test_summary_workbook_counts_like_the_branch_ledgers(ledger_branch, personas, tree):
    Flag.objects.create(key="x", rule="dues_arrears", state="warning", branch=tree.a1,
                        member=ledger_branch.people[1], message="连续3个月未交纳党费", raised_on=AS_OF)  # fmt: skip
    Flag.objects.create(key="y", rule="political_birthday", state="warning", branch=tree.a1,
                        member=ledger_branch.people[2], message="政治生日", raised_on=AS_OF)  # fmt: skip
    buffer = BytesIO()
    xlsx.render(exports.summary_book(tree.township, year=YEAR, user=personas[Role.TOWNSHIP_ADMIN], as_of=AS_OF),
                buffer)  # fmt: skip
    book = load_workbook(buffer)
    assert book.sheetnames == ["封面", "完成率汇总", "合规明细", "逾期清单", "重点关注党员"]
    summary = _rows(book["完成率汇总"])
    totals = {r[1]: r for r in summary if r[2] == exports.TOTAL}
    assert set(totals) == {"甲社区第一党支部", "甲村党支部", exports.TOTAL}  # 乙村 is another township
    a1 = tally(exports.year_cells([tree.a1.pk], YEAR, AS_OF))
    assert totals["甲社区第一党支部"][3:] == [a1.applicable, a1.met, a1.overdue, a1.due_soon, a1.due,
                                              a1.not_applicable, a1.rate]  # fmt: skip
    everything = tally(exports.year_cells([tree.a1.pk, tree.a2.pk], YEAR, AS_OF))
    assert totals[exports.TOTAL][4] == everything.met
    assert len(_rows(book["合规明细"])) == everything.applicable + everything.not_applicable
    assert len(_rows(book["逾期清单"])) == everything.overdue
    assert [r[2] for r in _rows(book["重点关注党员"])] == ["党员1"]


def test_the_zip_holds_one_workbook_per_branch(ledger_branch, personas, tree, tmp_path):
    path = tmp_path / "all.zip"
    seen = []
    services.write_zip(tree.township, year=YEAR, user=personas[Role.TOWNSHIP_ADMIN], path=path,
                       progress=lambda d, t: seen.append((d, t)), as_of=AS_OF)  # fmt: skip
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert sorted(names) == sorted(["甲社区第一党支部-2026年度台账.xlsx", "甲村党支部-2026年度台账.xlsx"])
        for name in names:
            assert load_workbook(BytesIO(archive.read(name))).sheetnames == BRANCH_SHEETS
    total = seen[-1][1]  # the sheets, and the reads before them (counted as steps: test_progress.py)
    assert seen[0] == (0, total) and total > 2 * len(exports.BRANCH_SHEETS) and seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_queries_do_not_grow_with_the_branch(ledger_branch, personas, tree):
    from members import services as member_services

    def count():
        user = type(personas[Role.SECRETARY]).objects.get(pk=personas[Role.SECRETARY].pk)  # roles not cached
        with CaptureQueriesContext(connection) as ctx:
            branch = Organisation.objects.get(pk=ledger_branch.pk)
            xlsx.render(exports.branch_book(branch, year=YEAR, user=user, as_of=AS_OF), BytesIO())
        return len(ctx.captured_queries)

    few = count()
    for i in range(10, 16):
        person = make_member(
            ledger_branch, Organisation.objects.get_children(ledger_branch).first(), idn(i), name=f"新党员{i}"
        )
        member_services.record_thought_report(member=person, received_on=date(2026, 4, i), title="汇报",
                                              today=AS_OF)  # fmt: skip
    for day in (5, 6, 7):
        hold(ledger_branch, ["general_meeting"], date(2026, 5, day), content="记录", resolutions="决议")
        member_services.record_pipeline_event(member=ledger_branch.people[5], kind="talk",
                                              happened_on=date(2026, 5, day), today=AS_OF)  # fmt: skip
    # Members who came from another branch in the year, with records of their time in each.
    for i in range(20, 23):
        person = make_member(tree.a2, None, idn(i), name=f"调入党员{i}")
        member_services.record_thought_report(member=person, received_on=date(2026, 3, i), today=AS_OF)
        member_services.move_member(member=person, branch=ledger_branch, on=date(2026, 6, i), today=AS_OF)
    assert count() == few


def test_the_review_sheet_lists_the_years_grades_and_follow_ups(ledger_branch, personas):
    from tests.conftest import make_campaign

    people = ledger_branch.people
    make_campaign(ledger_branch, year=2025, campaign_on=date(2025, 12, 1), close=True,
                  grades={people[3]: ("basic", "多次无故缺席")})  # fmt: skip
    sheet = _book(ledger_branch, personas[Role.SECRETARY], year=2025)["民主评议"]
    header = _header(sheet)
    rows = {r[1]: r for r in _rows(sheet)}
    assert header[:3] == ["序号", "姓名", "人员类别"] and "评议等次" in header
    assert rows["党员3"][header.index("评议等次")] == "基本合格"
    assert rows["党员3"][header.index("等次理由/不参评原因")] == "多次无故缺席"
    assert rows["党员0"][header.index("评议等次")] == "合格"
    assert rows["党员0"][header.index("合格票")] == 9 and rows["党员0"][header.index("状态")] == "已完成"
    this_year = _book(ledger_branch, personas[Role.SECRETARY], year=2026)["民主评议"]
    assert _rows(this_year)[0][0] == exports.NO_REVIEW_NOTE


def test_the_training_sheet_lists_each_members_hours_against_what_they_owe(ledger_branch, personas, tree):
    from members import services as member_services

    people = ledger_branch.people
    member_services.record_training(branch=tree.a1, members=people[:2], held_on=date(2025, 4, 2), hours=Decimal(20),
                                    title="集中轮训", token="t-a", today=AS_OF)  # fmt: skip
    member_services.record_training(branch=tree.a1, members=people[:1], held_on=date(2025, 9, 9), hours=Decimal("12.5"),
                                    title="网上专题班", kind="online", organiser="县委党校", token="t-b", today=AS_OF)  # fmt: skip
    mistaken = member_services.record_training(branch=tree.a1, members=people[1:2], held_on=date(2025, 9, 9),
                                               hours=Decimal(12), title="录错", token="t-c", today=AS_OF)  # fmt: skip
    member_services.void_training(record=mistaken[0], reason="重复")
    sheet = _book(ledger_branch, personas[Role.SECRETARY], year=2025)["学习培训"]
    header = _header(sheet)
    assert header == [
        "序号",
        "姓名",
        "人员类别",
        "应完成学时",
        "已完成学时",
        "完成情况",
        "培训记录（日期 内容 形式 学时）",
    ]
    rows = {r[1]: r for r in _rows(sheet)}
    assert "积极分子甲" not in rows  # not yet a party member
    assert rows["党员0"][3:6] == [32, 32.5, "已完成"]
    assert rows["党员0"][6] == "2025-04-02 集中轮训 集中培训 20学时\n2025-09-09 网上专题班 网络学习 12.5学时"
    assert rows["党员1"][3:7] == [32, 20, "逾期未完成", "2025-04-02 集中轮训 集中培训 20学时"]
    assert rows["党员2"][4] == 0
    this_year = {r[1]: r for r in _rows(_book(ledger_branch, personas[Role.SECRETARY])["学习培训"])}
    assert this_year["党员0"][4:6] == [0, "待完成"]  # 2026 judged as of 25 November


def _cover(book):
    return {r[0]: r[1] for r in book["封面"].iter_rows(min_row=3, values_only=True)}


def _dues(book):
    """{name: row} of the members on the 党费收缴 sheet (the 合计 row left out)."""
    header = _header(book["党费收缴"])
    return {r[1]: dict(zip(header, r, strict=True)) for r in _rows(book["党费收缴"]) if r[1] != exports.TOTAL}


def _months(row):
    """{month: amount paid, None (owed, unpaid) or “—” (not the branch's to collect)}."""
    return {m: row[f"{m}月"] for m in range(1, 13)}


def _pay(member, months, amount="10.00"):
    from members import services as member_services

    for month in months:
        member_services.record_dues_payment(member=member, month=date(YEAR, month, 1), amount=Decimal(amount),
                                            paid_on=date(YEAR, month, 15), today=AS_OF)  # fmt: skip


def test_the_dues_sheet_lists_the_branchs_members_of_that_year_each_month_under_its_branch(
    ledger_branch, personas, tree
):
    """Who left, who came from another branch and who joined the party in the year are on the sheet of each
    branch they belonged to, with the months they owed it; the months before or after are “—”."""
    from members import services as member_services

    office = personas[Role.TOWNSHIP_ADMIN]
    gone = make_member(tree.a1, None, idn(20), name="转出党员")
    _pay(gone, range(1, 10))
    member_services.transfer_out(member=gone, on=date(YEAR, 9, 23), counterpart="外县某支部", today=AS_OF)
    mover = make_member(tree.a2, None, idn(21), name="调动党员")
    _pay(mover, range(1, 11))
    member_services.move_member(member=mover, branch=tree.a1, on=date(YEAR, 10, 28), today=AS_OF)
    _pay(mover, [11])
    newcomer = make_member(tree.a1, None, idn(22), name="新党员", category="probationary",
                           applied_on=date(2023, 10, 21), activist_on=date(2024, 3, 9), candidate_on=date(2025, 9, 20),
                           joined_on=date(YEAR, 4, 8))  # fmt: skip
    _pay(newcomer, [4, 5])

    a1 = _book(tree.a1, office)
    dues = _dues(a1)
    dash = exports.NOT_OWED_HERE
    assert _months(dues["转出党员"]) == {
        **dict.fromkeys(range(1, 10), 10),
        **dict.fromkeys(range(10, 13), dash),
    }
    assert (dues["转出党员"]["已缴月数"], dues["转出党员"]["合计（元）"]) == (9, 90)
    assert dues["转出党员"]["变动情况"] == "2026-09-23转出"
    # Moved on 28 October: October is the new branch's to collect, September the last of the old one's.
    assert _months(dues["调动党员"]) == {**dict.fromkeys(range(1, 10), dash), 10: 10, 11: 10, 12: None}
    assert dues["调动党员"]["变动情况"] == "2026-10-28由甲村党支部转入"
    assert _months(dues["新党员"]) == {1: dash, 2: dash, 3: dash, 4: 10, 5: 10, **dict.fromkeys(range(6, 13))}
    assert dues["新党员"]["人员类别"] == "预备党员" and dues["新党员"]["变动情况"] == "2026-04-08入党"
    cover = _cover(a1)
    # On 25 November: 党员0–3, the formula-named one, the newcomer and the mover (转出党员 left in September).
    assert cover["在册党员（2026年11月25日）"] == 7 and "在册党员" not in cover
    assert cover["本年度曾在册党员"] == len(dues) == 8

    a2 = _dues(_book(tree.a2, office))
    assert _months(a2["调动党员"]) == {
        **dict.fromkeys(range(1, 10), 10),
        **dict.fromkeys(range(10, 13), dash),
    }
    assert a2["调动党员"]["变动情况"] == "2026-10-28转至甲社区第一党支部"

    last_year = _book(tree.a1, office, year=2025)
    dues_2025 = _dues(last_year)
    assert "新党员" not in dues_2025  # not yet a party member in 2025
    assert "调动党员" not in dues_2025 and "转出党员" in dues_2025
    assert _cover(last_year)["在册党员（2025年12月31日）"] == 6 == len(dues_2025)


def test_a_review_not_closed_is_not_exported_as_results(ledger_branch, personas):
    """A campaign still being tallied (its votes and grades not final) is not a result for the ledger."""
    from evaluations import services as review_services
    from tests.conftest import make_campaign

    campaign = make_campaign(ledger_branch, year=YEAR, campaign_on=date(YEAR, 11, 1), grades={})
    status = campaign.get_status_display()
    rows = _rows(_book(ledger_branch, personas[Role.SECRETARY])["民主评议"])
    assert rows == [
        [f"本年度无已完成的民主评议（2026年度民主评议目前为“{status}”，完成后列入台账）", *[None] * 10]
    ]
    review_services.close_campaign(campaign=campaign, closed_on=date(YEAR, 11, 5))
    sheet = _book(ledger_branch, personas[Role.SECRETARY])["民主评议"]
    header = _header(sheet)
    done = {r[1]: r for r in _rows(sheet)}
    assert (
        done["党员0"][header.index("评议等次")] == "合格" and done["党员0"][header.index("状态")] == "已完成"
    )


def test_the_cover_names_the_exporter_and_no_secretary_who_has_left(ledger_branch, personas, tree):
    from members import services as member_services

    office = personas[Role.TOWNSHIP_ADMIN]
    office.first_name = "周敏"
    office.save()
    assert _cover(_book(ledger_branch, office))["导出人"] == "周敏"
    assert (
        _cover(_book(ledger_branch, personas[Role.SECRETARY]))["导出人"] == "secretary"
    )  # no name: the login
    buffer = BytesIO()
    xlsx.render(exports.summary_book(tree.township, year=YEAR, user=office, as_of=AS_OF), buffer)
    assert _cover(load_workbook(buffer))["导出人"] == "周敏"

    # 党员0, the secretary of the term elected in 2024, transferred out; nobody was recorded after them.
    member_services.transfer_out(member=ledger_branch.people[0], on=date(YEAR, 9, 23), counterpart="外县",
                                 today=AS_OF)  # fmt: skip
    assert _cover(_book(ledger_branch, office))["支部书记"] == "（未录入：原书记党员0已于2026-09-23转出）"
    assert (
        _cover(_book(ledger_branch, office, year=2025))["支部书记"] == "党员0"
    )  # in office at the end of 2025


def test_the_watch_sheet_is_the_watch_list_of_the_dashboard_and_the_todo_list(
    ledger_branch, personas, tree, client
):
    people = ledger_branch.people
    flags = [("dues_arrears", people[1]), ("training_hours", people[2]), ("training_hours", people[3]),
             ("political_birthday", people[2]), ("absence_ladder", people[3]), ("lost_contact", people[0])]  # fmt: skip
    for i, (rule, member) in enumerate(flags):
        Flag.objects.create(key=f"w{i}", rule=rule, state="warning", branch=tree.a1, member=member,
                            message=rule, raised_on=AS_OF)  # fmt: skip
    Flag.objects.create(
        key="branch", rule="theme_day", state="overdue", branch=tree.a1, message="x", raised_on=AS_OF
    )
    office = personas[Role.TOWNSHIP_ADMIN]
    buffer = BytesIO()
    xlsx.render(exports.summary_book(tree.township, year=YEAR, user=office, as_of=AS_OF), buffer)
    rows = _rows(load_workbook(buffer)["重点关注党员"])
    client.force_login(office)
    todo = client.get(reverse("compliance:flags"), {"watch": "1", "org": tree.township.pk})
    assert len(rows) == todo.context["page"].paginator.count == 3
    assert sorted(r[2] for r in rows) == ["党员0", "党员1", "党员3"]  # no 集中学习培训, no 政治生日
