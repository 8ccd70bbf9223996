"""本地规则 beyond frequencies: the 主题党日 fixed day, the 补录 threshold and the committee term, each from its
effective date, set by the township office for its subtree."""

import re
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from branches import services as branch_services
from branches.models import Organisation, OrgKind, OrgLevel, Role
from compliance import engine, local, services
from compliance.models import Flag, RuleSetting
from compliance.rules import (
    BACKFILL_SETTING,
    DEFAULT_THEME_DAY,
    TERM_SETTING,
    THEME_DAY_CHOICES,
    THEME_DAY_SETTING,
    theme_day_in,
    value_in_force,
)
from tests.compliance.conftest import hold
from tests.conftest import make_org

ON_THE_15TH = 15


# ---------------------------------------------------------------- pure


def test_fixed_days_and_their_labels():
    assert theme_day_in(2026, 10, DEFAULT_THEME_DAY) == date(2026, 10, 30)  # the last Friday
    assert theme_day_in(2026, 2, 101) == date(2026, 2, 23)  # the last Monday of a short month
    assert theme_day_in(2024, 2, 107) == date(2024, 2, 25)  # the last Sunday of a leap February
    assert theme_day_in(2026, 2, 28) == date(2026, 2, 28)
    labels = dict(THEME_DAY_CHOICES)
    assert labels[DEFAULT_THEME_DAY] == "每月最后一个星期五" and labels[15] == "每月15日"
    assert max(value for value in labels if value < 100) == 28  # a day every month has


def test_the_value_in_force_on_a_day():
    timeline = [(date(2025, 1, 1), 5), (date(2026, 7, 1), 10)]
    assert value_in_force(timeline, date(2024, 12, 31), 3) == 3
    assert value_in_force(timeline, date(2025, 1, 1), 3) == 5
    assert value_in_force(timeline, date(2026, 6, 30), 3) == 5
    assert value_in_force(timeline, date(2026, 7, 1), 3) == 10


# ---------------------------------------------------------------- the settings page


@pytest.fixture
def office(client, personas):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    return client


def post_setting(client, tree, **fields):
    # 2026-01-01 is before this month: the page asks to confirm that ended periods are judged again.
    data = {"organisation": tree.township.pk, "enabled": "1", "effective_from": "2026-01-01",
            "confirm_rejudge": "1", **fields}  # fmt: skip
    return client.post(reverse("compliance:settings"), data)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rule": THEME_DAY_SETTING}, "请选择主题党日的固定日期"),
        ({"rule": THEME_DAY_SETTING, "theme_day": "15", "enabled": "0"}, "该设置不能选择“不检查”"),
        ({"rule": THEME_DAY_SETTING, "theme_day": "15", "period_kind": "month"}, "该设置没有周期"),
        ({"rule": BACKFILL_SETTING, "count": "31"}, "补录认定的工作日数应在1到30之间"),
        ({"rule": BACKFILL_SETTING}, "补录认定的工作日数应在1到30之间"),
        ({"rule": TERM_SETTING, "count": "4"}, "委员会任期应为3年或5年"),
    ],
)
def test_a_local_value_is_checked_and_nothing_saved_on_a_mistake(office, tree, fields, message):
    response = post_setting(office, tree, **fields)
    assert response.status_code == 200 and message in response.content.decode()
    assert not RuleSetting.objects.exists()


def test_the_backfill_threshold_saved_with_the_default_date_takes_effect_today(office, tree, monkeypatch):
    """The form's default 生效日期 is the month's first day, which 补录认定 (from today on) would refuse:
    the office that changes only the number and submits gets a setting effective today."""
    today = date(2026, 11, 23)
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args, **kwargs: today)
    page = office.get(reverse("compliance:settings")).content.decode()
    default = re.search(r'name="effective_from" value="([0-9-]+)"', page)[1]
    assert default == "2026-11-01" and "补录认定只能自今天起生效，默认即为今天" in page
    assert 'data-backfill-day="2026-11-23"' in page  # what the page's script shows on choosing 补录认定
    response = post_setting(office, tree, rule=BACKFILL_SETTING, count="5", effective_from=default)
    assert response.status_code == 302, response.content.decode()
    setting = RuleSetting.objects.get(rule=BACKFILL_SETTING)
    assert (setting.count, setting.effective_from) == (5, today)
    # A date chosen by hand is the office's: an earlier one is still refused, with the reason.
    response = post_setting(office, tree, rule=BACKFILL_SETTING, count="6", effective_from="2026-11-02")
    assert response.status_code == 200
    assert "补录认定只能自今天或以后生效" in response.content.decode()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"rule": "theme_day", "count": "2"}, "count", "选择“不检查”时无需填写次数或学时"),
        ({"rule": "training_hours", "count": "40"}, "count", "选择“不检查”时无需填写次数或学时"),
        ({"rule": "general_meeting", "period_kind": "month"}, "period_kind", "选择“不检查”时无需选择周期"),
    ],
    ids=["meeting-count", "training-hours", "period"],
)
def test_switching_a_rule_off_with_a_count_is_refused_and_nothing_is_lost(
    office, tree, fields, field, message
):
    response = post_setting(office, tree, enabled="0", **fields)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert list(response.context["form"].errors) == [field]
    assert not RuleSetting.objects.exists()
    form = response.context["form"]  # shown again as filled in
    assert form["enabled"].value() == "0" and form[field].value() == fields[field]
    response = post_setting(office, tree, enabled="0", rule=fields["rule"])  # switched off, nothing more
    assert response.status_code == 302
    assert RuleSetting.objects.get().enabled is False


def test_the_office_fixes_the_theme_day_and_the_warnings_follow_from_its_date(
    office, tree, branch, django_capture_on_commit_callbacks
):
    on_last_friday = hold(branch, ["theme_day"], date(2026, 10, 30))
    on_the_15th = hold(branch, ["theme_day"], date(2026, 9, 15))
    before = hold(branch, ["theme_day"], date(2025, 12, 26))  # the last Friday, before the setting
    engine.refresh(as_of=date(2026, 11, 23), since=date(2025, 1, 1))
    moved = set(
        Flag.objects.filter(rule="theme_day_moved", resolved_on=None).values_list("meeting_id", flat=True)
    )
    assert moved == {on_the_15th.pk}
    with django_capture_on_commit_callbacks(execute=True):
        response = post_setting(office, tree, rule=THEME_DAY_SETTING, theme_day=str(ON_THE_15TH))
    assert response.status_code == 302
    moved = set(
        Flag.objects.filter(rule="theme_day_moved", resolved_on=None).values_list("meeting_id", flat=True)
    )
    assert moved == {on_last_friday.pk}  # judged again at once; December 2025 by the rule then
    assert before.pk not in moved
    page = office.get(reverse("compliance:settings")).content.decode()
    assert "主题党日固定日期 · 每月15日" in " ".join(page.split())
    form = office.get(reverse("meetings:create"), {"branch": branch.pk}).content.decode()
    assert "主题党日固定为 12月15日；" in form


def test_the_settings_page_shows_a_value_stored_empty_as_the_default(office, tree):
    RuleSetting.objects.create(organisation=tree.township, rule=THEME_DAY_SETTING, count=None,
                               effective_from=date(2026, 1, 1))  # fmt: skip  # as the admin site once let through
    page = office.get(reverse("compliance:settings"))
    assert page.status_code == 200 and "主题党日固定日期 · 按默认" in " ".join(page.content.decode().split())


def test_the_settings_page_marks_the_setting_in_force_the_replaced_and_the_pending(office, tree):
    today = timezone.localdate()
    for effective_from, count in (
        (date(2025, 1, 1), 1),
        (date(2026, 1, 1), 2),
        (today + timedelta(days=30), 3),
    ):
        RuleSetting.objects.create(organisation=tree.township, rule="committee_meeting", count=count,
                                   effective_from=effective_from)  # fmt: skip
    RuleSetting.objects.create(organisation=tree.a1, rule="committee_meeting", count=1,
                               effective_from=date(2025, 6, 1))  # fmt: skip  # another organisation's own
    page = " ".join(office.get(reverse("compliance:settings")).content.decode().split())
    standings = re.findall(r'<span class="badge [^"]*">(现行|待生效|已被取代)</span> <span class="fw-semibold">(\S+)</span> · 支部委员会会议 · 每月(\d)次', page)  # fmt: skip
    assert standings == [("待生效", "甲镇党委", "3"), ("现行", "甲镇党委", "2"), ("已被取代", "甲镇党委", "1"),
                         ("现行", "甲社区第一党支部", "1")]  # fmt: skip


def test_a_fixed_day_is_read_once_per_branch(branch, django_assert_num_queries):
    RuleSetting.objects.create(organisation=branch, rule=THEME_DAY_SETTING, count=ON_THE_15TH,
                               effective_from=date(2026, 1, 1))  # fmt: skip
    branch = Organisation.objects.get(pk=branch.pk)  # as a request loads it
    with django_assert_num_queries(1):
        days = [local.fixed_theme_day(branch, date(2026, month, 1)) for month in range(1, 13)]
    assert days == [date(2026, month, 15) for month in range(1, 13)]


def test_the_backfill_threshold_applies_to_records_entered_from_its_date(branch, tree):
    five_days_late = {"entered": date(2026, 11, 9), "backfill_reason": ""}  # held Monday 2 November
    with pytest.raises(ValidationError, match="会议召开3个工作日后才录入"):
        hold(branch, ["theme_day"], date(2026, 11, 2), **five_days_late)
    with pytest.raises(ValidationError, match="补录认定只能自今天或以后生效"):
        services.add_setting(organisation=tree.township, rule=BACKFILL_SETTING, enabled=True, count=10,
                             effective_from=timezone.localdate() - timedelta(days=1))  # fmt: skip
    # As if set on 1 November (a setting from today on, seen from a later day).
    RuleSetting.objects.create(organisation=tree.township, rule=BACKFILL_SETTING, count=10,
                               effective_from=date(2026, 11, 1))  # fmt: skip
    branch = Organisation.objects.get(pk=branch.pk)  # the next request's
    meeting = hold(branch, ["theme_day"], date(2026, 11, 2), **five_days_late)
    assert not meeting.is_backfill and meeting.lateness_days == 5
    with pytest.raises(
        ValidationError, match="会议召开3个工作日后才录入"
    ):  # entered before the setting's date
        hold(branch, ["general_meeting"], date(2026, 10, 19), entered=date(2026, 10, 26), backfill_reason="")


def test_a_committee_elected_from_the_settings_date_serves_its_term(tree):
    services.add_setting(organisation=tree.township, rule=TERM_SETTING, enabled=True, count=5,
                         effective_from=date(2026, 1, 1))  # fmt: skip
    school = branch_services.create_organisation(parent=tree.township, name="甲镇中学党支部", level="branch",
                                                 kind="school", founded_on=date(2010, 1, 1))  # fmt: skip
    before = branch_services.record_term(organisation=school, elected_on=date(2025, 6, 1))
    after = branch_services.record_term(organisation=school, elected_on=date(2026, 6, 1))
    assert before.ends_on == date(2028, 6, 1)  # a school's 3 years (支部条例), the setting not yet in force
    assert after.ends_on == date(2031, 6, 1)
    village = branch_services.record_term(organisation=tree.a2, elected_on=date(2026, 6, 1))
    assert village.ends_on == date(2031, 6, 1)  # a 村's 5 years, whatever the setting
    services.add_setting(organisation=tree.township, rule=TERM_SETTING, enabled=True, count=3,
                         effective_from=date(2026, 7, 1))  # fmt: skip
    again = branch_services.record_term(organisation=tree.a2, elected_on=date(2026, 8, 1))
    assert again.ends_on == date(2031, 8, 1)


def test_a_term_on_a_village_branch_is_refused_on_the_page_and_in_the_admin(client, office, personas, tree):
    """A 村's committee serves 5 years whatever is set: a setting there would be saved and silently ignored."""
    response = post_setting(office, tree, rule=TERM_SETTING, count="3", organisation=tree.a2.pk)
    assert response.status_code == 200
    assert "村、社区党组织每届任期5年" in response.content.decode()
    client.force_login(personas["superuser"])
    admin = client.post(reverse("admin:compliance_rulesetting_add"), {
        "organisation": tree.a2.pk, "rule": TERM_SETTING, "enabled": "on", "count": "3", "period_kind": "",
        "effective_from": "2026-01-01", "created_by": personas["superuser"].pk,
    })  # fmt: skip
    assert admin.status_code == 200 and "村、社区党组织每届任期5年" in admin.content.decode()
    assert not RuleSetting.objects.exists()
    community = make_org(tree.township, "丙社区党委", OrgLevel.PARTY_COMMITTEE, OrgKind.COMMUNITY)
    with pytest.raises(ValidationError, match="村、社区党组织每届任期5年"):  # its branches are 社区 too
        services.add_setting(organisation=community, rule=TERM_SETTING, enabled=True, count=3,
                             effective_from=date(2026, 1, 1))  # fmt: skip
    office.force_login(personas[Role.TOWNSHIP_ADMIN])
    assert post_setting(office, tree, rule=TERM_SETTING, count="3").status_code == 302  # the 镇党委's own


def test_a_value_the_admin_site_could_not_hold_is_refused_there_and_ignored_by_the_engine(
    client, personas, branch
):
    client.force_login(personas["superuser"])
    response = client.post(reverse("admin:compliance_rulesetting_add"), {
        "organisation": branch.pk, "rule": THEME_DAY_SETTING, "enabled": "on", "count": "50", "period_kind": "",
        "effective_from": "2026-01-01", "created_by": personas["superuser"].pk,
    })  # fmt: skip
    assert response.status_code == 200 and "请选择主题党日的固定日期" in response.content.decode()
    assert not RuleSetting.objects.exists()
    RuleSetting.objects.create(
        organisation=branch, rule=THEME_DAY_SETTING, count=50, effective_from=date(2026, 1, 1)
    )
    fresh = Organisation.objects.get(pk=branch.pk)
    assert local.fixed_theme_day(fresh, date(2026, 10, 1)) == date(2026, 10, 30)  # the default, not a crash
    hold(branch, ["theme_day"], date(2026, 10, 30))
    engine.refresh(as_of=date(2026, 11, 23), since=date(2026, 1, 1))  # the county's run goes on


# ---------------------------------------------------------------- the effective date and the count's limits


@pytest.fixture
def november(monkeypatch):
    today = date(2026, 11, 23)
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args, **kwargs: today)
    return today


@pytest.mark.parametrize(
    ("effective_from", "message"),
    [
        ("1900-01-01", "生效日期不能早于2000-01-01。"),
        ("2009-12-31", "生效日期不能早于甲镇党委的成立日期（2010-01-01）。"),
    ],
)
def test_a_local_rule_from_before_the_founding_or_2000_is_refused_on_its_date(
    office, tree, effective_from, message
):
    """Once stored as typed: a back-dated rule rewrote the verdicts of every period since, unannounced."""
    response = post_setting(office, tree, rule="theme_day", enabled="0", effective_from=effective_from)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["effective_from"] == [message] and message in response.content.decode()
    assert form["effective_from"].value() == effective_from  # the input kept
    assert "confirm_rejudge" not in form.errors  # no confirmation asked for a date that cannot stand
    assert not RuleSetting.objects.exists()


def test_a_date_in_an_ended_period_must_be_confirmed(office, tree, november):
    page = office.get(reverse("compliance:settings")).content.decode()
    assert "早于本期开始的日期会按新规定重新判断此后已结束的周期，须勾选确认" in page  # the help says so
    data = {"rule": "theme_day", "enabled": "0", "effective_from": "2026-03-01", "confirm_rejudge": ""}
    response = post_setting(office, tree, **data)
    assert response.status_code == 200 and not RuleSetting.objects.exists()
    page = response.content.decode()
    assert "我确认：将按新规定重新判断2026-03-01以来已结束的周期" in page
    assert list(response.context["form"].errors) == ["confirm_rejudge"]
    assert "生效日期2026-03-01早于本期开始，已结束的周期将按新规定重新判断" in page
    assert response.context["form"]["effective_from"].value() == "2026-03-01"
    assert post_setting(office, tree, **{**data, "confirm_rejudge": "1"}).status_code == 302
    assert RuleSetting.objects.get().effective_from == date(2026, 3, 1)


@pytest.mark.parametrize(
    ("fields", "needed"),
    [
        ({"rule": "theme_day", "enabled": "0", "effective_from": "2026-11-01"}, False),  # this month
        ({"rule": "theme_day", "enabled": "0", "effective_from": "2026-10-31"}, True),
        ({"rule": "general_meeting", "enabled": "0", "effective_from": "2026-10-01"}, False),  # this quarter
        ({"rule": "general_meeting", "enabled": "0", "effective_from": "2026-09-30"}, True),
        (
            {"rule": "general_meeting", "count": "2", "period_kind": "month", "effective_from": "2026-10-01"},
            True,
        ),
        (
            {"rule": "training_hours", "count": "40", "effective_from": "2026-01-01"},
            False,
        ),  # this year's hours
        ({"rule": "training_hours", "count": "40", "effective_from": "2025-12-31"}, True),
    ],
)
def test_the_confirmation_is_asked_only_before_the_current_period_of_the_rule(
    office, tree, november, fields, needed
):
    response = post_setting(office, tree, **fields, confirm_rejudge="")
    if needed:
        assert response.status_code == 200 and list(response.context["form"].errors) == ["confirm_rejudge"]
    else:
        assert response.status_code == 302


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rule": "theme_day", "count": "500"}, "次数应在1到31之间。"),
        ({"rule": "theme_day", "count": "32"}, "次数应在1到31之间。"),
        ({"rule": "theme_day", "count": "0"}, "次数应在1到31之间。"),
        ({"rule": "training_hours", "count": "500"}, "学时应在1到200之间。"),
        ({"rule": "training_hours", "count": "0"}, "学时应在1到200之间。"),
        (
            {"rule": BACKFILL_SETTING, "count": "500", "effective_from": "2027-06-01"},
            "补录认定的工作日数应在1到30之间。",
        ),
    ],
)
def test_a_count_out_of_range_gets_its_rules_one_limit(office, tree, fields, message):
    """Once 500 said “确保该值小于或等于200。” and 32 then said “次数应在1到31之间。”: one limit, one message."""
    response = post_setting(office, tree, **fields)
    assert response.status_code == 200
    assert response.context["form"].errors["count"] == [message]
    assert "确保该值" not in response.content.decode()
    assert not RuleSetting.objects.exists()


def test_a_bad_count_and_a_missing_confirmation_are_said_together(office, tree, november):
    response = post_setting(office, tree, rule="theme_day", count="500", effective_from="2026-03-01",
                            confirm_rejudge="")  # fmt: skip
    assert set(response.context["form"].errors) == {"count", "confirm_rejudge"}
