"""本地规则 as the township office changes them: the confirmation before closed periods are judged again, a
mistaken setting withdrawn before it takes effect, dates kept within reach, and who saved what when."""

import json
import re
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from branches.models import Role
from compliance import engine, local, services
from compliance.models import Flag, RuleSetting
from compliance.rules import DEFAULT_THEME_DAY, THEME_DAY_SETTING, theme_day_in

TODAY = date(2026, 12, 8)
ON_THE_10TH = 10
LAST_FRIDAY = DEFAULT_THEME_DAY


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args, **kwargs: TODAY)
    return TODAY


@pytest.fixture
def office(client, personas):
    user = personas[Role.TOWNSHIP_ADMIN]
    user.last_name, user.first_name = "赵", "组织员"
    user.save()
    client.force_login(user)
    return client


def post_setting(client, organisation, **fields):
    data = {"organisation": organisation.pk, "enabled": "1", "confirm_rejudge": "", **fields}
    return client.post(reverse("compliance:settings"), data)


def read(response):
    """The page as a reader sees it: inline tags vanish, block tags separate, whitespace collapses."""
    html = re.sub(r"</?(span|a|time|s)\b[^>]*>", "", response.content.decode())
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def open_committee_flags(branch):
    return {
        (f.period_start, f.state)
        for f in Flag.objects.filter(branch=branch, rule="committee_meeting", resolved_on__isnull=True)
    }


# ---------------------------------------------------------------- the confirmation before closed periods


def test_a_longer_period_from_the_quarters_first_day_asks_before_the_closed_months_are_judged_again(
    office, branch, today, django_capture_on_commit_callbacks
):
    """支部委员会会议 once a quarter from 1 October where it was monthly: October and November, closed and
    overdue, are judged again by the quarter. That was done silently; the page now asks first."""
    engine.refresh(as_of=today, since=date(2026, 1, 1))
    assert (date(2026, 11, 1), "overdue") in open_committee_flags(branch)
    fields = {
        "rule": "committee_meeting",
        "count": "1",
        "period_kind": "quarter",
        "effective_from": "2026-10-01",
    }
    response = post_setting(office, branch, **fields)
    assert response.status_code == 200 and list(response.context["form"].errors) == ["confirm_rejudge"]
    page = read(response)
    assert "我确认：将按新规定重新判断2026-10-01以来已结束的周期" in page
    assert "否则请改为本期开始（2026-12-01）或以后的日期" in page  # the monthly rule's current period
    assert not RuleSetting.objects.exists()
    assert (date(2026, 11, 1), "overdue") in open_committee_flags(branch)  # nothing judged again

    with django_capture_on_commit_callbacks(execute=True):
        response = post_setting(office, branch, **fields, confirm_rejudge="1")
    assert response.status_code == 302
    assert (date(2026, 11, 1), "overdue") not in open_committee_flags(branch)  # judged by the quarter now


@pytest.mark.parametrize(
    ("before", "fields", "needed"),
    [
        # No setting before: the default monthly rule's December has begun, so from its first day nothing ends.
        (None, {"count": "1", "period_kind": "quarter", "effective_from": "2026-12-01"}, False),
        # Quarterly since 2025: twice a quarter from the quarter's first day judges no closed period again.
        ("quarter", {"count": "2", "period_kind": "quarter", "effective_from": "2026-10-01"}, False),
        # Quarterly since 2025, monthly from October: October and November end under the new rule.
        ("quarter", {"count": "1", "period_kind": "month", "effective_from": "2026-10-01"}, True),
        # Switched off until now: nothing was judged, the new quarter has not ended.
        ("off", {"count": "1", "period_kind": "quarter", "effective_from": "2026-10-01"}, False),
    ],
)
def test_the_confirmation_follows_the_setting_in_force_on_the_date(
    office, tree, today, before, fields, needed
):
    if before == "quarter":
        RuleSetting.objects.create(organisation=tree.township, rule="committee_meeting", count=1,
                                   period_kind="quarter", effective_from=date(2025, 1, 1))  # fmt: skip
    elif before == "off":
        RuleSetting.objects.create(organisation=tree.township, rule="committee_meeting", enabled=False,
                                   effective_from=date(2025, 1, 1))  # fmt: skip
    response = post_setting(office, tree.township, rule="committee_meeting", **fields)
    if needed:
        assert response.status_code == 200 and list(response.context["form"].errors) == ["confirm_rejudge"]
    else:
        assert response.status_code == 302, response.context["form"].errors


def test_a_branchs_own_monthly_rule_below_is_taken_into_account(office, tree, today):
    """The township's quarter from 1 October takes over, in 甲社区第一党支部, from that branch's own monthly
    rule (the latest date wins): its closed months are judged again, and the page asks."""
    RuleSetting.objects.create(organisation=tree.township, rule="committee_meeting", count=1,
                               period_kind="quarter", effective_from=date(2025, 1, 1))  # fmt: skip
    RuleSetting.objects.create(organisation=tree.a1, rule="committee_meeting", count=1, period_kind="month",
                               effective_from=date(2026, 1, 1))  # fmt: skip
    fields = {
        "rule": "committee_meeting",
        "count": "2",
        "period_kind": "quarter",
        "effective_from": "2026-10-01",
    }
    response = post_setting(office, tree.township, **fields)
    assert list(response.context["form"].errors) == ["confirm_rejudge"]
    # The page's script is given the same timelines, by organisation and rule, to show the box at once.
    page = office.get(reverse("compliance:settings")).content.decode()
    data = json.loads(re.search(r'data-timelines="([^"]*)"', page)[1].replace("&quot;", '"'))
    township = data["lists"][data["at"][f"{tree.township.pk}:committee_meeting"]]
    assert township == [
        [["", "2026-12-01"], ["2025-01-01", "2026-10-01"]],  # the township's own: quarterly since 2025
        [["", "2026-12-01"], ["2025-01-01", "2026-10-01"], ["2026-01-01", "2026-12-01"]],  # the branch below
    ]
    assert f"{tree.a2.pk}:committee_meeting" in data["at"]  # reached from above
    assert f"{tree.township.pk}:theme_day" not in data["at"]  # no setting: the rule's default, said once


# ---------------------------------------------------------------- dates within reach


def test_a_date_beyond_the_end_of_next_year_is_refused(office, tree, today):
    response = post_setting(office, tree.township, rule="theme_day", enabled="0", effective_from="9999-12-31")
    assert response.status_code == 200
    assert response.context["form"].errors["effective_from"] == [
        "生效日期不能晚于2027-12-31（明年年底）：更晚才施行的规定，请到时再设置。"
    ]
    assert 'max="2027-12-31"' in response.content.decode()  # the date picker stops there too
    assert not RuleSetting.objects.exists()
    assert (
        post_setting(
            office, tree.township, rule="theme_day", enabled="0", effective_from="2027-12-31"
        ).status_code
        == 302
    )


# ---------------------------------------------------------------- withdrawing a mistake


def add_theme_day(client, tree, day_value, effective_from="2027-01-01"):
    return post_setting(client, tree.township, rule=THEME_DAY_SETTING, theme_day=str(day_value),
                        effective_from=effective_from)  # fmt: skip


def test_a_mistaken_setting_is_withdrawn_with_its_reason_and_the_right_one_set_on_the_same_day(
    office, tree, today
):
    assert add_theme_day(office, tree, ON_THE_10TH).status_code == 302
    again = add_theme_day(office, tree, LAST_FRIDAY)
    assert "该组织同一规则在这一天已有设置：如果那条设置有误，请先在“已有设置”中将其撤销" in read(again)
    wrong = RuleSetting.objects.get()
    url = reverse("compliance:setting_withdraw", args=[wrong.pk])
    listing = office.get(reverse("compliance:settings")).content.decode()
    assert f'href="{url}"' in listing  # offered on the pending setting

    page = office.get(url)
    assert page.status_code == 200
    assert "撤销本地规则：甲镇党委 · 主题党日固定日期（每月10日，2027-01-01起）" in read(page)
    response = office.post(url, {"reason": " "})
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    assert RuleSetting.objects.get().voided_at is None

    response = office.post(url, {"reason": "日期选错，应为每月最后一个星期五"}, follow=True)
    assert "已撤销该设置" in read(response)
    wrong.refresh_from_db()
    assert wrong.voided_at and wrong.void_reason == "日期选错，应为每月最后一个星期五"
    assert wrong.voided_by.username == Role.TOWNSHIP_ADMIN.value
    assert wrong.history.count() == 2  # kept, with the withdrawal as a change

    # A second click (or the back button) withdraws nothing twice and says so.
    again = office.post(url, {"reason": "再次"})
    assert again.status_code == 200 and "它不会生效，无需再次撤销" in read(again)
    assert wrong.history.count() == 2

    assert add_theme_day(office, tree, LAST_FRIDAY).status_code == 302
    listing = read(office.get(reverse("compliance:settings")))
    assert "待生效 甲镇党委 · 主题党日固定日期 · 每月最后一个星期五 · 2027-01-01起" in listing
    assert "已撤销 甲镇党委 · 主题党日固定日期 · 每月10日 · 2027-01-01起" in listing
    voided = timezone.localtime(wrong.voided_at)
    assert f"撤销：{voided:%Y-%m-%d %H:%M} 组织员 赵，原因：日期选错，应为每月最后一个星期五" in listing
    assert RuleSetting.objects.count() == 2


def test_a_setting_in_force_cannot_be_withdrawn(office, tree, today):
    setting = RuleSetting.objects.create(organisation=tree.township, rule="theme_day", enabled=False,
                                         effective_from=date(2026, 12, 1))  # fmt: skip
    url = reverse("compliance:setting_withdraw", args=[setting.pk])
    assert f'href="{url}"' not in office.get(reverse("compliance:settings")).content.decode()
    for response in (office.get(url), office.post(url, {"reason": "不想要了"})):
        assert response.status_code == 200
        assert "该设置已于2026-12-01生效，不能撤销：如需改变，请新增一条自以后某日起的设置" in read(response)
    setting.refresh_from_db()
    assert setting.voided_at is None
    with pytest.raises(ValidationError, match="不能撤销"):
        services.withdraw_setting(setting=setting, reason="x", user=None)
    # The same day taken by a setting in force: the page says a later day is the way.
    response = post_setting(office, tree.township, rule="theme_day", enabled="0", effective_from="2026-12-01")
    assert "这一天已有设置，且已经生效，不能撤销：如需改变，请选择以后的生效日期另行设置" in read(response)


def test_another_townships_setting_cannot_be_withdrawn(office, tree, today):
    setting = RuleSetting.objects.create(organisation=tree.other_township, rule="theme_day", enabled=False,
                                         effective_from=date(2027, 1, 1))  # fmt: skip
    url = reverse("compliance:setting_withdraw", args=[setting.pk])
    assert office.get(url).status_code == 404
    assert office.post(url, {"reason": "x"}).status_code == 404
    setting.refresh_from_db()
    assert setting.voided_at is None


def test_a_withdrawn_setting_never_takes_effect(tree, branch, today, personas):
    """What the engine and the meeting form read (requires the filter on voided_at in compliance/engine.py
    `_settings_query` and compliance/local.py)."""
    wrong = services.add_setting(organisation=tree.township, rule=THEME_DAY_SETTING, enabled=True,
                                 count=ON_THE_10TH, effective_from=date(2027, 1, 1))  # fmt: skip
    off = services.add_setting(organisation=tree.township, rule="committee_meeting", enabled=False,
                               effective_from=date(2027, 1, 1))  # fmt: skip
    for setting in (wrong, off):
        services.withdraw_setting(setting=setting, reason="设错了", user=personas[Role.TOWNSHIP_ADMIN])
    january = date(2027, 1, 20)
    fresh = type(branch).objects.get(pk=branch.pk)  # as a request loads it
    assert local.fixed_theme_day(fresh, january) == theme_day_in(2027, 1, LAST_FRIDAY)
    assert local.switched_off_since(fresh, "committee_meeting", on=january) is None
    assert engine.settings_in_force(january) == []


# ---------------------------------------------------------------- who saved what, when


def test_the_list_says_when_each_setting_was_saved_and_by_whom(office, tree, today):
    assert (
        post_setting(
            office, tree.township, rule="theme_day", enabled="0", effective_from="2027-01-01"
        ).status_code
        == 302
    )
    setting = RuleSetting.objects.get()
    saved = timezone.localtime(setting.history.get().history_date)
    listing = read(office.get(reverse("compliance:settings")))
    assert f"保存：{saved:%Y-%m-%d %H:%M} 组织员 赵" in listing
