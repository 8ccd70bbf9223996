"""Records of organisational life: meetings (one record, several types) with attendance, talks, year locks."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from branches.models import Organisation, Voidable
from members.models import Member


class MeetingType(models.TextChoices):
    GENERAL_MEETING = "general_meeting", "支部党员大会"
    COMMITTEE_MEETING = "committee_meeting", "支委会"
    GROUP_MEETING = "group_meeting", "党小组会"
    PARTY_LECTURE = "party_lecture", "党课"
    THEME_DAY = "theme_day", "主题党日"
    ORG_LIFE_MEETING = "org_life_meeting", "组织生活会"


class ReviewState(models.TextChoices):
    SUBMITTED = "submitted", "已提交"
    RETURNED = "returned", "退回修改"
    CONFIRMED = "confirmed", "已确认"


class Meeting(Voidable):
    branch = models.ForeignKey(
        Organisation, verbose_name="党支部", on_delete=models.PROTECT, related_name="meetings"
    )
    group = models.ForeignKey(
        Organisation,
        verbose_name="党小组",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="group_meetings",
    )
    held_on = models.DateField("召开日期")
    start_time = models.TimeField("开始时间", null=True, blank=True)
    place = models.CharField("地点", max_length=100, blank=True)
    host = models.CharField("主持人", max_length=50, blank=True)
    recorder = models.CharField("记录人", max_length=50, blank=True)
    topic = models.CharField("主题", max_length=200)
    lecturer = models.CharField("主讲人", max_length=50, blank=True)
    content = models.TextField("会议内容/记录", blank=True)
    resolutions = models.TextField("决议事项", blank=True)
    guests = models.CharField("列席人员", max_length=300, blank=True)

    # 组织生活会: the year it is held for, and its before / during / after records.
    for_year = models.PositiveSmallIntegerField("所属年度", null=True, blank=True)
    opinions = models.TextField("会前征求意见", blank=True)
    talks_summary = models.TextField("会前谈心谈话", blank=True)
    self_examination = models.TextField("对照检查材料", blank=True)
    criticism = models.TextField("批评与自我批评", blank=True)
    reported_on = models.DateField("报告上级党委日期", null=True, blank=True)

    # 主题党日 held on another day than the branch's fixed day needs an approval.
    off_day_approved_by = models.CharField("改期批准人", max_length=50, blank=True)
    off_day_approved_on = models.DateField("改期批准日期", null=True, blank=True)

    entered_at = models.DateTimeField("录入时间", default=timezone.now, editable=False)
    lateness_days = models.PositiveIntegerField("录入滞后（工作日）", default=0)
    is_backfill = models.BooleanField("补录", default=False)
    backfill_reason = models.CharField("补录原因", max_length=200, blank=True)
    low_quorum = models.BooleanField("到会未过半", default=False)

    review_state = models.CharField(
        "审核状态", max_length=20, choices=ReviewState.choices, default=ReviewState.SUBMITTED
    )
    review_comment = models.CharField("审核意见", max_length=300, blank=True)
    submit_token = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="录入人",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "会议"
        verbose_name_plural = "会议"
        ordering = ["-held_on", "-pk"]
        indexes = [
            models.Index(fields=["branch", "held_on"]),
            # Every meeting list opens on the newest records of the year across its scope (a county's
            # 90,000 a year): read in this order, the first page is found without sorting the year.
            models.Index(fields=["-held_on", "-id"], name="meeting_newest_first"),
            # The year's 党课 with a 主讲人, read every night for 书记讲党课: a few in a hundred meetings,
            # found in this index alone rather than by a scan of the year's meetings.
            models.Index(
                fields=["held_on", "branch", "lecturer", "id"],
                condition=Q(voided_at__isnull=True) & ~Q(lecturer=""),
                name="lectures_by_day",
            ),
        ]

    def __str__(self):
        return f"{self.held_on:%Y-%m-%d} {self.topic}"

    @property
    def type_labels(self):
        return [MeetingType(t.type).label for t in self.types.all()]


class MeetingTypeTag(models.Model):
    """One row per type a meeting carries: it counts once for each."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="types")
    type = models.CharField("类型", max_length=30, choices=MeetingType.choices)
    # A record moved from one type to another changes what it counts for: the audit log shows it.
    history = HistoricalRecords()

    class Meta:
        verbose_name = "会议类型"
        verbose_name_plural = "会议类型"
        constraints = [models.UniqueConstraint(fields=["meeting", "type"], name="one_tag_per_type")]
        indexes = [models.Index(fields=["type", "meeting"])]

    def __str__(self):
        return self.get_type_display()


class AttendanceStatus(models.TextChoices):
    PRESENT = "present", "出席"
    LEAVE = "leave", "请假"
    ABSENT = "absent", "缺席"
    AWAY = "away", "外出"


class Attendance(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendance")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="attendance")
    status = models.CharField("出勤", max_length=10, choices=AttendanceStatus.choices)
    leave_reason = models.CharField("请假事由", max_length=100, blank=True)
    is_full_member = models.BooleanField("正式党员", default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "出勤"
        verbose_name_plural = "出勤"
        constraints = [
            models.UniqueConstraint(fields=["meeting", "member"], name="one_attendance_per_member")
        ]

    def __str__(self):
        return f"{self.member} · {self.get_status_display()}"


class RectificationItem(Voidable):
    """组织生活会 整改清单: one problem, who fixes it, by when; voided (not deleted) when entered wrongly."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="rectifications")
    problem = models.CharField("问题", max_length=200)
    measure = models.CharField("整改措施", max_length=300, blank=True)
    owner = models.CharField("责任人", max_length=50)
    due_on = models.DateField("整改期限")
    done_on = models.DateField("完成日期", null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "整改事项"
        verbose_name_plural = "整改清单"

    def __str__(self):
        return self.problem


class Attachment(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField("文件", upload_to="meetings/%Y/%m/")
    original_name = models.CharField("文件名", max_length=200)
    content_kind = models.CharField("类型", max_length=10)
    size = models.PositiveIntegerField("大小")
    uploaded_at = models.DateTimeField("上传时间", auto_now_add=True)

    class Meta:
        verbose_name = "附件"
        verbose_name_plural = "附件"

    def __str__(self):
        return self.original_name


class Talk(Voidable):
    """谈心谈话: who talked with whom, when, about what."""

    branch = models.ForeignKey(
        Organisation, verbose_name="党支部", on_delete=models.PROTECT, related_name="talks"
    )
    talked_on = models.DateField("谈话日期")
    initiator = models.ForeignKey(Member, verbose_name="谈话人", on_delete=models.PROTECT, related_name="+")
    counterpart = models.ForeignKey(
        Member, verbose_name="谈话对象", on_delete=models.PROTECT, related_name="+"
    )
    topic = models.CharField("主要内容", max_length=200, blank=True)
    entered_at = models.DateTimeField("录入时间", auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "谈心谈话"
        verbose_name_plural = "谈心谈话"
        ordering = ["-talked_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(initiator=models.F("counterpart")), name="talk_between_two_people"
            ),
        ]

    def __str__(self):
        return f"{self.talked_on} {self.initiator}—{self.counterpart}"


class YearLock(models.Model):
    """A closed year: the branch's records of that year cannot change until unlocked (both recorded)."""

    branch = models.ForeignKey(
        Organisation, verbose_name="党支部", on_delete=models.PROTECT, related_name="year_locks"
    )
    year = models.PositiveSmallIntegerField("年度")
    locked = models.BooleanField("已锁定", default=True)
    changed_at = models.DateTimeField("操作时间", auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "年度锁定"
        verbose_name_plural = "年度锁定"
        constraints = [models.UniqueConstraint(fields=["branch", "year"], name="one_lock_per_branch_year")]

    def __str__(self):
        return f"{self.branch} {self.year}年"
