import django_filters
from django import forms

from branches.forms import SafeForm

from .models import Category, Member, Status
from .selectors import search


class MemberFilter(django_filters.FilterSet):
    """Roster filters. The branch and group choices are the user's visible ones (set by the view)."""

    q = django_filters.CharFilter(label="搜索", method="filter_q")
    branch = django_filters.ModelChoiceFilter(label="党支部", queryset=None, empty_label="全部支部")
    group = django_filters.ModelChoiceFilter(label="党小组", queryset=None, empty_label="全部党小组")
    category = django_filters.ChoiceFilter(label="类别", choices=Category.choices, empty_label="全部类别")
    status = django_filters.ChoiceFilter(label="党籍状态", choices=Status.choices, empty_label="全部状态")
    # Drill-down from the dashboards: the members of an organisation's subtree (kept as a hidden field).
    org = django_filters.ModelChoiceFilter(
        label="党组织", queryset=None, method="filter_org", widget=forms.HiddenInput
    )
    off_roster = django_filters.BooleanFilter(
        label="含已不在册", method="filter_off_roster", widget=forms.CheckboxInput
    )

    class Meta:
        model = Member
        fields = ["q", "branch", "group", "category", "status"]
        form = SafeForm  # a search with control characters says so in Chinese

    def __init__(self, *args, branches, groups, organisations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["org"].queryset = organisations if organisations is not None else branches.none()
        self.filters["branch"].queryset = branches
        self.filters["group"].queryset = groups
        names = {b.path: b.name for b in branches}
        self.form.fields["group"].label_from_instance = lambda g: (
            f"{names.get(g.path[: -g.steplen], '')} · {g.name}"
        )
        self.form.fields["q"].widget.attrs["placeholder"] = "姓名、拼音首字母或电话"

    def filter_q(self, queryset, _name, value):
        return search(queryset, value, user=self.request.user if self.request else None)

    def filter_org(self, queryset, _name, value):
        return queryset.filter(branch__path__startswith=value.path) if value else queryset

    def filter_off_roster(self, queryset, _name, value):
        return queryset if value else queryset.filter(on_roster=True)
