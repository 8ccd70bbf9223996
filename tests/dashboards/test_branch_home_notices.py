"""The branch home tells the secretary what the township office returned, when the next 主题党日 is once
this month's is held, and what a 组织生活会 marked 已完成 still lacks (defects found walking the demo)."""

from datetime import date
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from branches.models import Role
from compliance import engine
from compliance.models import Flag, RuleSetting
from dashboards import selectors
from evaluations import services as review_services
from meetings import services as meeting_services
from tests.compliance.conftest import hold
from tests.conftest import make_campaign

AS_OF = date(2026, 11, 25)  # the fixed 主题党日 of November is Friday the 27th, of December the 25th


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr("dashboards.views._today", lambda: AS_OF)
    return AS_OF


def _home(client, branch):
    return unescape(client.get(reverse("dashboards:branch", args=[branch.pk])).content.decode())


def _row(page, rule_name):
    """The 本期事项 item of the rule."""
    [row] = [item.split("</li>")[0] for item in page.split('<li class="list-group-item">')
             if f'<span class="fw-semibold">{rule_name}</span>' in item]  # fmt: skip
    return row


def _returned_review(branch, year, comment):
    campaign = make_campaign(branch, year=year, campaign_on=date(year, 11, 25), grades={}, close=True)
    return review_services.return_campaign(campaign=campaign, comment=comment)


def _thin_org_life(branch, held_on):
    """A 组织生活会 recorded with its date and 主题 only, and the engine's warning about its records."""
    meeting = hold(branch, ["org_life_meeting"], held_on, for_year=held_on.year)
    engine.refresh(as_of=AS_OF, branch_ids=[branch.pk])
    return meeting


# ---------------------------------------------------------------- 1. a returned 民主评议


def test_a_returned_review_is_listed_with_the_offices_comment_and_a_link(client, township, personas, today):
    """Once the home said only “○ 待完成 民主评议党员 0/1”: no 退回, no comment."""
    campaign = _returned_review(township.a1, 2026, "评定理由不充分，请补充基本合格等次的依据")
    client.force_login(personas[Role.SECRETARY])
    page = _home(client, township.a1)
    assert "党委退回修改的记录" in page
    link = f'<a href="{reverse("reviews:detail", args=[campaign.pk])}">2026年度民主评议党员</a>'
    assert f"{link}：评定理由不充分，请补充基本合格等次的依据" in page
    # Taken back to be corrected, it is the branch's work in hand again: no longer listed as returned.
    review_services.reopen_campaign(campaign=campaign)
    assert "党委退回修改的记录" not in _home(client, township.a1)


def test_another_branchs_returned_review_is_not_listed(client, township, personas, today):
    _returned_review(township.a2, 2026, "甲村的退回意见")
    client.force_login(personas[Role.SECRETARY])
    page = _home(client, township.a1)
    assert "党委退回修改的记录" not in page and "甲村的退回意见" not in page


def test_branch_home_queries_do_not_grow_with_returned_reviews_or_records_warnings(
    client, township, personas, today
):
    client.force_login(personas[Role.SECRETARY])
    url = reverse("dashboards:branch", args=[township.a1.pk])

    def count():
        client.get(url)  # the bell's count is read once, then cached
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    _returned_review(township.a1, 2026, "第一条退回意见")
    _thin_org_life(township.a1, date(2026, 11, 10))
    few = count()
    for year in (2024, 2025):
        _returned_review(township.a1, year, f"{year}年度的退回意见")
    for day in (12, 16):
        _thin_org_life(township.a1, date(2026, 11, day))
    assert Flag.objects.filter(rule="org_life_records", resolved_on=None).count() == 3
    page = _home(client, township.a1)
    assert "2024年度的退回意见" in page and page.count("材料不全：") == 3
    assert count() == few


# ---------------------------------------------------------------- 2. the next 主题党日


def test_once_this_months_theme_day_is_held_the_home_points_to_next_months(client, township, personas, today):
    """Once the home said “下次主题党日：11月27日 · 记录主题党日” after November's had been recorded."""
    client.force_login(personas[Role.SECRETARY])
    before = _home(client, township.a1)
    assert "下次主题党日：11月27日" in before and "记录主题党日" in before
    # The rule is the branch's: one recorded for one of its 党小组 counts for it.
    held = hold(township.a1, ["theme_day", "group_meeting"], date(2026, 11, 20), group=township.g1)
    page = _home(client, township.a1)
    assert "下次主题党日：12月25日（星期五）" in page
    assert f'本月已于11月20日召开：<a href="{reverse("meetings:detail", args=[held.pk])}">' in page
    assert "记录主题党日" not in page
    # Another branch that held none is still pointed to this month's day.
    assert selectors.next_theme_day(township.a2, on=AS_OF) == (date(2026, 11, 27), None, None)
    # A voided record does not count.
    meeting_services.void_meeting(meeting=held, reason="录错日期")
    assert selectors.next_theme_day(township.a1, on=AS_OF) == (date(2026, 11, 27), None, None)


def test_after_this_months_theme_day_a_switched_off_december_is_announced_as_such(
    client, township, personas, today
):
    hold(township.a1, ["theme_day"], date(2026, 11, 6))
    RuleSetting.objects.create(organisation=township.township, rule="theme_day", enabled=False,
                               effective_from=date(2026, 12, 1))  # fmt: skip
    client.force_login(personas[Role.SECRETARY])
    page = _home(client, township.a1)
    assert "主题党日：本地规则自2026年12月1日起不检查" in page
    assert "下次主题党日" not in page and "记录主题党日" not in page


# ---------------------------------------------------------------- 4. 组织生活会 材料不全


def test_an_org_life_meeting_without_its_records_is_marked_beside_its_tick(client, township, personas, today):
    """Once the row said only “✓ 已完成” while the 待办 list warned 组织生活会材料不全."""
    meeting = _thin_org_life(township.a1, date(2026, 11, 20))
    flag = Flag.objects.get(rule="org_life_records", meeting=meeting, resolved_on=None)
    client.force_login(personas[Role.SECRETARY])
    page = _home(client, township.a1)
    row = _row(page, "组织生活会")
    assert "✓ 已完成" in row and "! 材料不全" in row
    assert f"材料不全：{flag.message}" in row and "缺少：会前征求意见" in row
    assert f'href="{reverse("meetings:edit", args=[meeting.pk])}">补充材料' in row
    # The instructor reads but does not record: the warning leads to the flags instead.
    client.force_login(personas[Role.INSTRUCTOR])
    page = _home(client, township.a1)
    flags_url = f"{reverse('compliance:flags')}?branch={township.a1.pk}&rule=org_life_records"
    assert f'href="{flags_url}">查看提醒' in page and "补充材料" not in page
    assert flag.message in client.get(flags_url).content.decode()
    # Once the flag is resolved, the tick stands alone.
    Flag.objects.filter(pk=flag.pk).update(resolved_on=AS_OF)
    assert "材料不全" not in _home(client, township.a1)
