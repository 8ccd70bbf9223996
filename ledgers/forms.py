from django import forms
from django.utils import timezone

from branches.forms import SafeForm

from .models import ExportKind

YEARS_BACK = 6


def year_choices(organisation, today=None):
    today = today or timezone.localdate()
    first = max(organisation.founded_on.year, today.year - YEARS_BACK)
    return [(y, f"{y}年") for y in range(today.year, first - 1, -1)]


class ExportForm(SafeForm):
    year = forms.TypedChoiceField(label="年度", coerce=int)
    kind = forms.ChoiceField(
        label="内容",
        choices=[
            (ExportKind.SUMMARY, "汇总台账（各支部完成率、逾期清单、重点关注党员）"),
            (ExportKind.ZIP, "全部台账（每个党支部一个工作簿，打包下载）"),
        ],  # fmt: skip
        widget=forms.RadioSelect,
        initial=ExportKind.SUMMARY,
    )

    def __init__(self, *args, organisation, township=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = year_choices(organisation)
        self.fields["year"].initial = timezone.localdate().year
        if not township:
            del self.fields["kind"]
