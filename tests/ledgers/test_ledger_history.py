"""What an inspector reads in a 台账: each meeting's substance, each record under the branch that made it,
a past year as it stood at its end, and the money added up. Workbooks opened again with openpyxl."""

from datetime import date, time
from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import load_workbook

from branches.models import Role
from compliance.models import Flag
from ledgers import exports, xlsx
from meetings import services as meeting_services
from members import services as member_services
from tests.compliance.conftest import hold, idn
from tests.conftest import make_member
from tests.ledgers.conftest import AS_OF, INJECTION, YEAR

pytestmark = pytest.mark.django_db


def _book(branch, user, year=YEAR):
    buffer = BytesIO()
    xlsx.render(exports.branch_book(branch, year=year, user=user, as_of=AS_OF), buffer)
    buffer.seek(0)
    return load_workbook(buffer)


def _summary(organisation, user, year):
    buffer = BytesIO()
    xlsx.render(exports.summary_book(organisation, year=year, user=user, as_of=AS_OF), buffer)
    buffer.seek(0)
    return load_workbook(buffer)


def _table(sheet):
    """The sheet's rows as {column title: value}."""
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)]


def _cover(book):
    return {r[0]: r[1] for r in book["封面"].iter_rows(min_row=3, values_only=True)}


def _day(value):
    return value.date() if value is not None else None


# ---------------------------------------------------------------- 1. what a meeting was about

MINUTES = "一、传达学习上级会议精神。\n二、研究确定发展对象人选，逐一发表意见。"
DECISIONS = "同意将积极分子甲列为发展对象，报镇党委备案。"


def test_the_meeting_sheets_say_what_each_meeting_was_about(ledger_branch, personas):
    committee = hold(ledger_branch, ["committee_meeting"], date(YEAR, 4, 8), start_time=time(14, 30),
                     content=MINUTES, resolutions=DECISIONS, guests="镇党建指导员王某")  # fmt: skip
    meeting_services.review_meeting(meeting=committee, decision="returned", comment="请补充签到表照片")
    hold(
        ledger_branch,
        ["theme_day"],
        date(YEAR, 5, 29),
        content="重温入党誓词，集中交纳党费。",
        guests="社区居民代表",
    )
    book = _book(ledger_branch, personas[Role.SECRETARY])

    sheet = book["三会一课记录"]
    header = [c.value for c in sheet[1]]
    # The people first, then what was said and decided, then the record's own state.
    order = ["召开日期", "开始时间", "会议类型", "会议主题", "外出人员", "列席人员", "会议内容/记录", "决议事项",
             "补录", "审核状态", "审核意见"]  # fmt: skip
    assert [header.index(title) for title in order] == sorted(header.index(title) for title in order)
    rows = _table(sheet)
    row = next(r for r in rows if r["会议类型"] == "支委会")
    assert _day(row["召开日期"]) == date(YEAR, 4, 8) and row["开始时间"] == "14:30"
    assert (row["会议内容/记录"], row["决议事项"], row["列席人员"]) == (
        MINUTES,
        DECISIONS,
        "镇党建指导员王某",
    )
    assert (row["审核状态"], row["审核意见"]) == ("退回修改", "请补充签到表照片")
    # The minutes wrap inside their column instead of running across the page.
    line = 2 + rows.index(row)
    minutes = sheet.cell(row=line, column=header.index("会议内容/记录") + 1)
    decisions = sheet.cell(row=line, column=header.index("决议事项") + 1)
    assert minutes.alignment.wrap_text and decisions.alignment.wrap_text
    assert sheet.column_dimensions["A"].width  # the header row is still the first

    theme = _table(book["主题党日"])
    day = next(r for r in theme if _day(r["召开日期"]) == date(YEAR, 5, 29))
    assert (day["会议内容/记录"], day["列席人员"]) == ("重温入党誓词，集中交纳党费。", "社区居民代表")
    assert "决议事项" in day and "审核意见" in day


def test_minutes_too_long_for_a_cell_are_cut_and_say_so(ledger_branch, personas):
    hold(ledger_branch, ["general_meeting"], date(YEAR, 6, 5), content="发言记录。" * 8000)
    rows = _table(_book(ledger_branch, personas[Role.SECRETARY])["三会一课记录"])
    text = next(r for r in rows if _day(r["召开日期"]) == date(YEAR, 6, 5))["会议内容/记录"]
    assert len(text) == exports.CELL_LIMIT and text.endswith(exports.CUT_SHORT)


# ---------------------------------------------------------------- 2. under the branch of the day


@pytest.fixture
def mover(ledger_branch, tree):
    """An 入党积极分子 of 甲村 since 2025, made 发展对象 in July 2026 and moved to 甲社区第一 on 29 October, with a
    report and a development event in each branch."""
    person = make_member(tree.a2, None, idn(30), name="调动积极分子", category="activist",
                         applied_on=date(2025, 3, 1), activist_on=date(2025, 6, 1))  # fmt: skip
    member_services.record_thought_report(member=person, received_on=date(YEAR, 5, 16), title="第二季度思想汇报",
                                          today=AS_OF)  # fmt: skip
    member_services.advance_category(member=person, category="candidate", on=date(YEAR, 7, 1), today=AS_OF)
    member_services.record_pipeline_event(member=person, kind="political_review", happened_on=date(YEAR, 8, 3),
                                          today=AS_OF)  # fmt: skip
    member_services.move_member(member=person, branch=tree.a1, on=date(YEAR, 10, 29), today=AS_OF)
    member_services.record_thought_report(member=person, received_on=date(YEAR, 11, 16), title="第四季度思想汇报",
                                          today=AS_OF)  # fmt: skip
    member_services.record_pipeline_event(member=person, kind="training", hours=24, happened_on=date(YEAR, 11, 10),
                                          today=AS_OF)  # fmt: skip
    return person


def test_a_thought_report_stays_with_the_branch_that_received_it(mover, personas, tree):
    office = personas[Role.TOWNSHIP_ADMIN]
    old = [
        (r["姓名"], r["人员类别"], _day(r["收到日期"])) for r in _table(_book(tree.a2, office)["思想汇报"])
    ]
    new = [
        (r["姓名"], r["人员类别"], _day(r["收到日期"])) for r in _table(_book(tree.a1, office)["思想汇报"])
    ]
    # Received in May by 甲村, while an 积极分子; in November by 甲社区第一, a 发展对象 by then.
    assert old == [("调动积极分子", "入党积极分子", date(YEAR, 5, 16))]
    assert new == [
        ("积极分子甲", "入党积极分子", date(YEAR, 3, 3)),
        ("调动积极分子", "发展对象", date(YEAR, 11, 16)),
    ]


def test_development_work_is_under_the_branch_that_did_it(mover, personas, tree):
    office = personas[Role.TOWNSHIP_ADMIN]
    old = {r["姓名"]: r for r in _table(_book(tree.a2, office)["发展党员"])}["调动积极分子"]
    new = {r["姓名"]: r for r in _table(_book(tree.a1, office)["发展党员"])}["调动积极分子"]
    assert old["发展事项（日期 事项）"] == "2026-08-03 政治审查"
    assert old["变动情况"] == "2026-10-29转至甲社区第一党支部" and old["人员类别"] == "发展对象"
    assert new["发展事项（日期 事项）"] == "2026-11-10 集中培训 24学时"
    assert new["变动情况"] == "2026-10-29由甲村党支部转入" and _day(new["确定发展对象"]) == date(YEAR, 7, 1)
    # 2025: an 积极分子 of 甲村, not yet anything of 甲社区第一.
    last_year = {r["姓名"]: r for r in _table(_book(tree.a2, office, year=2025)["发展党员"])}["调动积极分子"]
    assert last_year["人员类别"] == "入党积极分子" and last_year["确定发展对象"] is None
    assert not last_year["发展事项（日期 事项）"]
    assert "调动积极分子" not in {r["姓名"] for r in _table(_book(tree.a1, office, year=2025)["发展党员"])}


# ---------------------------------------------------------------- 3. a past year as it stood


def test_a_past_years_ledger_is_that_year_as_it_stood_at_its_end(ledger_branch, personas, tree):
    office = personas[Role.TOWNSHIP_ADMIN]
    activist = ledger_branch.people[5]  # 积极分子甲: 积极分子 since June 2025
    member_services.record_pipeline_event(member=activist, kind="talk", happened_on=date(2025, 9, 10),
                                          today=AS_OF)  # fmt: skip
    member_services.advance_category(member=activist, category="candidate", on=date(YEAR, 7, 1), today=AS_OF)
    member_services.record_pipeline_event(member=activist, kind="political_review", happened_on=date(YEAR, 8, 3),
                                          today=AS_OF)  # fmt: skip
    gone = make_member(tree.a1, None, idn(31), name="转出党员")
    member_services.transfer_out(member=gone, on=date(YEAR, 9, 23), counterpart="外县某支部", today=AS_OF)
    make_member(tree.a1, None, idn(32), name="转入党员", started_on=date(YEAR, 3, 1),
                transfer={"counterpart": "外县某支部"})  # fmt: skip

    book = _book(ledger_branch, office, year=2025)
    roster = {r["姓名"]: r for r in _table(book["党员名册"])}
    assert set(roster) == {"党员0", "党员1", "党员2", "党员3", INJECTION, "积极分子甲", "转出党员"}
    assert roster["积极分子甲"]["人员类别"] == "入党积极分子"
    assert roster["转出党员"]["党籍状态"] == "正常"  # on the roster then
    party = sum(r["人员类别"] in ("正式党员", "预备党员") for r in roster.values())
    cover = _cover(book)
    assert cover["在册党员（2025年12月31日）"] == party == 6
    assert cover["党员名册人数"] == "7人（含入党申请人、入党积极分子、发展对象1人）"

    pipeline = {r["姓名"]: r for r in _table(book["发展党员"])}
    assert list(pipeline) == ["积极分子甲"]
    assert (
        pipeline["积极分子甲"]["人员类别"] == "入党积极分子"
        and pipeline["积极分子甲"]["确定发展对象"] is None
    )
    assert pipeline["积极分子甲"]["发展事项（日期 事项）"] == "2025-09-10 谈话（申请后一个月内）"

    now = _book(ledger_branch, office)
    assert {r["姓名"] for r in _table(now["党员名册"])} == {"党员0", "党员1", "党员2", "党员3", INJECTION,
                                                         "积极分子甲", "转入党员"}  # fmt: skip
    assert _cover(now)["在册党员（2026年11月25日）"] == 6
    this_year = {r["姓名"]: r for r in _table(now["发展党员"])}["积极分子甲"]
    assert this_year["人员类别"] == "发展对象" and this_year["发展事项（日期 事项）"] == "2026-08-03 政治审查"


def test_a_step_taken_after_the_year_is_not_in_that_years_ledger(ledger_branch, personas, tree):
    """A 预备党员 of 2025 confirmed in 2026: 2025's roster and 发展党员 sheet show a 预备党员, no 转正 date."""
    office = personas[Role.TOWNSHIP_ADMIN]
    person = make_member(tree.a1, None, idn(33), name="预备党员乙", category="probationary",
                         applied_on=date(2023, 3, 1), activist_on=date(2023, 6, 1), candidate_on=date(2024, 7, 1),
                         joined_on=date(2025, 5, 10))  # fmt: skip
    member_services.record_pipeline_event(member=person, kind="approval", happened_on=date(2025, 6, 20),
                                          today=AS_OF)  # fmt: skip
    member_services.advance_category(member=person, category="full", on=date(YEAR, 6, 20), today=AS_OF)
    book = _book(ledger_branch, office, year=2025)
    roster = {r["姓名"]: r for r in _table(book["党员名册"])}["预备党员乙"]
    assert (roster["人员类别"], _day(roster["入党时间"]), roster["转正时间"]) == (
        "预备党员",
        date(2025, 5, 10),
        None,
    )
    pipeline = {r["姓名"]: r for r in _table(book["发展党员"])}["预备党员乙"]
    assert (pipeline["人员类别"], pipeline["转正"]) == ("预备党员", None)
    now = {r["姓名"]: r for r in _table(_book(ledger_branch, office)["发展党员"])}["预备党员乙"]
    assert (now["人员类别"], _day(now["转正"])) == ("正式党员", date(YEAR, 6, 20))


def test_the_watch_sheet_of_a_year_is_the_watch_list_as_it_stood_at_its_end(ledger_branch, personas, tree):
    people = ledger_branch.people
    flags = {
        "resolved_within_2025": (people[0], date(2025, 5, 1), date(2025, 8, 1)),
        "open_across_new_year": (people[1], date(2025, 10, 1), date(YEAR, 2, 1)),
        "still_open": (people[2], date(2025, 11, 1), None),
        "raised_2026": (people[3], date(YEAR, 3, 1), None),
    }
    for key, (member, raised, resolved) in flags.items():
        Flag.objects.create(key=key, rule="dues_arrears", state="warning", branch=tree.a1, member=member,
                            message=key, raised_on=raised, resolved_on=resolved)  # fmt: skip
    office = personas[Role.TOWNSHIP_ADMIN]

    def watched(year):
        return sorted(r["说明"] for r in _table(_summary(tree.township, office, year)["重点关注党员"]))

    assert watched(2025) == ["open_across_new_year", "still_open"]
    assert watched(YEAR) == ["raised_2026", "still_open"]  # today's open flags, as on the dashboard
    assert watched(2024) == [None]  # the sheet's note alone
    note = _table(_summary(tree.township, office, 2024)["重点关注党员"])[0]["序号"]
    assert note == "暂无需要关注的党员"


# ---------------------------------------------------------------- 4. totals


def test_the_dues_sheet_adds_up_each_month_and_the_year(ledger_branch, personas):
    people = ledger_branch.people
    member_services.record_dues_payment(member=people[1], month=date(YEAR, 3, 1), paid_on=date(YEAR, 3, 20),
                                        amount=Decimal("12.50"), today=AS_OF)  # fmt: skip
    sheet = _book(ledger_branch, personas[Role.SECRETARY])["党费收缴"]
    rows = _table(sheet)
    total = rows[-1]
    assert (total["序号"], total["姓名"]) == (None, exports.TOTAL)
    months = [total[f"{m}月"] for m in range(1, 13)]
    assert months == [10, 10, 22.5, *[0] * 9]
    assert (total["已缴月数"], total["合计（元）"]) == (4, 42.5)
    assert [r["序号"] for r in rows[:-1]] == list(range(1, len(rows)))
    member = next(r for r in rows if r["姓名"] == "党员1")
    assert member["3月"] == 12.5 and member["合计（元）"] == 12.5
    # Amounts are numbers in Excel (the 合计 row too), not text.
    last = sheet.max_row
    header = [c.value for c in sheet[1]]
    for title in ("3月", "合计（元）"):
        assert sheet.cell(row=last, column=header.index(title) + 1).data_type == "n"
    assert sheet.cell(row=last, column=header.index("姓名") + 1).font.b  # the 合计 row reads apart
    assert not sheet.cell(row=last - 1, column=header.index("姓名") + 1).font.b


def test_a_summary_total_takes_no_serial_number(ledger_branch, personas, tree):
    rows = _table(_summary(tree.township, personas[Role.TOWNSHIP_ADMIN], YEAR)["完成率汇总"])
    totals = [r for r in rows if r["规则"] == exports.TOTAL]
    items = [r for r in rows if r["规则"] != exports.TOTAL]
    assert totals and all(r["序号"] is None for r in totals)
    assert [r["序号"] for r in items] == list(range(1, len(items) + 1))
    assert rows[-1]["党支部"] == exports.TOTAL
    sheet = _summary(tree.township, personas[Role.TOWNSHIP_ADMIN], YEAR)["完成率汇总"]
    assert sheet.cell(row=sheet.max_row, column=2).font.b
