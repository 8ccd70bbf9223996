from datetime import date

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.utils import timezone

from .models import ALLOWED_PARENT_LEVELS, Organisation, OrgLevel, Position

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class OrganisationForm(forms.ModelForm):
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

    def clean_name(self):
        return self.cleaned_data["name"].strip()


class MoveForm(forms.Form):
    new_parent = forms.ModelChoiceField(
        label="移至", queryset=Organisation.objects.none(), empty_label="请选择上级党组织"
    )

    def __init__(self, *args, targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_parent"].queryset = targets
        self.fields["new_parent"].label_from_instance = lambda o: f"{'　' * (o.depth - 1)}{o.name}"


class DissolveForm(forms.Form):
    dissolved_on = forms.DateField(label="撤销日期", widget=DATE_INPUT, initial=timezone.localdate)
    reason = forms.CharField(
        label="撤销原因", max_length=200, widget=forms.TextInput(attrs={"placeholder": "如：村党组织合并"})
    )


class TermForm(forms.Form):
    elected_on = forms.DateField(label="选举日期", widget=DATE_INPUT)
    ends_on = forms.DateField(
        label="届满日期",
        widget=DATE_INPUT,
        required=False,
        help_text="不填则按规定任期计算：村、社区党组织和基层党委5年，其他3年。",
    )
    note = forms.CharField(label="备注", max_length=200, required=False)

    def __init__(self, *args, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        for code, label in Position.choices:
            self.fields[f"pos_{code}"] = forms.CharField(label=label, max_length=50, required=False)
        if editing:
            self.fields["elected_on"].disabled = True
            self.fields["ends_on"].required = True

    def clean(self):
        data = super().clean()
        if not any((data.get(f"pos_{code}") or "").strip() for code in Position.values):
            raise forms.ValidationError("请至少填写一名委员（通常为书记）。")
        return data

    def positions(self):
        return [(code, self.cleaned_data.get(f"pos_{code}", "")) for code in Position.values]


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


def date_param(request, name, default=None):
    """A yyyy-mm-dd query parameter as a date; `default` when it is missing or malformed."""
    try:
        return date.fromisoformat(request.GET.get(name, ""))
    except ValueError:
        return default
