import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from branches.forms import DATE_INPUT, SafeForm, organisation_select

from .periods import PERIOD_LABELS
from .rules import (
    BACKFILL_DAYS_RANGE,
    BACKFILL_SETTING,
    CATALOGUE,
    MEETING_RULES,
    THEME_DAY_CHOICES,
    THEME_DAY_SETTING,
    TRAINING_COMMITTEE,
    VALUE_SETTING_NAMES,
    VALUE_SETTINGS,
)
from .services import (
    EARLIEST_EFFECTIVE_FROM,
    MAX_MEETINGS_A_PERIOD,
    MAX_TRAINING_HOURS_A_YEAR,
    check_setting,
    current_period_start,
    effective_from_problem,
    latest_effective_from,
    rejudge_start,
    rejudge_timelines,
)

# The form's fields that the service takes (check_setting, add_setting).
SETTING_FIELDS = ("organisation", "rule", "enabled", "effective_from", "count", "period_kind")

# The confirmation of a date before the current period: said in general until a date is chosen (the page's
# script, and the form shown again, name the date).
CONFIRM_LABEL = "我确认：生效日期早于本期开始时，将按新规定重新判断该日期以来已结束的周期"
CONFIRM_TEMPLATE = "我确认：将按新规定重新判断{day}以来已结束的周期"


def confirm_label(day):
    return CONFIRM_TEMPLATE.format(day=f"{day:%Y-%m-%d}")


def _timelines_for_script(timelines):
    """`services.rejudge_timelines` for the page's script, which asks the same question as the form
    (`services.rejudge_start`): each distinct list of timelines once ("lists", dates as text, the
    default rule's "" first) and by "organisation pk:rule" its place ("at"); a county's branches share a few."""
    lists, at = [], {}
    for (pk, rule), found in timelines.items():
        shown = [[[f"{day:%Y-%m-%d}" if day else "", f"{start:%Y-%m-%d}" if start else None]
                  for day, start in timeline] for timeline in found]  # fmt: skip
        if shown not in lists:
            lists.append(shown)
        at[f"{pk}:{rule}"] = lists.index(shown)
    return {"lists": lists, "at": at}


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
    # No bounds of its own: each kind of rule has one limit, checked with one message by the service.
    count = forms.IntegerField(
        label="次数、学时、天数或年数", required=False,
        help_text=f"不填则用默认次数；会议每个周期1到{MAX_MEETINGS_A_PERIOD}次；集中学习培训填每年学时"
                  f"1到{MAX_TRAINING_HOURS_A_YEAR}（默认每名党员32、书记和支委56）；补录认定填工作日数"
                  f"{BACKFILL_DAYS_RANGE[0]}到{BACKFILL_DAYS_RANGE[1]}（默认3）；委员会任期填3或5年。",
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
        help_text=f"此日期之前的周期仍按原规定判断；早于本期开始的日期会按新规定重新判断此后已结束的周期，"
                  f"须勾选确认。不能早于该组织的成立日期或{EARLIEST_EFFECTIVE_FROM:%Y-%m-%d}，也不能晚于明年年底。"
                  "补录认定只能自今天起生效，默认即为今天。",
    )  # fmt: skip
    confirm_rejudge = forms.BooleanField(label=CONFIRM_LABEL, required=False)

    def __init__(self, *args, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations
        # The page's script shows the default 补录认定 takes when that rule is chosen (see clean).
        self.fields["effective_from"].widget.attrs.update({
            "data-default-day": f"{default_effective_from():%Y-%m-%d}",
            "data-backfill-rule": BACKFILL_SETTING,
            "data-backfill-day": f"{timezone.localdate():%Y-%m-%d}",
        })  # fmt: skip
        # What the page's script needs to show the confirmation as soon as the date is before the current
        # period of the chosen rule (see clean): that period's first day, by rule and by chosen period.
        today = timezone.localdate()
        rules = [code for code, _label in self.fields["rule"].choices]
        starts = {f"rule:{code}": current_period_start(code, "", today=today) for code in rules}
        starts.update({f"kind:{kind}": current_period_start("", kind, today=today) for kind in PERIOD_LABELS})
        self.fields["confirm_rejudge"].widget.attrs.update({
            "data-period-starts": json.dumps({key: f"{day:%Y-%m-%d}" for key, day in starts.items()}),
            "data-timelines": json.dumps(_timelines_for_script(rejudge_timelines(organisations, rules, today=today))),
            "data-label-template": CONFIRM_TEMPLATE,
        })  # fmt: skip
        self.fields["effective_from"].widget.attrs["max"] = f"{latest_effective_from(today):%Y-%m-%d}"

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
        confirmed = data.pop("confirm_rejudge", False)
        if not self.errors:
            # What the service would refuse, said now, on its field, together with the confirmation below.
            try:
                check_setting(**{key: value for key, value in data.items() if key in SETTING_FIELDS})
            except ValidationError as error:
                for field, messages in error.message_dict.items():
                    self.add_error(field if field in self.fields else None, messages)
        if "effective_from" not in self.errors:
            self._confirm_rejudge(data, confirmed)
        return data

    def _confirm_rejudge(self, data, confirmed):
        """A date before the current period judges again periods that have ended, whose verdicts the
        branches and inspectors have read: the office ticks that it means it (a date the service refuses
        anyway is said on its own). The current period of the new rule, and of the one it takes over from on
        that date: 每季度 from the quarter's first day still judges again the months of a monthly rule."""
        day, rule, organisation = data.get("effective_from"), data.get("rule"), data.get("organisation")
        if day is None or rule is None:
            return
        if organisation is not None and effective_from_problem(organisation, day):
            return
        kind = data.get("period_kind") if data.get("enabled") else ""
        today = timezone.localdate()
        timelines = rejudge_timelines([organisation], [rule], today=today) if organisation else {}
        start = rejudge_start(day, rule=rule, period_kind=kind or "", today=today,
                              timelines=timelines.get((getattr(organisation, "pk", None), rule)))  # fmt: skip
        if day < start:
            # The bound field was made while cleaning, with the general label: both say the date.
            self.fields["confirm_rejudge"].label = self["confirm_rejudge"].label = confirm_label(day)
            if not confirmed:
                self.add_error(
                    "confirm_rejudge",
                    f"生效日期{day:%Y-%m-%d}早于本期开始，已结束的周期将按新规定重新判断：确认无误请勾选此项，"
                    f"否则请改为本期开始（{start:%Y-%m-%d}）或以后的日期。",
                )


class WithdrawSettingForm(SafeForm):
    reason = forms.CharField(label="撤销原因", max_length=200, help_text="如：日期或取值填错、设错了组织。")
