from decimal import Decimal

from django import forms
from django.utils import timezone

from branches.forms import DATE_INPUT, SafeForm, SafeModelForm, organisation_select, submit_token_field
from branches.models import Organisation

from . import dues, pipeline
from .models import (
    MAX_TRAINING_HOURS,
    Category,
    ExemptionKind,
    Gender,
    Member,
    Mobility,
    PipelineEventKind,
    Status,
    TrainingKind,
)
from .services import CORRECTION_REASON_MAX

MONTH_INPUT = forms.DateInput(attrs={"type": "month"}, format="%Y-%m")


class MonthField(forms.DateField):
    """A month picked as YYYY-MM (what <input type=month> sends), stored as its first day."""

    widget = MONTH_INPUT
    input_formats = ["%Y-%m", "%Y-%m-%d"]

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace(day=1) if value else value


def _date(label, required=True, **kwargs):
    return forms.DateField(label=label, required=required, widget=DATE_INPUT, **kwargs)


def setup_branch_and_group(form, branches, groups):
    """Limit the pickers to what the user may record for; label groups with their branch."""
    branch_list = list(branches)
    names = {b.path: b.name for b in branch_list}
    form.fields["branch"].queryset = branches
    form.fields["group"].queryset = groups
    form.fields["group"].label_from_instance = lambda g: f"{names.get(g.path[: -g.steplen], '')} · {g.name}"


def dues_base_field():
    # The model field has no lower bound, and these forms skip model validation (the service does it).
    return forms.DecimalField(
        label="党费基数（元/月）", min_value=0, max_digits=10, decimal_places=2, required=False,
        help_text="在职为税后月工资收入。",
    )  # fmt: skip


class MemberCreateForm(SafeModelForm):
    branch = forms.ModelChoiceField(
        label="所在党支部", queryset=Organisation.objects.none(), widget=organisation_select()
    )
    group = forms.ModelChoiceField(label="党小组", queryset=Organisation.objects.none(), required=False)
    gender = forms.ChoiceField(label="性别", choices=[("", "按身份证号")] + Gender.choices, required=False)
    birth_on = _date("出生日期", required=False, help_text="不填则按身份证号。")
    started_on = _date(
        "编入本支部日期",
        required=False,
        help_text="不填则取最早的发展日期；本月以前入党的党员不填则自本月起计入本支部名册（此前的党费、学习等未在本系统记录）。转入的填转入日期。",
    )
    transfer_counterpart = forms.CharField(
        label="由外单位转入：原党组织",
        max_length=100,
        required=False,
        help_text="经组织关系介绍信转入的填写。",
    )
    transfer_letter_no = forms.CharField(label="介绍信编号", max_length=50, required=False)
    category = forms.ChoiceField(label="人员类别", choices=Category.choices)
    dues_base = dues_base_field()

    class Meta:
        model = Member
        fields = [
            "name",
            "id_number",
            "gender",
            "birth_on",
            "ethnicity",
            "education",
            "phone",
            "work_unit",
            "branch",
            "group",
            "category",
            "applied_on",
            "activist_on",
            "candidate_on",
            "joined_on",
            "confirmed_on",
            "started_on",
            "dues_kind",
            "dues_base",
            "note",
        ]
        widgets = dict.fromkeys(
            ("applied_on", "activist_on", "candidate_on", "joined_on", "confirmed_on"), DATE_INPUT
        )

    def __init__(self, *args, branches, groups, **kwargs):
        super().__init__(*args, **kwargs)
        setup_branch_and_group(self, branches, groups)
        self.fields["id_number"].widget.attrs.update({"autocomplete": "off", "inputmode": "text"})
        self.fields["phone"].widget.attrs.update({"inputmode": "tel"})

    def _post_clean(self):
        # Model validation happens in the service (it derives fields from the ID number first).
        pass


class MemberEditForm(SafeModelForm):
    dues_base = dues_base_field()

    class Meta:
        model = Member
        fields = [
            "name",
            "id_number",
            "ethnicity",
            "education",
            "phone",
            "work_unit",
            "dues_kind",
            "dues_base",
            "lost_contact_on",
            "note",
        ]
        widgets = {"lost_contact_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def _post_clean(self):
        pass


class CategoryForm(SafeForm):
    category = forms.ChoiceField(label="转为")
    on = _date("日期", initial=timezone.localdate)
    note = forms.CharField(label="备注（如会议、批复文号）", max_length=200, required=False)

    def __init__(self, *args, member, **kwargs):
        super().__init__(*args, **kwargs)
        order = list(pipeline.CATEGORY_LABELS)
        index = order.index(member.category)
        self.fields["category"].choices = [
            (c, pipeline.CATEGORY_LABELS[c]) for c in order[index + 1 : index + 2]
        ]


class PipelineEventForm(SafeForm):
    kind = forms.ChoiceField(label="事项", choices=PipelineEventKind.choices)
    happened_on = _date("日期", initial=timezone.localdate)
    hours = forms.IntegerField(label="学时（集中培训）", min_value=1, max_value=500, required=False)
    months = forms.IntegerField(label="延长月数（6–12）", min_value=1, max_value=24, required=False)
    note = forms.CharField(label="备注", max_length=200, required=False)


class PipelineDateForm(SafeForm):
    """更正日期: which development date (members.services.pipeline_dates), the right date, and why."""

    key = forms.ChoiceField(
        label="更正哪个日期",
        error_messages={
            "required": "请选择要更正的日期。",
            "invalid_choice": "没有该日期的记录，请刷新页面后重新选择。",
        },
    )
    on = _date("正确的日期", error_messages={"required": "请填写正确的日期。"},
               help_text="按登记时的同样规则检查：各阶段先后有序、积极分子满一年方可列为发展对象、"
                         "转正不早于预备期（含延长）届满、不晚于今天。")  # fmt: skip
    reason = forms.CharField(
        label="更正原因",
        max_length=CORRECTION_REASON_MAX,
        help_text="如：据本人档案核对，原登记有误。记入修改历史。",
        error_messages={"required": "请填写更正原因。"},
    )

    def __init__(self, *args, dates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = [("", "请选择")] + [
            (d.key, f"{d.label}：{d.on:%Y-%m-%d}") for d in dates
        ]


class TransferOutForm(SafeForm):
    on = _date("转出日期", initial=timezone.localdate)
    counterpart = forms.CharField(label="转往党组织", max_length=100)
    letter_no = forms.CharField(label="介绍信编号", max_length=50, required=False)
    note = forms.CharField(label="备注", max_length=200, required=False)


class MoveForm(SafeForm):
    branch = forms.ModelChoiceField(
        label="调入党支部", queryset=Organisation.objects.none(), widget=organisation_select()
    )
    group = forms.ModelChoiceField(label="党小组", queryset=Organisation.objects.none(), required=False)
    on = _date("调整日期", initial=timezone.localdate)
    letter_no = forms.CharField(label="介绍信编号", max_length=50, required=False)
    note = forms.CharField(label="备注", max_length=200, required=False)

    def __init__(self, *args, branches, groups, **kwargs):
        super().__init__(*args, **kwargs)
        setup_branch_and_group(self, branches, groups)


class TransferInForm(MoveForm):
    counterpart = forms.CharField(label="转出党组织（对方）", max_length=100)

    field_order = ["branch", "group", "on", "counterpart", "letter_no", "note"]


class StatusForm(SafeForm):
    status = forms.ChoiceField(label="党籍状态", choices=Status.choices)
    on = _date("日期", initial=timezone.localdate)
    reason = forms.CharField(label="原因或依据", max_length=200)


class MobilityForm(SafeModelForm):
    class Meta:
        model = Mobility
        fields = [
            "destination",
            "started_on",
            "ended_on",
            "certificate_issued_on",
            "certificate_no",
            "contact",
            "note",
        ]
        widgets = dict.fromkeys(("started_on", "ended_on", "certificate_issued_on"), DATE_INPUT)


class MobilityEndForm(SafeForm):
    mobility = forms.ModelChoiceField(label="外出登记", queryset=Mobility.objects.none())
    ended_on = _date("返回日期", initial=timezone.localdate)

    def __init__(self, *args, member, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mobility"].queryset = member.mobilities.filter(
            ended_on__isnull=True, voided_at__isnull=True
        )
        self.fields["mobility"].label_from_instance = lambda m: (
            f"{m.destination}（{m.started_on:%Y-%m-%d}起）"
        )


class ExemptionForm(SafeForm):
    kind = forms.ChoiceField(label="类型", choices=ExemptionKind.choices)
    started_on = _date("起始日期")
    ended_on = _date("结束日期", required=False, help_text="年老体弱可不填。")
    approved_on = _date("批准日期", initial=timezone.localdate)
    approved_by = forms.CharField(label="批准人/会议", max_length=50, required=False)


class DuesPaymentForm(SafeForm):
    """One month's dues, or 补交 of several months at once (所属月份 … 至 …), each at the same amount."""

    month = MonthField(
        label="所属月份",
        initial=lambda: timezone.localdate().replace(day=1),
        help_text="补交连续几个月时填第一个月。",
    )
    until = MonthField(
        label="至",
        required=False,
        help_text=f"补交连续几个月时填最后一个月（一次最多{dues.RANGE_LIMIT_MONTHS}个月）；只登记一个月不填。",
    )
    paid_on = _date("缴纳日期", initial=timezone.localdate)
    amount = forms.DecimalField(
        label="金额（元/月）",
        min_value=0,
        max_digits=10,
        decimal_places=2,
        required=False,
        help_text="不填则按党费基数计算；登记几个月时为每月金额。",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The month picker offers no month to come: those are refused (dues.future_month_problem).
        this_month = f"{timezone.localdate():%Y-%m}"
        for name in ("month", "until"):
            self.fields[name].widget.attrs["max"] = this_month


class ThoughtReportForm(SafeForm):
    received_on = _date("收到日期", initial=timezone.localdate)
    title = forms.CharField(label="标题/主要内容", max_length=200, required=False)


class TrainingForm(SafeForm):
    """One training and the members who attended it (the branch's 正式 and 预备党员 on the roster)."""

    held_on = _date("培训日期", initial=timezone.localdate, help_text="多日培训填开始日期。")
    hours = forms.DecimalField(
        label="学时", max_digits=5, decimal_places=1, min_value=Decimal("0.1"), max_value=MAX_TRAINING_HOURS,
        help_text="每人所得学时，如 4 或 2.5。",
        error_messages={"min_value": "学时必须大于0。",
                        "max_value": f"一次培训最多登记{MAX_TRAINING_HOURS}学时；时间更长的培训请分阶段登记。"},
    )  # fmt: skip
    title = forms.CharField(label="培训内容", max_length=200)
    organiser = forms.CharField(label="举办单位", max_length=100, required=False)
    kind = forms.ChoiceField(label="形式", choices=TrainingKind.choices, initial=TrainingKind.CLASSROOM)
    members = forms.ModelMultipleChoiceField(
        label="参加人员", queryset=Member.objects.none(), widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "请至少选择一名参加培训的党员。",
                        "invalid_choice": "所选人员不是本支部在册党员，请刷新页面后重新选择。"},
    )  # fmt: skip
    token = submit_token_field()

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = members
        self.fields["members"].label_from_instance = lambda m: m.name


class VoidForm(SafeForm):
    reason = forms.CharField(label="作废原因", max_length=200)


class ImportUploadForm(SafeForm):
    file = forms.FileField(
        label="名册文件（.xlsx）",
        help_text="表头在前几行即可，按“姓名、身份证号码、人员类别、所在党支部”等列名识别。",
    )


class ImportCommitForm(SafeForm):
    mode = forms.ChoiceField(
        label="身份证号已登记的人员",
        choices=[
            ("skip", "跳过，不改动"),
            ("update", "更新其基本信息（表中填写的民族、学历、电话、单位、备注；姓名须一致）"),
        ],
        initial="skip",
        widget=forms.RadioSelect,
    )
    strict = forms.BooleanField(label="严格模式：任何一行有问题则全部不导入", required=False)
