"""One row per export: the job the page polls (status, progress, file) and the log of who exported what."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from branches.models import Organisation


class ExportKind(models.TextChoices):
    BRANCH = "branch", "支部台账"
    SUMMARY = "summary", "汇总台账"
    ZIP = "zip", "全部支部台账（压缩包）"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "生成中"
    DONE = "done", "已完成"
    FAILED = "failed", "失败"


ACTIVE_STATUSES = (ExportStatus.QUEUED, ExportStatus.RUNNING)


class LedgerExport(models.Model):
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="导出人", null=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField("类型", max_length=10, choices=ExportKind.choices)
    organisation = models.ForeignKey(
        Organisation, verbose_name="党组织", on_delete=models.PROTECT, related_name="ledger_exports"
    )
    year = models.PositiveSmallIntegerField("年度")
    full_id_numbers = models.BooleanField("含完整身份证号", default=False)
    status = models.CharField(
        "状态", max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    done = models.PositiveIntegerField("已完成步骤", default=0)
    total = models.PositiveIntegerField("总步骤", default=0)
    rows = models.PositiveIntegerField("数据行数", default=0)
    ran_inline = models.BooleanField("在本进程内生成", default=False, help_text="消息队列不可用时直接生成。")
    file = models.FileField("文件", upload_to="ledgers/%Y/%m/", blank=True)
    filename = models.CharField("下载文件名", max_length=200)
    error = models.CharField("错误", max_length=300, blank=True)
    created_at = models.DateTimeField("申请时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "台账导出"
        verbose_name_plural = "台账导出记录"
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A double click on 导出 reuses the running export instead of starting a second one.
            models.UniqueConstraint(
                fields=["created_by", "kind", "organisation", "year"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_export_per_user_scope_year",
            )
        ]
        indexes = [models.Index(fields=["organisation", "created_at"])]

    def __str__(self):
        return f"{self.organisation} {self.year}年 {self.get_kind_display()}"

    @property
    def percent(self):
        if self.status == ExportStatus.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0
