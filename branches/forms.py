from datetime import date
from operator import attrgetter

from django import forms
from django.contrib import messages
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.utils import timezone

from .models import ALLOWED_PARENT_LEVELS, Organisation, OrgLevel, Position, Role
from .text import UNSAFE_MESSAGE, has_unsafe_characters, looks_empty

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def reject_unsafe_characters(value):
    if has_unsafe_characters(value):
        raise ValidationError(UNSAFE_MESSAGE, code="unsafe_characters")


class RejectLooksEmpty:
    """A required field typed with only zero-width or direction characters is as empty as a blank one."""

    def __init__(self, message):
        self.message = message

    def __call__(self, value):
        if looks_empty(value):
            raise ValidationError(self.message, code="required")


class SafeTextMixin:
    """Every text field of the form refuses characters that cannot be stored or exported (branches.text).

    It replaces Django's own NUL check, whose Chinese message ("不允许是用空字符串") is misspelt and
    misleading; a NUL is one of the characters refused here.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                field.validators = [
                    v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)
                ] + [reject_unsafe_characters]
                if field.required:
                    field.validators.append(RejectLooksEmpty(field.error_messages["required"]))


# The hidden submit token only goes wrong when the page was tampered with or cut off in transit.
STALE_FORM = "页面数据不完整或已过期，请刷新页面后重新填写。"


def submit_token_field():
    """The hidden token that makes a double submit one record (it fits the models' 64-character column)."""
    return forms.CharField(
        widget=forms.HiddenInput,
        max_length=64,
        error_messages=dict.fromkeys(("required", "max_length"), STALE_FORM),
    )


def organisation_select():
    """A drop-down of organisations that static/js/select_filter.js gives a search box once it is long."""
    return forms.Select(attrs={"data-filter": "输入名称筛选"})


class SafeForm(SafeTextMixin, forms.Form):
    pass


class SafeModelForm(SafeTextMixin, forms.ModelForm):
    pass


# What is most often set up under each level: branches under a 党委 or 党总支, groups under a branch.
LIKELY_CHILD_LEVEL = {
    OrgLevel.PARTY_COMMITTEE: OrgLevel.BRANCH,
    OrgLevel.GENERAL_BRANCH: OrgLevel.BRANCH,
    OrgLevel.BRANCH: OrgLevel.GROUP,
}


class OrganisationForm(SafeModelForm):
    class Meta:
        model = Organisation
        fields = ["name", "level", "kind", "founded_on", "merged_group"]
        widgets = {"founded_on": DATE_INPUT}

    def __init__(self, *args, parent=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs["placeholder"] = "如：幸福里社区第一党支部"
        if self.instance.pk:
            # The level is fixed once created; moving handles the place in the tree.
            del self.fields["level"]
        else:
            parent_level = OrgLevel(parent.level) if parent else None
            self.fields["level"].choices = [
                (level.value, level.label)
                for level, parents in ALLOWED_PARENT_LEVELS.items()
                if parent_level in parents
            ]
            self.fields["founded_on"].initial = timezone.localdate()
            self.fields["level"].initial = LIKELY_CHILD_LEVEL.get(parent_level)

    def clean_name(self):
        return self.cleaned_data["name"].strip()


class MoveForm(SafeForm):
    new_parent = forms.ModelChoiceField(
        label="移至",
        queryset=Organisation.objects.none(),
        empty_label="请选择上级党组织",
        widget=organisation_select(),
    )

    def __init__(self, *args, targets, moving=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_parent"].queryset = targets
        self.fields["new_parent"].label_from_instance = lambda o: f"{'　' * (o.depth - 1)}{o.name}"
        if moving is not None and moving.level == OrgLevel.GROUP:
            self.fields["new_parent"].help_text = "移至其他党支部时，组内党员以今天的日期一并办理内部转接。"


class DissolveForm(SafeForm):
    dissolved_on = forms.DateField(label="撤销日期", widget=DATE_INPUT, initial=timezone.localdate)
    reason = forms.CharField(
        label="撤销原因", max_length=200, widget=forms.TextInput(attrs={"placeholder": "如：村党组织合并"})
    )


TERM_CHANGE, TERM_CORRECTION = "change", "correction"
TERM_CHANGES = [
    (TERM_CHANGE, "人员变动（补选、调整）：原任离任，新任自变动日期起任职"),
    (TERM_CORRECTION, "更正录入错误：改正原记录上的姓名，不作任免"),
]


class TermForm(SafeForm):
    elected_on = forms.DateField(label="选举日期", widget=DATE_INPUT)
    ends_on = forms.DateField(
        label="届满日期",
        widget=DATE_INPUT,
        required=False,
        help_text="不填则按任期计算：党委在本地规则中设定的任期，未设定的村、社区党组织和基层党委5年，其他3年；填写时不能晚于按任期计算的日期。",
    )
    note = forms.CharField(label="备注", max_length=200, required=False)

    def __init__(self, *args, editing=False, current=True, **kwargs):
        """editing: the term's page, its names those holding the posts (initial); current: the term is
        the organisation's latest, in which a change of office-holders is what an edit usually records."""
        super().__init__(*args, **kwargs)
        for code, label in Position.choices:
            self.fields[f"pos_{code}"] = forms.CharField(label=label, max_length=50, required=False)
        if editing:
            self.fields["elected_on"].disabled = True
            self.fields["ends_on"].required = True
            self.fields["change"] = forms.ChoiceField(
                label="姓名改动属于",
                choices=TERM_CHANGES,
                widget=forms.RadioSelect,
                required=False,
                initial=TERM_CHANGE if current else TERM_CORRECTION,
                help_text="人员变动：原任离任、新任到任，各留任职记录；清空姓名即该职务自变动日期起空缺。",
            )
            self.fields["changed_on"] = forms.DateField(
                label="变动日期",
                widget=DATE_INPUT,
                required=False,
                initial=timezone.localdate if current else None,
                help_text="人员变动时填写：原任的离任日期，即新任的任职日期。",
            )

    def clean(self):
        data = super().clean()
        if not any((data.get(f"pos_{code}") or "").strip() for code in Position.values):
            raise forms.ValidationError("请至少填写一名委员（通常为书记）。")
        if "change" in self.fields:
            self._clean_change(data)
        return data

    def _clean_change(self, data):
        renamed = [
            f"{label}由“{before}”改为“{after}”"
            for code, label in Position.choices
            if (before := (self.initial.get(f"pos_{code}") or "").strip())
            and (after := (data.get(f"pos_{code}") or "").strip())
            and after != before
        ]
        if renamed and not data.get("change"):
            self.add_error(
                "change", "；".join(renamed) + "：请选择是人员变动（原任离任、新任到任）还是更正录入错误。"
            )
        if (
            data.get("change") == TERM_CHANGE
            and not data.get("changed_on")
            and "changed_on" not in self.errors
        ):
            self.add_error("changed_on", "人员变动请填写变动日期。")

    def positions(self):
        return [(code, self.cleaned_data.get(f"pos_{code}", "")) for code in Position.values]

    def changed_on(self):
        """The date of a change of office-holders, or None when the names are corrections."""
        if self.cleaned_data.get("change") != TERM_CHANGE:
            return None
        return self.cleaned_data.get("changed_on")


# Roles given on the accounts page (the 党员 role goes with a roster entry, Member.user).
GRANTABLE_ROLES = [(role.value, role.label) for role in Role if role != Role.MEMBER]


class RoleForm(SafeForm):
    # No role preselected: a careless tap must not give the first one, 党委管理员.
    role = forms.ChoiceField(label="角色", choices=[("", "请选择角色")] + GRANTABLE_ROLES)
    organisation = forms.ModelChoiceField(
        label="党组织", queryset=None, help_text="角色及于该组织及其下级。", widget=organisation_select()
    )

    def __init__(self, *args, organisations, **kwargs):
        """organisations: labelled ones (selectors.account_organisations), so that each 第一党小组 names its
        branch without a query an option."""
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations
        self.fields["organisation"].label_from_instance = attrgetter("label")


class AccountForm(RoleForm):
    username = forms.CharField(
        label="用户名", max_length=30, validators=[UnicodeUsernameValidator()],
        help_text="登录时使用，30个字符以内，可用字母、数字和 @ . + - _。",
    )  # fmt: skip
    full_name = forms.CharField(label="姓名", max_length=30)
    email = forms.EmailField(label="电子邮箱", required=False, help_text="选填：用于每日提醒邮件。")
    field_order = ["username", "full_name", "email", "role", "organisation"]


class MemberAccountForm(SafeForm):
    username = AccountForm.base_fields["username"]


class EmailForm(SafeForm):
    email = forms.EmailField(label="电子邮箱", required=False, help_text="用于每日提醒邮件；留空则不发送。")


def add_service_errors(form, error):
    """Show a service's ValidationError on the form: on its field when the form has it, else at the top."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


def submit_form(request, form, perform, *, success):
    """The POST half of a form page: for valid input run the service and flash `success`.

    Returns the service's result, or None when the page should be shown again (GET,
    invalid input, or a service ValidationError now shown on the form).
    """
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        result = perform(form.cleaned_data)
    except ValidationError as error:
        add_service_errors(form, error)
        return None
    messages.success(request, success(result) if callable(success) else success)
    return result


MAX_ID = 2**63 - 1  # the largest id any of our databases can hold


def whole_number(value, *, low=1, high=MAX_ID):
    """A query or form value as a whole number within [low, high], else None.

    Only ASCII digits count: "²" and "１２" pass str.isdigit() but are not ids, and int("²") fails.
    """
    value = value if isinstance(value, str) else ""
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if low <= number <= high else None


def id_param(request, name):
    """An object id from the query string, or None."""
    return whole_number(request.GET.get(name, ""))


def year_param(request, name, default):
    """A year from the query string, or `default` when it is missing or not a year a calendar holds."""
    year = whole_number(request.GET.get(name, ""), low=1, high=9999)
    return default if year is None else year


# Dates a page can be asked about: periods around them (the quarter before, the year after) must exist.
EARLIEST_QUERY_DATE, LATEST_QUERY_DATE = date(1900, 1, 1), date(2100, 12, 31)


def date_param(request, name, default=None):
    """A yyyy-mm-dd query parameter as a date; `default` when it is missing, malformed or out of range."""
    try:
        value = date.fromisoformat(request.GET.get(name, ""))
    except ValueError:
        return default
    return value if EARLIEST_QUERY_DATE <= value <= LATEST_QUERY_DATE else default
