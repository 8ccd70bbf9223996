"""民主评议党员: one campaign per branch and year, its participants (a snapshot of the roster on the
campaign date), the ballot tally and the branch's grade for each, and the follow-up of low grades."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from branches.models import Organisation, Voidable
from meetings.models import Meeting
from members.models import Category, Member


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    IN_PROGRESS = "in_progress", "进行中"
    CLOSED = "closed", "已完成"
    RETURNED = "returned", "退回修改"
    REPORTED = "reported", "已上报"


# States whose tallies, grades and dates the branch may still change.
EDITABLE_STATUSES = (CampaignStatus.DRAFT, CampaignStatus.IN_PROGRESS)
# States that satisfy member_review for the year (a returned campaign does not, until closed again).
COUNTED_STATUSES = (CampaignStatus.CLOSED, CampaignStatus.REPORTED)


class Grade(models.TextChoices):
    EXCELLENT = "excellent", "优秀"
    QUALIFIED = "qualified", "合格"
    BASIC = "basic", "基本合格"
    UNQUALIFIED = "unqualified", "不合格"


# Grades that need a written reason and a follow-up.
LOW_GRADES = (Grade.BASIC, Grade.UNQUALIFIED)


class Campaign(Voidable):
    branch = models.ForeignKey(
        Organisation, verbose_name="党支部", on_delete=models.PROTECT, related_name="review_campaigns"
    )
    year = models.PositiveSmallIntegerField(
        "评议年度", validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    campaign_on = models.DateField("启动日期", help_text="参评名单按该日的党员名册生成。")
    status = models.CharField(
        "状态", max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )

    # The steps and their dates.
    study_start_on = models.DateField("学习教育开始", null=True, blank=True)
    study_end_on = models.DateField("学习教育结束", null=True, blank=True)
    self_assessment_on = models.DateField("自我评价日期", null=True, blank=True)
    vote_on = models.DateField("民主测评日期", null=True, blank=True)
    ballots_issued = models.PositiveIntegerField("发出测评票", null=True, blank=True)
    ballots_returned = models.PositiveIntegerField("收回测评票", null=True, blank=True)
    assessment_on = models.DateField("组织评定日期", null=True, blank=True)
    publicity_start_on = models.DateField("结果公示开始", null=True, blank=True)
    publicity_end_on = models.DateField("结果公示结束", null=True, blank=True)
    reported_on = models.DateField("上报党委日期", null=True, blank=True)
    org_life_meeting = models.ForeignKey(
        Meeting,
        verbose_name="同时召开的组织生活会",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="review_campaigns",
    )
    note = models.CharField("备注", max_length=300, blank=True)

    closed_on = models.DateField("完成日期", null=True, blank=True)
    review_comment = models.CharField("退回意见", max_length=300, blank=True)
    submit_token = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="创建人",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "民主评议"
        verbose_name_plural = "民主评议"
        ordering = ["-year", "branch__path"]
        constraints = [
            models.UniqueConstraint(
                fields=["branch", "year"],
                condition=Q(voided_at__isnull=True),
                name="one_review_per_branch_year",
            ),
        ]
        indexes = [models.Index(fields=["year", "status"])]

    def __str__(self):
        return f"{self.branch} {self.year}年度民主评议党员"

    @property
    def is_editable(self):
        return self.voided_at is None and self.status in EDITABLE_STATUSES


class Participant(models.Model):
    """A member on the campaign's list: graded, or listed as exempt with the reason."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="participants")
    member = models.ForeignKey(Member, verbose_name="党员", on_delete=models.PROTECT, related_name="+")
    category = models.CharField("人员类别", max_length=20, choices=Category.choices)
    away = models.BooleanField("外出", default=False)
    exempt_reason = models.CharField(
        "不参加评议原因",
        max_length=100,
        blank=True,
        help_text="免于参加组织生活的党员列出原因，不参加测评和评定。",
    )
    self_assessment = models.TextField("自我评价", blank=True)
    votes_excellent = models.PositiveIntegerField("优秀票", default=0)
    votes_qualified = models.PositiveIntegerField("合格票", default=0)
    votes_basic = models.PositiveIntegerField("基本合格票", default=0)
    votes_unqualified = models.PositiveIntegerField("不合格票", default=0)
    grade = models.CharField("组织评定", max_length=20, choices=Grade.choices, blank=True)
    grade_reason = models.CharField("评定理由", max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "参评党员"
        verbose_name_plural = "参评党员"
        constraints = [
            models.UniqueConstraint(fields=["campaign", "member"], name="one_participant_per_member"),
            models.CheckConstraint(
                condition=Q(grade="") | Q(grade__in=Grade.values), name="participant_grade_is_a_code"
            ),
        ]

    def __str__(self):
        return f"{self.member} · {self.get_grade_display() or '未评定'}"

    @property
    def is_exempt(self):
        return bool(self.exempt_reason)

    @property
    def votes_total(self):
        return self.votes_excellent + self.votes_qualified + self.votes_basic + self.votes_unqualified


class FollowUpKind(models.TextChoices):
    RECTIFY = "rectify", "限期改正"
    PERSUADE = "persuade", "劝退"
    REMOVE = "remove", "除名"


class FollowUp(Voidable):
    """What the branch does about a 基本合格 or 不合格 grade; open until closed with its outcome."""

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="followups")
    kind = models.CharField("处置方式", max_length=20, choices=FollowUpKind.choices)
    proposed_on = models.DateField("提出日期")
    deadline_on = models.DateField("改正期限/办结期限", null=True, blank=True)
    note = models.CharField("说明", max_length=300, blank=True)
    closed_on = models.DateField("办结日期", null=True, blank=True)
    outcome = models.CharField("办理结果", max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "后续处置"
        verbose_name_plural = "后续处置"
        ordering = ["proposed_on", "pk"]

    def __str__(self):
        return f"{self.participant.member} · {self.get_kind_display()}"

    @property
    def is_open(self):
        return self.voided_at is None and self.closed_on is None
