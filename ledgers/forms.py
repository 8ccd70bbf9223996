from django import forms
from django.utils import timezone

from branches.forms import SafeForm

from .models import ExportKind
from .selectors import first_ledger_year


def year_choices(organisation, today=None, first=None):
    """This year back to the first year of the organisation's records (selectors.first_ledger_year)."""
    today = today or timezone.localdate()
    first = first or first_ledger_year(organisation, today=today)
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
        today = timezone.localdate()
        first = first_ledger_year(organisation, today=today)
        self.fields["year"].choices = year_choices(organisation, today, first)
        self.fields["year"].initial = today.year
        self.fields["year"].error_messages["invalid_choice"] = (
            f"请选择{first}年至{today.year}年之间的年度：本系统中{organisation.name}的记录从{first}年开始，"
            "更早的年度没有可导出的台账。"
        )
        if not township:
            del self.fields["kind"]
