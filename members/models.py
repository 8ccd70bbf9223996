"""Members and everything dated that happens to them.

The Member row carries the current state (branch, group, category, status) for fast lists;
the dated tables (memberships, category and status changes, 外出, exemptions) are the truth
for any past date — see selectors.roster_as_of.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from branches.models import Organisation, Voidable

from . import dues, pipeline


class Category(models.TextChoices):
    APPLICANT = pipeline.APPLICANT, pipeline.CATEGORY_LABELS[pipeline.APPLICANT]
    ACTIVIST = pipeline.ACTIVIST, pipeline.CATEGORY_LABELS[pipeline.ACTIVIST]
    CANDIDATE = pipeline.CANDIDATE, pipeline.CATEGORY_LABELS[pipeline.CANDIDATE]
    PROBATIONARY = pipeline.PROBATIONARY, pipeline.CATEGORY_LABELS[pipeline.PROBATIONARY]
    FULL = pipeline.FULL, pipeline.CATEGORY_LABELS[pipeline.FULL]


PARTY_MEMBER_CATEGORIES = (Category.PROBATIONARY, Category.FULL)


class Status(models.TextChoices):
    NORMAL = "normal", "正常"
    SUSPENDED = "suspended", "停止党籍"
    LEFT = "left", "出党"
    DECEASED = "deceased", "去世"


# Statuses that take a member off the roster for good.
LEAVING_STATUSES = (Status.LEFT, Status.DECEASED)


class Gender(models.TextChoices):
    MALE = "male", "男"
    FEMALE = "female", "女"


DuesKind = models.TextChoices(
    "DuesKind", [(code, (code, label)) for code, label in dues.DUES_KIND_LABELS.items()]
)


class Member(models.Model):
    name = models.CharField("姓名", max_length=50)
    name_initials = models.CharField(
        "姓名拼音首字母", max_length=50, blank=True, db_index=True, editable=False
    )
    gender = models.CharField("性别", max_length=10, choices=Gender.choices)
    ethnicity = models.CharField("民族", max_length=20, default="汉族")
    birth_on = models.DateField("出生日期")
    id_number = models.CharField("身份证号", max_length=18, unique=True)
    education = models.CharField("学历", max_length=30, blank=True)
    phone = models.CharField("联系电话", max_length=20, blank=True)
    work_unit = models.CharField("工作单位及职务", max_length=100, blank=True)
    lost_contact_on = models.DateField(
        "失去联系日期", null=True, blank=True,
        help_text="与党组织失去联系、经多方查找仍无下落时填写；取得联系后清空。",
    )  # fmt: skip
    note = models.CharField("备注", max_length=200, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name="登录账号",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="member",
    )

    # Current state, kept in step with the dated tables by services.
    branch = models.ForeignKey(
        Organisation, verbose_name="所在党支部", on_delete=models.PROTECT, related_name="members"
    )
    group = models.ForeignKey(
        Organisation,
        verbose_name="党小组",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="group_members",
    )
    category = models.CharField("人员类别", max_length=20, choices=Category.choices)
    status = models.CharField("党籍状态", max_length=20, choices=Status.choices, default=Status.NORMAL)
    on_roster = models.BooleanField("在册", default=True, help_text="转出、出党、去世后不再在册。")

    applied_on = models.DateField("递交入党申请日期", null=True, blank=True)
    activist_on = models.DateField("确定为积极分子日期", null=True, blank=True)
    candidate_on = models.DateField("确定为发展对象日期", null=True, blank=True)
    joined_on = models.DateField("入党时间", null=True, blank=True)
    confirmed_on = models.DateField("转正时间", null=True, blank=True)

    dues_kind = models.CharField("党费类别", max_length=20, choices=DuesKind.choices, default=dues.EMPLOYED)
    dues_base = models.DecimalField(
        "党费基数（元/月）",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="在职为税后月工资收入。",
    )

    records_from = models.DateField(
        "系统记录起始日期",
        null=True,
        blank=True,
        help_text="花名册导入的党员：导入当月1日。此前的党费、思想汇报、学习培训未在本系统记录，不据以提醒。",
    )
    created_at = models.DateTimeField("录入时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "党员"
        verbose_name_plural = "党员"
        ordering = ["branch_id", "name"]
        indexes = [models.Index(fields=["branch", "on_roster", "category"])]

    def __str__(self):
        return self.name

    @property
    def monthly_dues(self):
        try:
            return dues.monthly_dues(kind=self.dues_kind, base=self.dues_base)
        except ValueError:
            return None


class Membership(models.Model):
    """A period in which the member belonged to a branch (and group). One open period at a time."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="memberships")
    branch = models.ForeignKey(
        Organisation, verbose_name="党支部", on_delete=models.PROTECT, related_name="+"
    )
    group = models.ForeignKey(
        Organisation, verbose_name="党小组", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_on = models.DateField("起始日期")
    ended_on = models.DateField("结束日期", null=True, blank=True)
    start_reason = models.CharField("起因", max_length=100, blank=True)
    end_reason = models.CharField("结束原因", max_length=100, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "组织关系"
        verbose_name_plural = "组织关系"
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=Q(ended_on__isnull=True), name="one_open_membership"
            ),
        ]
        indexes = [models.Index(fields=["branch", "started_on"])]

    def __str__(self):
        return f"{self.member} · {self.branch}（{self.started_on}起）"


class CategoryChange(models.Model):
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="category_changes")
    category = models.CharField("人员类别", max_length=20, choices=Category.choices)
    changed_on = models.DateField("日期")
    note = models.CharField("备注", max_length=200, blank=True)
    recorded_at = models.DateTimeField("录入时间", auto_now_add=True)

    class Meta:
        verbose_name = "类别变化"
        verbose_name_plural = "类别变化"
        indexes = [models.Index(fields=["member", "changed_on"])]

    def __str__(self):
        return f"{self.member} · {self.get_category_display()}（{self.changed_on}）"


class StatusChange(models.Model):
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="status_changes")
    status = models.CharField("党籍状态", max_length=20, choices=Status.choices)
    changed_on = models.DateField("日期")
    reason = models.CharField("原因", max_length=200, blank=True)
    recorded_at = models.DateTimeField("录入时间", auto_now_add=True)

    class Meta:
        verbose_name = "党籍状态变化"
        verbose_name_plural = "党籍状态变化"
        indexes = [models.Index(fields=["member", "changed_on"])]

    def __str__(self):
        return f"{self.member} · {self.get_status_display()}（{self.changed_on}）"


class TransferDirection(models.TextChoices):
    IN = "in", "转入"
    OUT = "out", "转出"
    INTERNAL = "internal", "内部调整"


class Transfer(models.Model):
    """组织关系转接: the letter that moved a member in, out, or between branches of this instance."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="transfers")
    direction = models.CharField("类型", max_length=10, choices=TransferDirection.choices)
    transferred_on = models.DateField("转接日期")
    letter_no = models.CharField("介绍信编号", max_length=50, blank=True)
    counterpart = models.CharField("对方党组织", max_length=100, blank=True)
    from_branch = models.ForeignKey(
        Organisation, verbose_name="原支部", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_branch = models.ForeignKey(
        Organisation, verbose_name="新支部", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField("备注", max_length=200, blank=True)
    recorded_at = models.DateTimeField("录入时间", auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "组织关系转接"
        verbose_name_plural = "组织关系转接"

    def __str__(self):
        return f"{self.member} · {self.get_direction_display()}（{self.transferred_on}）"


class Mobility(Voidable):
    """外出 (流动党员): away from the branch for work or study."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="mobilities")
    destination = models.CharField("外出地点", max_length=100)
    started_on = models.DateField("外出日期")
    ended_on = models.DateField("返回日期", null=True, blank=True, help_text="尚未返回可不填。")
    certificate_issued_on = models.DateField("开具证明信/流动党员活动证日期", null=True, blank=True)
    certificate_no = models.CharField("证明编号", max_length=50, blank=True)
    contact = models.CharField("外出期间联系方式", max_length=50, blank=True)
    note = models.CharField("备注", max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "外出登记"
        verbose_name_plural = "外出登记"

    def __str__(self):
        return f"{self.member} · 外出{self.destination}（{self.started_on}起）"


class ExemptionKind(models.TextChoices):
    SICK = "sick", "病休"
    MATERNITY = "maternity", "产假"
    FRAIL = "frail", "年老体弱"


class Exemption(Voidable):
    """An approved period in which the member is not expected at organisational life."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="exemptions")
    kind = models.CharField("类型", max_length=20, choices=ExemptionKind.choices)
    started_on = models.DateField("起始日期")
    ended_on = models.DateField("结束日期", null=True, blank=True, help_text="年老体弱可不填结束日期。")
    approved_on = models.DateField("批准日期")
    approved_by = models.CharField("批准人/会议", max_length=50, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "免于参加组织生活"
        verbose_name_plural = "免于参加组织生活"

    def __str__(self):
        return f"{self.member} · {self.get_kind_display()}（{self.started_on}起）"


class PipelineEventKind(models.TextChoices):
    TALK = "talk", "谈话（申请后一个月内）"
    TRAINING = "training", "集中培训"
    POLITICAL_REVIEW = "political_review", "政治审查"
    APPROVAL = "approval", "上级党委审批"
    EXTENSION = "extension", "延长预备期"


class PipelineEvent(models.Model):
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="pipeline_events")
    kind = models.CharField("事项", max_length=20, choices=PipelineEventKind.choices)
    happened_on = models.DateField("日期")
    hours = models.PositiveSmallIntegerField("学时", null=True, blank=True)
    months = models.PositiveSmallIntegerField("延长月数", null=True, blank=True)
    note = models.CharField("备注", max_length=200, blank=True)
    recorded_at = models.DateTimeField("录入时间", auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "发展党员事项"
        verbose_name_plural = "发展党员事项"

    def __str__(self):
        return f"{self.member} · {self.get_kind_display()}（{self.happened_on}）"


class DuesPayment(Voidable):
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="dues_payments")
    month = models.DateField("所属月份", help_text="当月1日")
    amount = models.DecimalField("金额（元）", max_digits=10, decimal_places=2)
    paid_on = models.DateField("缴纳日期")
    recorded_at = models.DateTimeField("录入时间", auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "党费缴纳"
        verbose_name_plural = "党费缴纳"
        constraints = [
            models.UniqueConstraint(
                fields=["member", "month"], condition=Q(voided_at__isnull=True), name="one_payment_per_month"
            ),
        ]
        indexes = [
            # Who paid in the last months (the nightly arrears check), from the index alone. Every read of
            # payments by month is of live ones: no index of every row by month besides.
            models.Index(
                fields=["month", "member"], condition=Q(voided_at__isnull=True), name="live_dues_by_month"
            ),
        ]

    def __str__(self):
        return f"{self.member} · {self.month:%Y年%m月}党费 {self.amount}元"


class ThoughtReport(Voidable):
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="thought_reports")
    received_on = models.DateField("收到日期")
    title = models.CharField("标题/主要内容", max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "思想汇报"
        verbose_name_plural = "思想汇报"
        indexes = [
            # Who reported in a period (the nightly thought-report check), from the index alone.
            models.Index(
                fields=["received_on", "member"],
                condition=Q(voided_at__isnull=True),
                name="live_reports_by_day",
            ),
        ]

    def __str__(self):
        return f"{self.member} · 思想汇报（{self.received_on}）"


class RosterImport(models.Model):
    """One uploaded roster: its rows are kept until committed, and the outcome stays as an audit record."""

    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="上传人", on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField("上传时间", auto_now_add=True)
    filename = models.CharField("文件名", max_length=200)
    rows = models.JSONField("数据行", default=list)
    committed_at = models.DateTimeField("导入时间", null=True, blank=True)
    mode = models.CharField("已登记人员", max_length=10, blank=True)
    strict = models.BooleanField("严格模式", default=False)
    outcome = models.JSONField("结果", default=dict, blank=True)

    class Meta:
        verbose_name = "名册导入"
        verbose_name_plural = "名册导入"
        ordering = ["-uploaded_at"]

    def __str__(self):
        return f"{self.filename}（{self.uploaded_at:%Y-%m-%d %H:%M}）"


class TrainingKind(models.TextChoices):
    CLASSROOM = "classroom", "集中培训"
    ONLINE = "online", "网络学习"
    LECTURE = "lecture", "党课"
    OTHER = "other", "其他"


# A week-long 集中轮训 is about 40 学时; more than this in one record is almost surely a typing slip
# (320 for 32.0). A longer course is recorded in parts.
MAX_TRAINING_HOURS = 120


class TrainingRecord(Voidable):
    """学时 of 集中学习培训 one member earned at one training (教育管理条例 第二十条: 32 a year).

    One row per member: a training attended by ten members is ten rows sharing the submit token
    of the form that recorded them. The branch is the one that recorded it (the member's branch
    that day), so a member who moves keeps their hours and the old branch keeps its 台账."""

    member = models.ForeignKey(
        Member, verbose_name="党员", on_delete=models.PROTECT, related_name="training_records"
    )
    branch = models.ForeignKey(
        Organisation, verbose_name="登记支部", on_delete=models.PROTECT, related_name="training_records"
    )
    held_on = models.DateField("培训日期", help_text="多日培训填开始日期。")
    hours = models.DecimalField("学时", max_digits=5, decimal_places=1)
    title = models.CharField("培训内容", max_length=200)
    organiser = models.CharField("举办单位", max_length=100, blank=True)
    kind = models.CharField(
        "形式", max_length=20, choices=TrainingKind.choices, default=TrainingKind.CLASSROOM
    )
    submit_token = models.CharField(max_length=64, editable=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="录入人",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recorded_at = models.DateTimeField("录入时间", auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "学习培训"
        verbose_name_plural = "学习培训"
        ordering = ["-held_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(hours__gt=0) & Q(hours__lte=MAX_TRAINING_HOURS), name="training_hours_in_range"
            ),
            # The same form sent twice records each member once (see services.record_training).
            models.UniqueConstraint(fields=["submit_token", "member"], name="one_training_row_per_submit"),
        ]
        indexes = [
            models.Index(fields=["member", "held_on"]),
            models.Index(fields=["branch", "held_on"]),
            # A year's 学时 per member (the refresh in December and January, the 台账), from the index alone.
            models.Index(
                fields=["held_on", "member", "hours"],
                condition=Q(voided_at__isnull=True),
                name="live_training_by_day",
            ),
        ]

    def __str__(self):
        return f"{self.member} · {self.title}（{self.held_on}，{self.hours}学时）"
