"""工作概况 and the branch home on a scripted township with known figures."""

import re
from datetime import date
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from branches.models import OrgKind, OrgLevel, Role
from compliance.grid import ending_within, obligation_grid, tally
from compliance.periods import Period, PeriodKind
from dashboards import selectors
from meetings.models import ReviewState
from meetings.services import review_meeting
from tests.compliance.conftest import hold, idn
from tests.conftest import make_member, make_org, make_user

AS_OF = date(2026, 11, 25)
OCTOBER = Period(date(2026, 10, 1), PeriodKind.MONTH)


@pytest.fixture
def today(monkeypatch):
    """The pages judge obligations as of AS_OF."""
    monkeypatch.setattr("dashboards.views._today", lambda: AS_OF)
    return AS_OF


def _scope(user, org=None):
    return selectors.resolve_scope(user, org.pk if org else None)


# ---------------------------------------------------------------- the figures


def test_october_figures_of_the_scripted_township(township, personas):
    scope = _scope(personas[Role.TOWNSHIP_ADMIN])
    data = selectors.overview(scope, period=OCTOBER, as_of=AS_OF)
    total = data["total"]
    assert (total.applicable, total.met, total.overdue, total.not_applicable, total.rate) == (
        6,
        4,
        2,
        2,
        66.7,
    )
    by_rule = {f.rule.code: f.tally for f in data["figures"]}
    assert (by_rule["theme_day"].met, by_rule["theme_day"].overdue) == (1, 1)
    assert (by_rule["group_meeting"].met, by_rule["group_meeting"].overdue) == (1, 1)
    assert by_rule["committee_meeting"].met == 1 and by_rule["committee_meeting"].not_applicable == 1
    assert "general_meeting" not in by_rule  # quarterly: it counts in December, the quarter's last month
    # Members on the roster by category (乙镇 not included); records and 补录 in October.
    members = {value: n for value, _label, n in selectors.members_by_category(scope)}
    assert (members["full"], members["probationary"], members["activist"]) == (4, 1, 0)
    assert selectors.backfill_figures(scope, period=OCTOBER) == {"held": 5, "backfill": 1}


def test_heatmap_rows_are_the_townships_units_and_cells_name_the_worst_state(township, personas):
    scope = _scope(personas[Role.TOWNSHIP_ADMIN])
    data = selectors.overview(scope, period=OCTOBER, as_of=AS_OF)
    rows = {row.name: cells for row, cells in data["heatmap"]}
    assert list(rows) == ["甲社区党委", "甲村党支部"]
    october = {name: cells[9] for name, cells in rows.items()}
    assert (october["甲社区党委"].state, october["甲社区党委"].met, october["甲社区党委"].applicable) == (
        "overdue",
        3,
        4,
    )
    assert (october["甲村党支部"].state, october["甲村党支部"].met, october["甲村党支部"].applicable) == (
        "overdue",
        1,
        2,
    )
    # December: the quarter's and the year's obligations are still open, and nothing is overdue yet.
    assert rows["甲村党支部"][11].state == "due"
    theme = selectors.overview(scope, period=OCTOBER, as_of=AS_OF, rule="theme_day")
    assert [cells[9].symbol for _row, cells in theme["heatmap"]] == ["✓", "×"]


def test_quarter_and_year_figures_are_sums_of_their_months(township, personas):
    scope = _scope(personas[Role.TOWNSHIP_ADMIN])
    year = selectors.overview(scope, period=Period(date(2026, 1, 1), PeriodKind.YEAR), as_of=AS_OF)
    month_totals = [selectors.overview(scope, period=m, as_of=AS_OF)["total"] for m in year["months"]]
    for name in ("met", "due", "due_soon", "overdue", "not_applicable"):
        assert getattr(year["total"], name) == sum(getattr(t, name) for t in month_totals)
    quarter = selectors.overview(scope, period=Period(date(2026, 10, 1), PeriodKind.QUARTER), as_of=AS_OF)
    assert quarter["total"].met == sum(t.met for t in month_totals[9:])
    trend = dict(year["trend"])
    assert (trend[OCTOBER].met, trend[OCTOBER].applicable) == (4, 6)


def test_dashboard_figures_equal_the_grid_that_ledgers_count_with(township, personas):
    """One selector: the overview's figures are obligation_grid → ending_within → tally, nothing else."""
    scope = _scope(personas[Role.TOWNSHIP_ADMIN])
    cells = ending_within(obligation_grid([township.a1.pk, township.a2.pk], since=date(2026, 1, 1), as_of=AS_OF),
                          OCTOBER.start, OCTOBER.end)  # fmt: skip
    assert selectors.overview(scope, period=OCTOBER, as_of=AS_OF)["total"] == tally(cells)
    listed = selectors.obligation_list(scope, period=OCTOBER, as_of=AS_OF, state="overdue")
    assert sorted((r.cell.unit_name, r.cell.rule.code) for r in listed) == [
        ("甲村党支部", "theme_day"),
        ("第二党小组", "group_meeting"),
    ]


def test_pipeline_deadlines_within_thirty_days(township, personas):
    scope = _scope(personas[Role.TOWNSHIP_ADMIN])
    items = selectors.pipeline_deadlines(scope, as_of=date(2026, 8, 25))
    # 预备党员 joined 1 June: the 党委 should approve within three months (by 1 September).
    assert [(i.name, i.deadline.code, i.overdue) for i in items] == [("预备党员", "approval", False)]
    assert selectors.pipeline_deadlines(scope, as_of=date(2026, 7, 1)) == []


def test_pipeline_deadlines_follow_an_extended_probation(township, personas):
    from members import services as member_services
    from members.models import Member

    scope = _scope(personas[Role.TOWNSHIP_ADMIN])
    probationer = Member.objects.get(name="预备党员")
    member_services.record_pipeline_event(member=probationer, kind="approval", happened_on=date(2026, 8, 1),
                                          today=date(2026, 8, 1))  # fmt: skip
    # Joined 1 June 2026: the year ends 1 June 2027, six months more end 1 December 2027.
    member_services.record_pipeline_event(member=probationer, kind="extension", happened_on=date(2026, 8, 2),
                                          months=6, today=date(2026, 8, 2))  # fmt: skip
    assert selectors.pipeline_deadlines(scope, as_of=date(2027, 5, 20)) == []
    items = selectors.pipeline_deadlines(scope, as_of=date(2027, 11, 20))
    assert [(i.name, i.deadline.code, i.deadline.due_on) for i in items] == [
        ("预备党员", "probation_end", date(2027, 12, 1))
    ]


# ---------------------------------------------------------------- pages and drill-down


NUMBER_LINK = re.compile(r'<a[^>]*href="(?P<href>/(?:dashboard/obligations|todo|members|meetings)/\?[^"]*)"[^>]*>'
                         r"(?:[^<0-9]*?)(?P<n>\d+)(?:\s*(?:项|条|个支部))?\s*</a>")  # fmt: skip
TOTALS = re.compile(r"共 (\d+) (?:项|条|人)")


HEAT_CELL = re.compile(
    r'<td class="zb-heat zb-state-\w+"><a [^>]*title="(?P<title>[^"]*)">(?P<text>.*?)</a></td>'
)


def test_every_heatmap_cell_shows_its_count_one_obligation_or_many(client, township, personas, today):
    """A cell of one obligation (one rule chosen, one branch) shows 1/1 or 0/1 as cells of several do."""
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    url = reverse("dashboards:township")
    shown = {}
    for rule in ("", "theme_day"):
        page = client.get(url, {"kind": "month", "on": "2026-10-01", "rule": rule}).content.decode()
        for m in HEAT_CELL.finditer(page):
            text = re.sub(r'<span class="visually-hidden">.*?</span>', "", m["text"])
            shown[(rule, unescape(m["title"]).split("：")[0])] = re.sub(r"<[^>]+>", "", text)
    assert shown[("", "甲社区党委 2026年10月")] == "× 3/4"
    assert shown[("theme_day", "甲社区党委 2026年10月")] == "✓ 1/1"
    assert shown[("theme_day", "甲村党支部 2026年10月")] == "× 0/1"
    page = client.get(url, {"kind": "month", "on": "2026-10-01", "rule": "theme_day"})
    chart = {(c["x"], c["y"]): c["n"] for c in page.context["heat_json"]["cells"]}
    assert (chart[(9, 0)], chart[(9, 1)]) == ("1/1", "0/1")  # the chart's labels say the same


def test_every_number_links_to_a_list_of_as_many_items(client, township, personas, today):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    page = client.get(reverse("dashboards:township"), {"kind": "month", "on": "2026-10-01"})
    assert page.status_code == 200
    links = [(unescape(m["href"]), int(m["n"])) for m in NUMBER_LINK.finditer(page.content.decode())]
    assert len(links) > 20
    for href, number in links:
        target = client.get(href)
        assert target.status_code == 200, href
        totals = TOTALS.findall(target.content.decode())
        assert totals and int(totals[0]) == number, (href, number, totals)


def test_the_rate_links_to_every_applicable_and_not_applicable_obligation(client, township, personas, today):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    listed = client.get(
        reverse("dashboards:obligations"), {"kind": "month", "on": "2026-10-01"}
    ).content.decode()
    assert "共 8 项" in listed  # 6 applicable + 2 not applicable, each with the reason
    assert "不适用：未实行支组合一" in listed


def test_drill_down_from_township_to_the_record(client, township, personas, today):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    overview = client.get(
        reverse("dashboards:township"), {"kind": "month", "on": "2026-10-01"}
    ).content.decode()
    community = f"{reverse('dashboards:township')}?org={township.community.pk}&kind=month&on=2026-10-01"
    assert community in unescape(overview)  # township → 社区党委
    sub = client.get(community).content.decode()
    assert "甲社区第一党支部" in sub and "甲村党支部" not in sub
    cell = f"{reverse('dashboards:obligations')}?org={township.a1.pk}&kind=month&on=2026-10-01"
    assert cell in unescape(sub)  # the branch's October cell → its obligations
    listed = client.get(cell).content.decode()
    checklist = f"{reverse('compliance:checklist', args=[township.a1.pk])}?on=2026-10-31"
    assert checklist in listed  # → the obligation on its 本期事项 page
    records = client.get(checklist).content.decode()
    meeting = township.a1.meetings.get(held_on=date(2026, 10, 9))
    assert reverse("meetings:detail", args=[meeting.pk]) in records  # → the record that met it
    assert client.get(reverse("meetings:detail", args=[meeting.pk])).status_code == 200


def test_a_general_branch_sees_only_its_subtree(client, township, personas, today):
    general = make_org(township.township, "甲镇机关党总支", OrgLevel.GENERAL_BRANCH, OrgKind.GOVERNMENT)
    inside = make_org(general, "机关第一党支部", kind=OrgKind.GOVERNMENT)
    hold(inside, ["theme_day"], date(2026, 10, 30))
    user = make_user("zongzhi", Role.TOWNSHIP_ADMIN, general)
    client.force_login(user)
    assert client.get("/")["Location"] == reverse("dashboards:township")
    page = client.get(reverse("dashboards:township"), {"kind": "month", "on": "2026-10-01"}).content.decode()
    assert "机关第一党支部" in page and "甲社区第一党支部" not in page and "甲村党支部" not in page
    scope = _scope(user)
    assert scope.branch_ids == [inside.pk]
    assert selectors.overview(scope, period=OCTOBER, as_of=AS_OF)["total"].met == 1
    for org in (township.township, township.a1, township.b1):
        assert client.get(reverse("dashboards:township"), {"org": org.pk}).status_code == 404
        assert client.get(reverse("dashboards:obligations"), {"org": org.pk}).status_code == 404


def test_roles_without_an_organisation_overview(client, personas):
    client.force_login(personas[Role.GROUP_LEADER])
    assert client.get(reverse("dashboards:township")).status_code == 403
    client.force_login(personas[Role.MEMBER])
    assert client.get(reverse("dashboards:township")).status_code == 403


def test_an_instructor_sees_their_branches_side_by_side(client, township, personas, today):
    user = make_user("zhidao", Role.INSTRUCTOR, township.a1)
    from branches.models import RoleAssignment

    RoleAssignment.objects.create(user=user, organisation=township.a2, role=Role.INSTRUCTOR)
    client.force_login(user)
    page = client.get(reverse("dashboards:township"), {"kind": "month", "on": "2026-10-01"}).content.decode()
    assert "甲社区第一党支部" in page and "甲村党支部" in page and "乙村党支部" not in page


# ---------------------------------------------------------------- empty states


def test_a_new_township_with_no_branches_or_meetings(client, db, today):
    empty = make_org(
        None, "新镇党委", OrgLevel.PARTY_COMMITTEE, OrgKind.TOWNSHIP, founded_on=date(2026, 11, 2)
    )
    client.force_login(make_user("xin", Role.TOWNSHIP_ADMIN, empty))
    page = client.get(reverse("dashboards:township"))
    assert page.status_code == 200 and "该范围内还没有党支部" in page.content.decode()
    make_org(empty, "新建党支部", founded_on=date(2026, 11, 2))
    page = client.get(reverse("dashboards:township")).content.decode()
    assert "本期没有截止的组织生活事项" in page and "本期没有逾期事项" in page
    assert "30日内没有到期的发展党员事项" in page
    assert client.get(reverse("dashboards:obligations")).status_code == 200


def test_a_superuser_on_a_fresh_install(client, db, today):
    from django.contrib.auth import get_user_model

    client.force_login(
        get_user_model().objects.create_superuser("root", "r@example.invalid", "pw-Testing-123")
    )
    assert "该范围内还没有党支部" in client.get(reverse("dashboards:township")).content.decode()


# ---------------------------------------------------------------- query counts


def _branches_with_meetings(parent, count):
    for i in range(count):
        branch = make_org(parent, f"新建第{i}党支部", founded_on=date(2020, 1, 1))
        make_org(branch, "第一党小组", OrgLevel.GROUP, founded_on=date(2020, 1, 1))
        hold(branch, ["theme_day"], date(2026, 10, 30))


def test_dashboard_queries_do_not_depend_on_the_number_of_branches(client, tree, personas, today):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    url = reverse("dashboards:township")

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url, {"kind": "year", "on": "2026-01-01"}).status_code == 200
        return len(ctx.captured_queries)

    _branches_with_meetings(tree.township, 5)
    few = count()
    _branches_with_meetings(tree.community, 55)
    assert count() == few


def test_branch_home_queries_do_not_depend_on_members_needing_attention(client, tree, personas, today):
    client.force_login(personas[Role.SECRETARY])
    url = reverse("dashboards:branch", args=[tree.a1.pk])
    make_member(
        tree.a1, tree.g1, idn(1), name="党员1", joined_on=date(2005, 12, 1), confirmed_on=date(2006, 12, 1)
    )

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    from compliance.engine import refresh

    refresh(as_of=date(2026, 12, 1), branch_ids=[tree.a1.pk])
    few = count()
    for i in range(2, 8):
        make_member(
            tree.a1,
            tree.g2,
            idn(i),
            name=f"党员{i}",
            joined_on=date(2005, 12, 1),
            confirmed_on=date(2006, 12, 1),
        )
    refresh(as_of=date(2026, 12, 1), branch_ids=[tree.a1.pk])
    assert count() == few


# ---------------------------------------------------------------- the branch home


def test_branch_home_lists_this_periods_obligations_with_a_prefilled_record_button(
    client, township, personas
):
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("dashboards:branch", args=[township.a1.pk])).content.decode()
    assert "本期事项" in page and "主题党日" in page and "下次主题党日" in page
    prefill = f"{reverse('meetings:create')}?branch={township.a1.pk}&type=theme_day"
    assert prefill in unescape(page)
    form = client.get(prefill).content.decode()
    assert re.search(r'value="theme_day"[^>]*checked', form)
    # 谈心谈话 and 民主评议 are not meetings: their buttons open their own pages, as on 本期事项.
    assert f'href="{reverse("meetings:talks", args=[township.a1.pk])}"' in page
    assert f'href="{reverse("reviews:branch", args=[township.a1.pk])}"' in page


def test_branch_home_shows_returned_records_and_members_needing_attention(client, township, personas):
    meeting = township.a1.meetings.get(held_on=date(2026, 10, 9))
    review_meeting(meeting=meeting, decision=ReviewState.RETURNED, comment="缺少会议记录")
    from compliance.models import Flag

    member = township.a1.members.get(name="党员1")
    Flag.objects.create(key="t1", rule="dues_arrears", state="overdue", branch=township.a1, member=member,
                        message="党员1：连续3个月未交党费", raised_on=AS_OF)  # fmt: skip
    client.force_login(personas[Role.COMMITTEE_MEMBER])
    page = client.get(reverse("dashboards:branch", args=[township.a1.pk])).content.decode()
    assert "党委退回修改的记录" in page and "缺少会议记录" in page
    assert "需要关注的党员" in page and "连续3个月未交党费" in page
    listed = (
        client.get(reverse("compliance:flags"), {"branch": township.a1.pk}).context["page"].paginator.count
    )
    assert f"全部待办提醒（共 {listed} 条）" in page  # the count the link's list shows, members' items too


def test_branch_home_of_a_branch_out_of_scope_is_404(client, township, personas):
    client.force_login(personas[Role.SECRETARY])
    assert client.get(reverse("dashboards:branch", args=[township.b1.pk])).status_code == 404
    assert client.get(reverse("dashboards:branch", args=[township.a2.pk])).status_code == 404


def test_next_theme_day_is_the_last_friday():
    assert selectors.next_theme_day(None, on=date(2026, 10, 1)) == (date(2026, 10, 30), None, None)
    assert selectors.next_theme_day(None, on=date(2026, 10, 31)) == (date(2026, 11, 27), None, None)


def test_the_year_on_the_dashboard_equals_the_township_ledger_and_the_todo_list(client, township, personas):
    """The three places a township office reads its year: the overview, the summary workbook, the flags."""
    from io import BytesIO

    from openpyxl import load_workbook

    from compliance import engine
    from compliance.models import Flag
    from ledgers import exports, xlsx

    office = personas[Role.TOWNSHIP_ADMIN]
    year = Period(date(2026, 1, 1), PeriodKind.YEAR)
    dashboard = selectors.overview(_scope(office), period=year, as_of=AS_OF)["total"]
    buffer = BytesIO()
    xlsx.render(exports.summary_book(township.township, year=2026, user=office, as_of=AS_OF), buffer)
    buffer.seek(0)
    rows = list(load_workbook(buffer)["完成率汇总"].iter_rows(min_row=2, values_only=True))
    ledger_total = rows[-1]
    assert ledger_total[1:3] == ("合计", "合计")
    assert list(ledger_total[3:9]) == [dashboard.applicable, dashboard.met, dashboard.overdue,
                                       dashboard.due_soon, dashboard.due, dashboard.not_applicable]  # fmt: skip
    engine.refresh(as_of=AS_OF, since=date(2026, 1, 1))
    overdue_flags = Flag.objects.filter(
        resolved_on__isnull=True, state="overdue", period_start__year=2026, period_end__lte=date(2026, 12, 31),
        branch__path__startswith=township.township.path, member__isnull=True, meeting__isnull=True,
    ).exclude(rule="committee_term")  # fmt: skip
    assert dashboard.overdue > 0 and overdue_flags.count() == dashboard.overdue


def test_branch_home_announces_no_theme_day_once_a_local_rule_stopped_checking_it(
    client, township, personas, today
):
    """Once the home still said “下次主题党日：11月27日” with a “记录主题党日” button after the township
    switched the 主题党日 off for its branches."""
    from compliance.models import RuleSetting

    client.force_login(personas[Role.SECRETARY])
    url = reverse("dashboards:branch", args=[township.a1.pk])
    RuleSetting.objects.create(organisation=township.township, rule="theme_day", enabled=False,
                               effective_from=date(2026, 11, 1))  # fmt: skip
    page = client.get(url).content.decode()
    assert "主题党日：本地规则自2026年11月1日起不检查" in page
    assert "下次主题党日" not in page and "记录主题党日" not in page
    assert selectors.next_theme_day(township.a1, on=AS_OF) == (date(2026, 11, 27), date(2026, 11, 1), None)
    # The branch's own setting, nearer, checks it again from December: the next one (after 27 November's
    # date has passed) is announced again.
    RuleSetting.objects.create(organisation=township.a1, rule="theme_day", enabled=True,
                               effective_from=date(2026, 12, 1))  # fmt: skip
    assert selectors.next_theme_day(township.a1, on=date(2026, 11, 28)) == (date(2026, 12, 25), None, None)
    assert selectors.next_theme_day(township.a2, on=date(2026, 11, 28)) == (
        date(2026, 12, 25),
        date(2026, 11, 1),
        None,
    )


def test_the_pipeline_list_is_as_of_today_and_offers_no_period(client, township, personas, today):
    """Once the page showed 月度/季度/年度 and ‹ › for “2025年3月” over a list that ignored them."""
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    response = client.get(reverse("dashboards:pipeline"), {"kind": "month", "on": "2025-03-01"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "截至今天（2026年11月25日）" in page and "不按月度、季度或年度筛选" in page
    assert 'name="kind"' not in page and "上一期" not in page and "2025年3月" not in page
    # The way back to the overview keeps the period it came from.
    assert f"{reverse('dashboards:township')}?kind=month&amp;on=2025-03-01" in page
    overview = client.get(reverse("dashboards:township")).content.decode()
    assert 'name="kind"' in overview and "上一期" in overview  # the overview keeps its controls


HEAT_LINK = re.compile(
    r'<td class="zb-heat zb-state-\w+"><a href="(?P<href>[^"]*)" title="[^"]*已完成 \d+/(?P<n>\d+)">'
)
TREND_LINK = re.compile(r'<a href="(?P<href>/dashboard/obligations/\?[^"]*)">\d+/(?P<n>\d+)</a>')


def test_heatmap_cells_and_trend_months_link_to_as_many_obligations_as_they_count(
    client, township, personas, today
):
    """A cell or month reading met/applicable opens the applicable obligations: 不适用 ones are not among them."""
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    page = client.get(reverse("dashboards:township"), {"kind": "month", "on": "2026-10-01"}).content.decode()
    links = [(unescape(m["href"]), int(m["n"])) for p in (HEAT_LINK, TREND_LINK) for m in p.finditer(page)]
    assert len(links) > 5
    for href, number in links:
        totals = TOTALS.findall(client.get(href).content.decode())
        assert totals and int(totals[0]) == number, (href, number, totals)
