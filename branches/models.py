"""The organisation tree (党委 > 党总支 > 党支部 > 党小组), committees and terms, and role assignments."""

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords
from treebeard.mp_tree import MP_Node


class Voidable(models.Model):
    """A record that is voided with a reason, never deleted (shared by every app's records)."""

    voided_at = models.DateTimeField("作废时间", null=True, blank=True)
    void_reason = models.CharField("作废原因", max_length=200, blank=True)

    class Meta:
        abstract = True

    def void(self, reason):
        """Void with its reason (required), keeping the record. The services check their own conditions
        (already void, year locked, review closed) first."""
        reason = (reason or "").strip()
        if not reason:
            raise ValidationError({"reason": "请填写作废原因。"})
        self.voided_at = timezone.now()
        self.void_reason = reason
        self.save()
        return self


class OrgLevel(models.TextChoices):
    PARTY_COMMITTEE = "party_committee", "党委"
    GENERAL_BRANCH = "general_branch", "党总支"
    BRANCH = "branch", "党支部"
    GROUP = "group", "党小组"


# Which levels may sit directly under which (None = a root).
ALLOWED_PARENT_LEVELS = {
    OrgLevel.PARTY_COMMITTEE: {None, OrgLevel.PARTY_COMMITTEE},
    OrgLevel.GENERAL_BRANCH: {OrgLevel.PARTY_COMMITTEE},
    OrgLevel.BRANCH: {OrgLevel.PARTY_COMMITTEE, OrgLevel.GENERAL_BRANCH},
    OrgLevel.GROUP: {OrgLevel.BRANCH},
}


class OrgKind(models.TextChoices):
    TOWNSHIP = "township", "乡镇/街道"
    VILLAGE = "village", "农村"
    COMMUNITY = "community", "社区"
    GOVERNMENT = "government", "机关"
    PUBLIC_INSTITUTION = "public_institution", "事业单位"
    SCHOOL = "school", "学校"
    STATE_ENTERPRISE = "state_enterprise", "国有企业"
    PRIVATE_ENTERPRISE = "private_enterprise", "非公企业"
    SOCIAL_ORGANISATION = "social_organisation", "社会组织"
    RETIRED = "retired", "离退休"
    OTHER = "other", "其他"


# 支部条例 第二十一条: 村、社区 branches serve 5 years, others generally 3.
FIVE_YEAR_TERM_KINDS = {OrgKind.VILLAGE, OrgKind.COMMUNITY, OrgKind.TOWNSHIP}


def default_term_years(organisation):
    """村、社区 organisations and every 基层党委 serve 5 years; other 总支 and 支部 3 (支部条例 第二十一条)."""
    five = organisation.kind in FIVE_YEAR_TERM_KINDS or organisation.level == OrgLevel.PARTY_COMMITTEE
    return 5 if five else 3


# No party organisation is older than the party: an earlier 成立日期 is a typing slip (1800 for 1980).
EARLIEST_FOUNDED_ON = date(1921, 7, 1)


class Organisation(MP_Node):
    name = models.CharField("名称", max_length=100)
    level = models.CharField("层级", max_length=20, choices=OrgLevel.choices)
    kind = models.CharField("类型", max_length=30, choices=OrgKind.choices, default=OrgKind.OTHER)
    founded_on = models.DateField("成立日期")
    merged_group = models.BooleanField(
        "支组合一", default=False, help_text="党员人数少、不设党小组的支部，党员大会与党小组会合并召开。"
    )
    dissolved_on = models.DateField("撤销日期", null=True, blank=True)
    dissolve_reason = models.CharField("撤销原因", max_length=200, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["numchild"])

    # Keep insertion order: 第一/第二/第三 do not sort by code point.
    node_order_by = []

    class Meta:
        verbose_name = "党组织"
        verbose_name_plural = "党组织"

    def __str__(self):
        return self.name

    @property
    def is_active(self):
        return self.dissolved_on is None

    @property
    def is_branch(self):
        return self.level == OrgLevel.BRANCH

    def clean(self):
        if self.merged_group and self.level != OrgLevel.BRANCH:
            raise ValidationError({"merged_group": "只有党支部可以设置为支组合一。"})
        if self.merged_group and self.pk and self.path:
            # RULES.md: 支组合一 is a small branch with no groups; its 党员大会 stands for the group meetings.
            groups = list(
                Organisation.objects.get_children(self)
                .filter(level=OrgLevel.GROUP, dissolved_on__isnull=True)
                .values_list("name", flat=True)[:4]
            )
            if groups:
                names = "、".join(f"“{name}”" for name in groups[:3]) + ("等" if len(groups) > 3 else "")
                raise ValidationError(
                    {"merged_group": f"该支部设有党小组{names}，不能设为支组合一；请先撤销或移走其党小组。"}
                )
        if self.founded_on and self.founded_on > timezone.localdate():
            raise ValidationError({"founded_on": "成立日期不能晚于今天。"})
        if self.founded_on and self.founded_on < EARLIEST_FOUNDED_ON:
            raise ValidationError(
                {
                    "founded_on": f"成立日期不能早于{EARLIEST_FOUNDED_ON:%Y-%m-%d}（中国共产党成立），请检查年份。"
                }
            )
        if self.dissolved_on and self.founded_on and self.dissolved_on < self.founded_on:
            raise ValidationError({"dissolved_on": "撤销日期不能早于成立日期。"})


class CommitteeTerm(models.Model):
    """One elected term of a branch (or 党委 / 党总支) committee, with its office-holders."""

    organisation = models.ForeignKey(
        Organisation, verbose_name="党组织", on_delete=models.PROTECT, related_name="terms"
    )
    elected_on = models.DateField("选举日期")
    ends_on = models.DateField("届满日期")
    note = models.CharField("备注", max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "届次"
        verbose_name_plural = "届次"
        ordering = ["-elected_on"]
        indexes = [models.Index(fields=["organisation", "elected_on"])]

    def __str__(self):
        return f"{self.organisation} {self.elected_on:%Y年%m月}届"

    def clean(self):
        if self.elected_on and self.ends_on and self.ends_on <= self.elected_on:
            raise ValidationError({"ends_on": "届满日期必须晚于选举日期。"})
        if self.elected_on and self.elected_on > timezone.localdate():
            raise ValidationError({"elected_on": "选举日期不能晚于今天。"})


class Position(models.TextChoices):
    SECRETARY = "secretary", "书记"
    DEPUTY_SECRETARY = "deputy_secretary", "副书记"
    ORGANISATION = "organisation", "组织委员"
    PROPAGANDA = "propaganda", "宣传委员"
    DISCIPLINE = "discipline", "纪检委员"
    YOUTH = "youth", "青年委员"
    WOMEN = "women", "妇女委员"
    MEMBER = "member", "委员"


POSITION_ORDER = {code: i for i, code in enumerate(Position.values)}


class CommitteePosition(models.Model):
    term = models.ForeignKey(
        CommitteeTerm, verbose_name="届次", on_delete=models.PROTECT, related_name="positions"
    )
    position = models.CharField("职务", max_length=20, choices=Position.choices)
    holder_name = models.CharField("姓名", max_length=50)
    started_on = models.DateField("任职日期")
    ended_on = models.DateField("离任日期", null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "委员职务"
        verbose_name_plural = "委员职务"

    def __str__(self):
        return f"{self.get_position_display()} {self.holder_name}"

    def clean(self):
        if self.ended_on and self.started_on and self.ended_on < self.started_on:
            raise ValidationError({"ended_on": "离任日期不能早于任职日期。"})


class Role(models.TextChoices):
    TOWNSHIP_ADMIN = "township_admin", "党委管理员"
    TOWNSHIP_LEADER = "township_leader", "党委领导"
    INSTRUCTOR = "instructor", "党建指导员"
    SECRETARY = "secretary", "支部书记"
    COMMITTEE_MEMBER = "committee_member", "支委"
    GROUP_LEADER = "group_leader", "党小组长"
    MEMBER = "member", "党员"


class RoleAssignment(models.Model):
    """A user's role over one organisation; the role reaches that organisation's whole subtree."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="用户",
        on_delete=models.CASCADE,
        related_name="role_assignments",
    )
    organisation = models.ForeignKey(
        Organisation, verbose_name="党组织", on_delete=models.PROTECT, related_name="role_assignments"
    )
    role = models.CharField("角色", max_length=30, choices=Role.choices)
    created_at = models.DateTimeField("授权时间", auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "角色授权"
        verbose_name_plural = "角色授权"
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation", "role"], name="unique_role_assignment"),
        ]

    def __str__(self):
        return f"{self.user} · {self.organisation} · {self.get_role_display()}"


class AccountEvent(models.Model):
    """What an office did to an account besides its roles (which keep their own history): opened it,
    reset its password, stopped or restarted it, registered its email. Kept for ever, as the history is."""

    class Kind(models.TextChoices):
        OPENED = "opened", "开通账号"
        PASSWORD = "password", "重置密码"
        STOPPED = "stopped", "停用账号"
        RESTARTED = "restarted", "启用账号"
        EMAIL = "email", "登记电子邮箱"
        OWN_PASSWORD = "own_password", "本人修改密码"

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="账号", on_delete=models.CASCADE, related_name="account_events"
    )
    kind = models.CharField("操作", max_length=20, choices=Kind.choices)
    detail = models.CharField("说明", max_length=254, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="操作人",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "账号操作记录"
        verbose_name_plural = "账号操作记录"
        indexes = [models.Index(fields=["account", "at"])]

    def __str__(self):
        return f"{self.account} {self.get_kind_display()}"
