from django import forms
from django.utils import timezone

from branches.forms import DATE_INPUT, SafeForm, submit_token_field
from meetings.models import Meeting, MeetingType

from . import tally
from .models import FollowUpKind, Grade

# Far above any branch's ballots, and well inside the database's integer columns.
MAX_BALLOTS = 100_000
NUMBER_INPUT = forms.NumberInput(
    attrs={"inputmode": "numeric", "min": 0, "class": "form-control form-control-sm"}
)


class OpenCampaignForm(SafeForm):
    year = forms.IntegerField(label="评议年度", min_value=2000, max_value=2100)
    campaign_on = forms.DateField(
        label="启动日期", widget=DATE_INPUT, initial=timezone.localdate,
        help_text="参评名单按该日的党员名册生成：正式党员和预备党员；免于参加组织生活的党员列出原因。",
    )  # fmt: skip
    token = submit_token_field()


class CampaignForm(SafeForm):
    campaign_on = forms.DateField(
        label="启动日期（参评名单日期）", widget=DATE_INPUT, help_text="开始测评或评定后不能再改。"
    )
    study_start_on = forms.DateField(label="学习教育开始", widget=DATE_INPUT, required=False)
    study_end_on = forms.DateField(label="学习教育结束", widget=DATE_INPUT, required=False)
    self_assessment_on = forms.DateField(label="自我评价日期", widget=DATE_INPUT, required=False)
    vote_on = forms.DateField(label="民主测评日期", widget=DATE_INPUT, required=False)
    assessment_on = forms.DateField(label="组织评定日期", widget=DATE_INPUT, required=False)
    publicity_start_on = forms.DateField(label="结果公示开始", widget=DATE_INPUT, required=False)
    publicity_end_on = forms.DateField(label="结果公示结束", widget=DATE_INPUT, required=False)
    org_life_meeting = forms.ModelChoiceField(
        label="同时召开的组织生活会（可选）", queryset=Meeting.objects.none(), required=False,
        empty_label="未与组织生活会同时召开",
    )  # fmt: skip
    note = forms.CharField(label="备注", max_length=300, required=False)

    def __init__(self, *args, campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org_life_meeting"].queryset = Meeting.objects.filter(
            branch=campaign.branch, for_year=campaign.year, voided_at__isnull=True,
            types__type=MeetingType.ORG_LIFE_MEETING,
        ).order_by("-held_on")  # fmt: skip
        self.fields["org_life_meeting"].label_from_instance = lambda m: f"{m.held_on:%Y-%m-%d} {m.topic}"

    def steps(self):
        data = dict(self.cleaned_data)
        for key in ("campaign_on", "org_life_meeting", "note"):
            data.pop(key)
        return data


class BallotForm(SafeForm):
    ballots_issued = forms.IntegerField(
        label="发出测评票（张）", min_value=0, max_value=MAX_BALLOTS, required=False, widget=NUMBER_INPUT
    )
    ballots_returned = forms.IntegerField(
        label="收回测评票（张）", min_value=0, max_value=MAX_BALLOTS, required=False, widget=NUMBER_INPUT
    )

    def clean(self):
        data = super().clean()
        for problem in tally.ballot_problems(data.get("ballots_issued"), data.get("ballots_returned")):
            self.add_error("ballots_returned", problem)
        return data


class ResultRowForm(SafeForm):
    """One participant's row: votes per grade from the paper ballots, the branch's grade, the self-assessment."""

    participant = forms.IntegerField(widget=forms.HiddenInput)
    votes_excellent = forms.IntegerField(
        label="优秀", min_value=0, max_value=MAX_BALLOTS, required=False, widget=NUMBER_INPUT
    )
    votes_qualified = forms.IntegerField(
        label="合格", min_value=0, max_value=MAX_BALLOTS, required=False, widget=NUMBER_INPUT
    )
    votes_basic = forms.IntegerField(
        label="基本合格", min_value=0, max_value=MAX_BALLOTS, required=False, widget=NUMBER_INPUT
    )
    votes_unqualified = forms.IntegerField(
        label="不合格", min_value=0, max_value=MAX_BALLOTS, required=False, widget=NUMBER_INPUT
    )
    grade = forms.ChoiceField(
        label="组织评定", choices=[("", "未评定"), *Grade.choices], required=False,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )  # fmt: skip
    grade_reason = forms.CharField(
        label="评定理由", max_length=300, required=False,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm",
                                      "placeholder": "基本合格、不合格须写明理由"}),
    )  # fmt: skip
    self_assessment = forms.CharField(
        label="自我评价", required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control form-control-sm"}),
    )  # fmt: skip

    def __init__(self, *args, returned=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.returned = returned

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        votes = {field: data.get(field) or 0 for field in tally.VOTE_FIELDS}
        for problem in tally.row_problems(votes, returned=self.returned, grade=data.get("grade") or "",
                                          reason=data.get("grade_reason")):  # fmt: skip
            self.add_error(None, problem)
        return data

    def values(self):
        data = self.cleaned_data
        return {
            **{field: data.get(field) or 0 for field in tally.VOTE_FIELDS},
            "grade": data.get("grade") or "",
            "grade_reason": data.get("grade_reason") or "",
            "self_assessment": data.get("self_assessment") or "",
        }


ResultFormSet = forms.formset_factory(ResultRowForm, extra=0)


class ReportForm(SafeForm):
    """上报党委 with the 结果公示 dates it follows: the step the campaign reaches after it is closed."""

    publicity_start_on = forms.DateField(label="结果公示开始", widget=DATE_INPUT, required=False)
    publicity_end_on = forms.DateField(
        label="结果公示结束", widget=DATE_INPUT, required=False, help_text="评议结果公示结束后才能上报党委。"
    )
    reported_on = forms.DateField(label="上报党委日期", widget=DATE_INPUT, initial=timezone.localdate)


class ReturnForm(SafeForm):
    comment = forms.CharField(label="退回意见", max_length=300, widget=forms.Textarea(attrs={"rows": 3}))


class VoidForm(SafeForm):
    reason = forms.CharField(label="作废原因", max_length=200)


class FollowUpForm(SafeForm):
    kind = forms.ChoiceField(label="处置方式", choices=FollowUpKind.choices)
    proposed_on = forms.DateField(label="提出日期", widget=DATE_INPUT, initial=timezone.localdate)
    deadline_on = forms.DateField(
        label="改正期限/办结期限", widget=DATE_INPUT, required=False, help_text="限期改正必填。"
    )
    note = forms.CharField(label="说明", max_length=300, required=False)

    def __init__(self, *args, participant, **kwargs):
        super().__init__(*args, **kwargs)
        if participant.grade != Grade.UNQUALIFIED:
            self.fields["kind"].choices = [(FollowUpKind.RECTIFY, FollowUpKind.RECTIFY.label)]


class CloseFollowUpForm(SafeForm):
    closed_on = forms.DateField(label="办结日期", widget=DATE_INPUT, initial=timezone.localdate)
    outcome = forms.CharField(
        label="办理结果", max_length=300, widget=forms.TextInput(attrs={"placeholder": "如：经教育已改正"})
    )
