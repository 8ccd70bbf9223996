"""操作记录 of the 本地规则: a setting told as the settings page tells it (周期 年, 主题党日 每月10日), and a
withdrawn one as 撤销 with its reason."""

from datetime import date

import pytest
from django.urls import reverse

from branches.models import Role
from compliance.models import RuleSetting
from compliance.rules import THEME_DAY_SETTING
from tests.audit.test_audit import entry_lines, log

TODAY = date(2026, 12, 8)


@pytest.fixture
def office(client, personas, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args, **kwargs: TODAY)
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    return client


def add(client, tree, **fields):
    data = {"organisation": tree.township.pk, "enabled": "1", "effective_from": "2027-01-01", **fields}
    response = client.post(reverse("compliance:settings"), data)
    assert response.status_code == 302, response.context["form"].errors


def line_of(lines, words):
    [line] = [line for line in lines if words in line]
    return line


def test_a_setting_is_told_by_its_labels_not_its_codes(client, office, personas, tree):
    add(office, tree, rule="general_meeting", count="1", period_kind="year")
    add(office, tree, rule=THEME_DAY_SETTING, theme_day="10")
    add(office, tree, rule="training_hours", count="40")
    lines = entry_lines(log(client, personas[Role.TOWNSHIP_ADMIN], kind="setting"))
    assert "启用：是；次数：1；周期：年" in line_of(lines, "支部党员大会")
    assert "启用：是；取值：每月10日" in line_of(lines, "主题党日固定日期")
    assert "启用：是；学时：每年40学时" in line_of(lines, "集中学习培训")
    assert not any("year" in line or "次数：10" in line or "次数：40" in line for line in lines)

    # A value changed (through the admin site) is told from value to value.
    setting = RuleSetting.objects.get(rule=THEME_DAY_SETTING)
    setting.count = 15
    setting.save()
    lines = entry_lines(log(client, personas[Role.TOWNSHIP_ADMIN], kind="setting", action="changed"))
    assert "取值：每月10日 → 每月15日" in line_of(lines, "主题党日固定日期")


def test_a_withdrawn_setting_is_told_as_withdrawn_with_its_reason(client, office, personas, tree):
    add(office, tree, rule=THEME_DAY_SETTING, theme_day="10")
    setting = RuleSetting.objects.get()
    url = reverse("compliance:setting_withdraw", args=[setting.pk])
    assert office.post(url, {"reason": "日期选错"}).status_code == 302
    lines = entry_lines(log(client, personas[Role.TOWNSHIP_ADMIN], kind="setting"))
    withdrawn = lines[0]
    assert withdrawn.startswith("撤销 规则设置 甲镇党委 · 主题党日固定日期（2027-01-01起）")
    assert "撤销原因：日期选错" in withdrawn and "撤销人" not in withdrawn
    assert lines[1].startswith("新增 规则设置")
