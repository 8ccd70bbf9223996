"""Settings a 党委 changes for its subtree, and the flags the engine raises and resolves."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from branches.models import Organisation
from members.models import Member

from .periods import PERIOD_LABELS, PeriodKind
from .rules import (
    CATALOGUE,
    MEETING_RULES,
    TERM_SETTING,
    TRAINING_COMMITTEE,
    TRAINING_SETTINGS,
    VALUE_SETTING_NAMES,
    VALUE_SETTINGS,
    value_label,
    value_problem,
)

# Record-quality warnings are not rules of RULES.md, but they are flagged alongside them.
QUALITY_CHOICES = [
    ("backfill", "补录"),
    ("low_quorum", "到会未过半"),
    ("no_attendance", "无出勤记录"),
    ("pipeline", "发展党员时限"),
    ("theme_day_moved", "主题党日改期未批准"),
    ("org_life_records", "组织生活会材料不全"),
    ("review_followup", "民主评议后续处置"),
]
RULE_CHOICES = [(code, rule.name) for code, rule in CATALOGUE.items()] + QUALITY_CHOICES
# Every rule a flag may be raised under. A refresh judges the open flags of these rules only (by name, so
# that an index finds them): renaming or retiring a code needs a data migration resolving its open flags.
FLAG_RULES = tuple(code for code, _name in RULE_CHOICES)
# A setting may also name what is not a rule of its own: the 56 学时 asked of 书记 and 支委.
SETTING_CHOICES = RULE_CHOICES + [
    (TRAINING_COMMITTEE, "集中学习培训（书记、支委）"),
    *VALUE_SETTING_NAMES.items(),
]


class RuleSetting(models.Model):
    """A local rule for a subtree from a date on. The nearest ancestor's latest setting in force wins."""

    organisation = models.ForeignKey(
        Organisation, verbose_name="党组织", on_delete=models.PROTECT, related_name="rule_settings"
    )
    rule = models.CharField("规则", max_length=30, choices=SETTING_CHOICES)
    enabled = models.BooleanField("启用", default=True)
    count = models.PositiveSmallIntegerField("次数", null=True, blank=True)
    period_kind = models.CharField(
        "周期", max_length=10, choices=[(k.value, PERIOD_LABELS[k]) for k in PeriodKind], blank=True
    )
    effective_from = models.DateField("生效日期")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="设置人",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # A setting saved by mistake is withdrawn (撤销) before it takes effect, never deleted: kept, with who and
    # why, on the settings page and in the 操作记录. The engine and compliance.local read only the others.
    voided_at = models.DateTimeField("撤销时间", null=True, blank=True)
    void_reason = models.CharField("撤销原因", max_length=200, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="撤销人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "规则设置"
        verbose_name_plural = "规则设置"
        constraints = [
            # A withdrawn setting leaves its day free for the right one.
            models.UniqueConstraint(
                fields=["organisation", "rule", "effective_from"],
                condition=Q(voided_at__isnull=True),
                name="one_setting_per_day",
            )
        ]

    def __str__(self):
        return f"{self.organisation} {self.get_rule_display()}（{self.effective_from}起）"

    @property
    def frequency_text(self):
        """A rule's setting as the page says it, the rule's own count or period filled in where it keeps
        them: 每季度2次, 每年40学时, 不检查."""
        if self.rule in VALUE_SETTINGS:  # a value the admin site let through empty is not applied
            return self.value_text or "按默认"
        if not self.enabled:
            return "不检查"
        if self.rule in TRAINING_SETTINGS:
            return f"每年{self.count}学时" if self.count else "按默认学时"
        default = CATALOGUE[self.rule].frequency
        period = PERIOD_LABELS[PeriodKind(self.period_kind or default.period)]
        return f"每{period}{self.count or default.count}次"

    def clean(self):
        """The admin site edits settings directly: a local value it could not stand would stop the engine."""
        problem = value_problem(self.rule, self.count) if self.rule in VALUE_SETTINGS else None
        if problem:
            field, message = problem
            raise ValidationError({"count" if field == "theme_day" else field: message})
        if self.rule == TERM_SETTING and self.organisation_id:
            from .local import term_setting_refused  # local reads these settings

            refused = term_setting_refused(self.organisation)
            if refused:
                raise ValidationError({"organisation": refused})

    @property
    def value_text(self):
        """A local value (主题党日固定日期, 补录认定, 委员会任期) as the page says it; "" for a rule's setting."""
        return value_label(self.rule, self.count) if self.rule in VALUE_SETTINGS and self.count else ""


class FlagState(models.TextChoices):
    DUE_SOON = "due_soon", "即将到期"
    OVERDUE = "overdue", "逾期未完成"
    WARNING = "warning", "需要关注"


class Flag(models.Model):
    """Something that needs attention. Raised and resolved by the engine; never deleted."""

    key = models.CharField(max_length=200, editable=False)
    rule = models.CharField("规则", max_length=30, choices=RULE_CHOICES)
    state = models.CharField("状态", max_length=20, choices=FlagState.choices)
    # Indexed together with resolved_on (Meta.indexes), which serves every lookup by branch: a second
    # index of branch alone would only slow the refresh's inserts.
    # No foreign-key constraints in the database (db_constraint=False, here and below): only the engine
    # writes flags, with ids it read in the same transaction, and organisations, members and records are
    # voided, never deleted (PROTECT still refuses a delete in Django). The constraints cost a rebuild
    # 3.4 s at commit at county scale, one lookup per key per flag, for nothing they could catch.
    branch = models.ForeignKey(
        Organisation, verbose_name="党支部", on_delete=models.PROTECT, related_name="flags", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    # Most flags are about a branch or a group's period, with no member or record: the indexes of these
    # three are partial (Meta.indexes), so a rebuild's 200,000 inserts skip them where the column is empty.
    group = models.ForeignKey(
        Organisation, verbose_name="党小组", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False, db_constraint=False,
    )  # fmt: skip
    member = models.ForeignKey(
        Member, verbose_name="党员", null=True, blank=True, on_delete=models.PROTECT, db_index=False,
        db_constraint=False,
    )  # fmt: skip
    meeting = models.ForeignKey(
        "meetings.Meeting",
        verbose_name="记录",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        db_constraint=False,
    )
    period_start = models.DateField("周期开始", null=True, blank=True)
    period_end = models.DateField("周期结束", null=True, blank=True)
    message = models.CharField("说明", max_length=300)
    raised_on = models.DateField("发现日期")
    resolved_on = models.DateField("解除日期", null=True, blank=True)
    resolved_by = models.CharField("解除原因", max_length=200, blank=True)

    class Meta:
        verbose_name = "提醒"
        verbose_name_plural = "提醒"
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=Q(resolved_on__isnull=True), name="one_open_flag_per_key"
            )
        ]
        indexes = [
            models.Index(fields=["branch", "resolved_on"]),
            # The open flags alone: a county's refresh and dashboards read them, and the resolved ones
            # (kept for ever) would otherwise be scanned with them, more of them every year.
            models.Index(
                fields=["rule", "period_end"], condition=Q(resolved_on__isnull=True), name="open_flags"
            ),
            *(
                models.Index(
                    fields=[name], condition=Q(**{f"{name}__isnull": False}), name=f"flag_{name}_given"
                )
                for name in ("group", "member", "meeting")
            ),
        ]

    def __str__(self):
        return self.message

    @property
    def record_type(self):
        """What the "记录" link of an open missing-meeting flag pre-fills on the meeting form: the type,
        "" where the form asks for it (党小组会: which group; 支组合一), None where no meeting meets the flag."""
        if self.resolved_on or self.period_start is None:
            return None
        if self.rule in ("group_meeting", "merged_meeting"):
            return ""
        if self.rule == "secretary_lecture" or self.rule in MEETING_RULES:
            return CATALOGUE[self.rule].meeting_types[0]
        return None


class Lease(models.Model):
    """A named lease so that two beat runs never overlap (taken with one conditional UPDATE)."""

    name = models.CharField(max_length=50, unique=True)
    held_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "任务锁"
        verbose_name_plural = "任务锁"

    def __str__(self):
        return self.name


class DigestSubscription(models.Model):
    """A user's choice to receive the daily email of what is due or overdue in their scope."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name="用户", on_delete=models.CASCADE, related_name="digest"
    )
    enabled = models.BooleanField("接收每日提醒邮件", default=False)
    last_sent_on = models.DateField("上次发送", null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "提醒邮件订阅"
        verbose_name_plural = "提醒邮件订阅"

    def __str__(self):
        return f"{self.user} {'接收' if self.enabled else '不接收'}"


class GridStamp(models.Model):
    """A token that changes whenever the inputs of a branch's obligations change (branch 0: every branch's).

    The dashboards cache each branch's obligation counts under its token, so a write makes only its
    own branch's counts be computed again. A random token rather than a counter: a restored backup
    or a rolled-back transaction can never bring back a token that named other data."""

    branch_id = models.PositiveIntegerField(primary_key=True)
    token = models.BigIntegerField()

    class Meta:
        verbose_name = "统计版本"
        verbose_name_plural = "统计版本"

    def __str__(self):
        return f"{self.branch_id}:{self.token}"


class RefreshRun(models.Model):
    """A county-wide refresh that finished: the nightly run judges again only what the calendar has moved
    since the latest of them (see engine.quiet_rules), and the office can see when flags were last judged."""

    class Kind(models.TextChoices):
        NIGHTLY = "nightly", "夜间刷新"
        FULL = "full", "全面刷新"
        # Some branches judged as of another day than today (the command's --branch --as-of): the next
        # night cannot know what stands, and judges everything.
        PARTIAL = "partial", "部分支部按其他日期刷新"

    kind = models.CharField("类型", max_length=10, choices=Kind.choices)
    as_of = models.DateField("判断日期")
    # The first day of the periods it judged (the command's --since); empty: taken as 1 January of the
    # year before as_of, where the weekly run and every write's refresh start. Writes dated before the
    # earliest of them judge no further back (`services.first_judged`): those periods were never judged.
    since = models.DateField("起始日期", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间", auto_now_add=True)
    raised = models.PositiveIntegerField("新提醒")
    resolved = models.PositiveIntegerField("解除")

    class Meta:
        verbose_name = "合规刷新记录"
        verbose_name_plural = "合规刷新记录"
        ordering = ["-finished_at"]
        indexes = [models.Index(fields=["as_of"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.as_of}"
