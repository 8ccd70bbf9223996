from django import forms
from django.utils import timezone

from branches.forms import DATE_INPUT, SafeForm, organisation_select

from .periods import PERIOD_LABELS
from .rules import (
    BACKFILL_SETTING,
    CATALOGUE,
    MEETING_RULES,
    THEME_DAY_CHOICES,
    THEME_DAY_SETTING,
    TRAINING_COMMITTEE,
    VALUE_SETTING_NAMES,
    VALUE_SETTINGS,
)


def default_effective_from():
    """The default 生效日期: the month's first day, where the periods of the rules begin."""
    return timezone.localdate().replace(day=1)


class RuleSettingForm(SafeForm):
    organisation = forms.ModelChoiceField(
        label="适用范围（该组织及其下级）", queryset=None, widget=organisation_select()
    )
    rule = forms.ChoiceField(label="规则", choices=[(c, CATALOGUE[c].name) for c in MEETING_RULES] + [
        ("training_hours", "集中学习培训（每名党员学时）"), (TRAINING_COMMITTEE, "集中学习培训（书记、支委学时）"),
        *VALUE_SETTING_NAMES.items(),
    ])  # fmt: skip
    enabled = forms.TypedChoiceField(
        label="是否检查", choices=[("1", "检查"), ("0", "不检查")], coerce=lambda v: v == "1", initial="1"
    )
    count = forms.IntegerField(
        label="次数、学时、天数或年数", min_value=1, max_value=200, required=False,
        help_text="不填则用默认次数；集中学习培训填每年学时（默认每名党员32、书记和支委56）；"
                  "补录认定填工作日数（默认3）；委员会任期填3或5年。",
    )  # fmt: skip
    theme_day = forms.TypedChoiceField(
        label="主题党日固定日期", coerce=int, required=False, choices=[("", "——")] + THEME_DAY_CHOICES,
        help_text="仅用于“主题党日固定日期”（默认每月最后一个星期五）。",
    )  # fmt: skip
    period_kind = forms.ChoiceField(
        label="周期",
        choices=[("", "默认周期")] + [(k.value, label) for k, label in PERIOD_LABELS.items()],
        required=False,
    )
    effective_from = forms.DateField(
        label="生效日期", widget=DATE_INPUT, initial=default_effective_from,
        help_text="此日期之前的周期仍按原规定判断。补录认定只能自今天起生效，默认即为今天。",
    )  # fmt: skip

    def __init__(self, *args, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations
        # The page's script shows the default 补录认定 takes when that rule is chosen (see clean).
        self.fields["effective_from"].widget.attrs.update({
            "data-default-day": f"{default_effective_from():%Y-%m-%d}",
            "data-backfill-rule": BACKFILL_SETTING,
            "data-backfill-day": f"{timezone.localdate():%Y-%m-%d}",
        })  # fmt: skip

    def clean(self):
        """The fixed day travels as the setting's count (`rules.THEME_DAY_CHOICES`).

        “不检查” takes no count or period: one filled in is refused, not silently dropped (a local value,
        which cannot be switched off, is refused by the service). 补录认定 takes effect from today at the
        earliest (records already entered keep their verdict): left at the default date, it is today."""
        data = super().clean()
        theme_day = data.pop("theme_day", None)
        rule = data.get("rule")
        if rule == THEME_DAY_SETTING:
            if theme_day in (None, ""):
                self.add_error("theme_day", "请选择主题党日的固定日期。")
            data["count"] = theme_day
        elif data.get("enabled") is False and rule not in VALUE_SETTINGS:
            if data.get("count") is not None:
                self.add_error("count", "选择“不检查”时无需填写次数或学时：请清空此项，或改选“检查”。")
            if data.get("period_kind"):
                self.add_error("period_kind", "选择“不检查”时无需选择周期：请改回“默认周期”，或改选“检查”。")
        if (
            rule == BACKFILL_SETTING
            and data.get("effective_from")
            and "effective_from" not in self.changed_data
        ):
            data["effective_from"] = max(data["effective_from"], timezone.localdate())
        return data
