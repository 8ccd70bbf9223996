"""Reads of the roster, scoped through branches.access; query counts do not grow with the roster."""

from datetime import timedelta

from dateutil.relativedelta import relativedelta
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from branches.access import (
    ID_NUMBER_ROLES,
    PHONE_ROLES,
    Action,
    can,
    get_object_for,
    may_see_personal,
    personal_q,
    scoped,
)
from meetings import selectors as meeting_selectors
from meetings.models import Attendance, AttendanceStatus, MeetingTypeTag

from . import dues, pipeline
from .masking import mask_id_number, mask_phone
from .models import (
    PARTY_MEMBER_CATEGORIES,
    CategoryChange,
    DuesPayment,
    Exemption,
    Member,
    Membership,
    Mobility,
    Status,
    StatusChange,
    TrainingRecord,
)

MEMBER_VIA = ("branch", "group")


def members_for(user, action=Action.VIEW):
    """Members the user may see (their branch or group is in scope; a member always sees themself)."""
    return scoped(Member.objects.all(), user, action, via=MEMBER_VIA, self_field="user")


def roster(user, *, include_off_roster=False):
    # Pinyin order, as a printed roster would be (code-point order scatters surnames).
    qs = (
        members_for(user)
        .select_related("branch", "group")
        .order_by("branch__path", "name_initials", "name", "pk")
    )
    return qs if include_off_roster else qs.filter(on_roster=True)


def search(queryset, q, *, user=None):
    """Members whose name holds q, whose pinyin initials start with it, or whose phone holds it where the
    user sees that phone unmasked (see present): digits typed by a role that sees 138****5678 must not
    find, and so reveal, the hidden middle. No user: no phone search."""
    q = q.strip()
    if not q:
        return queryset
    condition = Q(name__icontains=q)
    if any(c.isdigit() for c in q) and user is not None:
        condition |= Q(phone__contains=q) & phone_visible(user)
    if q.isascii() and q.isalpha():
        condition |= Q(name_initials__startswith=q.lower())
    return queryset.filter(condition)


def phone_visible(user):
    """Q of the members whose phone `present` shows this user unmasked: their own record, and those whose
    group or branch lies under an organisation where the user holds one of PHONE_ROLES."""
    if not user.is_authenticated:
        return Q(pk__in=[])
    return Q(user=user) | personal_q(user, PHONE_ROLES)


def present(user, members):
    """Attach the ID number and phone as this user may see them (masked otherwise)."""
    for member in members:
        own = member.user_id is not None and member.user_id == user.pk
        org = member.group or member.branch
        member.shown_id_number = (
            member.id_number
            if own or may_see_personal(user, member.branch, ID_NUMBER_ROLES)
            else mask_id_number(member.id_number)
        )
        member.shown_phone = (
            member.phone if own or may_see_personal(user, org, PHONE_ROLES) else mask_phone(member.phone)
        )
    return members


def _covering(queryset, on):
    return queryset.filter(started_on__lte=on).filter(Q(ended_on__isnull=True) | Q(ended_on__gte=on))


def roster_as_of(*, on, branch=None, group=None, branch_ids=None):
    """Who belonged to the branch (or group, or any of the branches of branch_ids) on a date, with their
    category, status, exemption and 外出 then.

    Returns Membership rows (member and group loaded) annotated with category_then,
    status_then, exemption_then (kind or None) and away_then (bool). A membership that
    ended on a date no longer counts on that date.
    """
    memberships = Membership.objects.filter(started_on__lte=on).filter(
        Q(ended_on__isnull=True) | Q(ended_on__gt=on)
    )
    if group is not None:
        memberships = memberships.filter(group=group)
    elif branch_ids is not None:
        memberships = memberships.filter(branch_id__in=branch_ids)
    else:
        memberships = memberships.filter(branch=branch)
    member = OuterRef("member")
    category = CategoryChange.objects.filter(member=member, changed_on__lte=on).order_by("-changed_on", "-pk")
    status = StatusChange.objects.filter(member=member, changed_on__lte=on).order_by("-changed_on", "-pk")
    exemption = _covering(Exemption.objects.filter(member=member, voided_at__isnull=True), on)
    away = _covering(Mobility.objects.filter(member=member, voided_at__isnull=True), on)
    return (
        memberships.select_related("member", "group")
        .annotate(
            category_then=Subquery(category.values("category")[:1]),
            status_then=Subquery(status.values("status")[:1]),
            exemption_then=Subquery(exemption.values("kind")[:1]),
            away_then=Exists(away),
        )
        .order_by("member__name", "member_id")
    )


def expected_attendees(rows):
    """应到: 正式 and 预备 members in good standing who are not exempt on that date (外出 members stay in)."""
    return [
        row
        for row in rows
        if row.category_then in PARTY_MEMBER_CATEGORIES
        and row.status_then == Status.NORMAL
        and not row.exemption_then
    ]


def first_listed_on():
    """Subquery: the member's first day on a roster here (the compliance engine's `listed`)."""
    return Membership.objects.filter(member_id=OuterRef("pk")).order_by("started_on").values("started_on")[:1]


def with_dues_start(members):
    """Members with `listed_on` annotated, so `dues_start` needs no query per member."""
    return members.annotate(listed_on=Subquery(first_listed_on()))


def _listed_on(member):
    if hasattr(member, "listed_on"):
        return member.listed_on
    return min((m.started_on for m in member.memberships.all()), default=None)


def dues_start(member):
    """(first month owed, why earlier months are not): the month the arrears reminder starts counting from
    (dues.owed_from, as compliance.engine reads it); (None, "") when neither date is known."""
    listed_on = _listed_on(member)
    start = dues.owed_from(member.joined_on, listed_on)
    return start, dues.not_owed_reason(member.joined_on, listed_on, member.records_from) if start else ""


def _entered_month(member):
    return dues.month_start(timezone.localtime(member.created_at).date())


def dues_summary(member, *, today=None, months=12):
    """The last months' payments, and the unpaid run the arrears reminder counts (as the compliance engine
    does: the longest run of unpaid months up to last month that a back-payment may still make good):
    arrears (months), arrears_from and arrears_to (its first and last month), and catch_up, the months
    (first, last) the 补交 form is filled in with (dues.latest_months of the run). A member whose unpaid run
    began before they were entered here, with no payment recorded at all (imported without their payment
    history), is not told of hundreds of months in arrears: unrecorded_from is then the first month owed,
    and the page says nothing is recorded since then. A member entered before their dues began (an applicant
    who joined later) is told the run as it is."""
    today = today or timezone.localdate()
    payments = {p.month: p for p in member.dues_payments.filter(voided_at__isnull=True)}
    last_month = dues.month_start(today.replace(day=1) - timedelta(days=1))
    start, not_owed = dues_start(member)
    # An imported member's months before the import are owed but not recorded here: as on 待办, the
    # arrears are counted from the month of the import.
    judged_from = max(filter(None, (start, member.records_from)), default=None)
    arrears_from, arrears = None, 0
    if member.category in PARTY_MEMBER_CATEGORIES and judged_from and judged_from <= last_month:
        arrears_from, arrears = dues.arrears_run(
            set(payments), start=judged_from, end=last_month, ended_from=dues.lookback_from(last_month)
        )
    arrears_to = dues.months_between(arrears_from, last_month)[arrears - 1] if arrears else None
    window = dues.months_between(dues.month_start(today) - timedelta(days=31 * (months - 1)), today)
    shown = window[-months:]
    return {
        # (month, payment or None, owed): a month before the dues began is shown as not owed, not unpaid.
        "months": [(m, payments.get(m), dues.owes(m, start)) for m in shown],
        "not_owed": not_owed if not all(dues.owes(m, start) for m in shown) else "",
        "arrears": arrears,
        "arrears_from": arrears_from,
        "arrears_to": arrears_to,
        # What the 请补交 link fills in: the run, or its latest months if longer than one entry may cover.
        "catch_up": dues.latest_months(arrears_from, arrears_to) if arrears else None,
        "unrecorded_from": start
        if arrears and not payments and arrears_from < _entered_month(member)
        else None,
        "monthly": member.monthly_dues,
        "records_from": member.records_from,
    }


def timeline(member):
    """Everything dated that happened to the member, newest first: (date, kind label, text)."""
    items = []
    for c in member.category_changes.all():
        items.append((c.changed_on, "类别", f"成为{pipeline.CATEGORY_LABELS[c.category]}", c.note))
    for s in member.status_changes.all():
        items.append((s.changed_on, "党籍", f"党籍状态：{s.get_status_display()}", s.reason))
    for m in member.memberships.select_related("branch", "group"):
        where = m.branch.name + (f" {m.group.name}" if m.group else "")
        items.append((m.started_on, "组织关系", f"编入{where}（{m.start_reason}）", ""))
        if m.ended_on:
            items.append((m.ended_on, "组织关系", f"离开{where}（{m.end_reason}）", ""))
    for t in member.transfers.select_related("from_branch", "to_branch"):
        text = f"{t.get_direction_display()}：{t.from_branch or t.counterpart or ''} → {t.to_branch or t.counterpart or ''}"
        items.append((t.transferred_on, "转接", text, f"介绍信 {t.letter_no}" if t.letter_no else ""))
    for mo in member.mobilities.all():
        until = f"至{mo.ended_on:%Y-%m-%d}" if mo.ended_on else "（未返回）"
        note = f"证明 {mo.certificate_no}" if mo.certificate_issued_on else "未开具证明信"
        items.append((mo.started_on, "外出", f"外出{mo.destination}{until}", _voided(mo, note)))
    for e in member.exemptions.all():
        until = f"至{e.ended_on:%Y-%m-%d}" if e.ended_on else "起"
        items.append((e.started_on, "免于参加", f"{e.get_kind_display()}{until}", _voided(e, e.approved_by)))
    for p in member.pipeline_events.all():
        extra = f"{p.hours}学时" if p.hours else (f"{p.months}个月" if p.months else "")
        items.append((p.happened_on, "发展", f"{p.get_kind_display()} {extra}".strip(), p.note))
    for r in member.thought_reports.all():
        items.append((r.received_on, "思想汇报", r.title or "收到思想汇报", _voided(r, "")))
    return sorted(items, key=lambda item: item[0], reverse=True)


ATTENDANCE_MONTHS = 12
ATTENDANCE_PER_PAGE = 20


def attendance_history(user, member, *, page=None, today=None):
    """参加组织生活: the member's attendance at the meetings (not void) held in the last ATTENDANCE_MONTHS
    months, newest first, a page at a time, and the number of each status over them all. A row's meeting is
    `linked` only if the user may open it: a 党员 sees their own attendance but not the branch's meetings.
    Four queries, however many meetings."""
    today = today or timezone.localdate()
    rows = Attendance.objects.filter(
        member=member,
        meeting__voided_at__isnull=True,
        meeting__held_on__gt=today - relativedelta(months=ATTENDANCE_MONTHS),
        meeting__held_on__lte=today,
    )
    counts = dict(rows.order_by().values_list("status").annotate(n=Count("pk")))
    ordered = (
        rows.select_related("meeting__branch", "meeting__group")
        .prefetch_related(Prefetch("meeting__types", queryset=MeetingTypeTag.objects.order_by("pk")))
        .order_by("-meeting__held_on", "-meeting_id")
    )
    shown = Paginator(ordered, ATTENDANCE_PER_PAGE).get_page(page)
    for row in shown:
        row.linked = meeting_selectors.may(user, row.meeting, Action.VIEW)
    return {
        "months": ATTENDANCE_MONTHS,
        "page": shown,
        "total": sum(counts.values()),
        "counts": [(label, counts.get(status, 0)) for status, label in AttendanceStatus.choices],
    }


def _voided(record, note):
    return f"已作废：{record.void_reason}" if record.voided_at else note


def dues_payers(branch, *, month=None):
    """The branch's party members on the roster, by name, each with `listed_on` for `dues_start` and
    `status_then`, their 党籍状态 as the month (this month if None) closes: one 停止党籍 then owes none of it."""
    month = dues.month_start(month or timezone.localdate())
    month_end = month + relativedelta(day=31)  # the month's last day (December 9999 included)
    status_then = StatusChange.objects.filter(member=OuterRef("pk"), changed_on__lte=month_end).order_by(
        "-changed_on", "-pk"
    )
    return list(
        with_dues_start(branch.members.filter(on_roster=True, category__in=PARTY_MEMBER_CATEGORIES))
        .annotate(status_then=Coalesce(Subquery(status_then.values("status")[:1]), F("status")))
        .select_related("group")
        .order_by("name_initials", "name", "pk")
    )


def suspended_then(member):
    """Whether the member (read through dues_payers) was 停止党籍 as the month closed."""
    return getattr(member, "status_then", member.status) == Status.SUSPENDED


def branch_dues_month(members, *, month):
    """For a month: the members who owed its dues, each with their payment (or None); those who would have
    owed but were 停止党籍 then (`suspended`, apart: not counted as owing); and how many of the others had
    not begun to owe (joined or came here later). One query for all payments."""
    started = [m for m in members if dues.owes(month, dues_start(m)[0])]
    paid = {
        p.member_id: p
        for p in DuesPayment.objects.filter(member__in=started, month=month, voided_at__isnull=True)
    }
    rows = [(m, paid.get(m.pk)) for m in started if not suspended_then(m)]
    return {
        "rows": rows,
        "suspended": [(m, paid.get(m.pk)) for m in started if suspended_then(m)],
        "paid_count": sum(1 for _m, p in rows if p),
        "paid_total": sum((p.amount for _m, p in rows if p), 0),
        "not_yet": len(members) - len(started),
    }


def get_member_for(user, pk, action=Action.VIEW):
    """A visible member (else 404); for any other action the member's branch must allow it (else 403).

    Member records are kept by the branch: a group leader sees their group's members but
    does not change their records.
    """
    member = get_object_for(user, Member.objects.all(), pk, Action.VIEW, via=MEMBER_VIA, self_field="user")
    if action != Action.VIEW and not can(user, member.branch, action):
        raise PermissionDenied("您的角色无权修改该党员的信息。")
    return member


def training_records_for(user, action=Action.VIEW):
    """Training rows whose recording branch is in the user's scope."""
    return scoped(TrainingRecord.objects.all(), user, action, via=("branch",))


def training_list(user, *, branch, year, q="", include_void=False):
    """A branch's training rows of a year, newest first; q finds the member by name or pinyin initials."""
    qs = training_records_for(user).filter(branch=branch, held_on__year=year).select_related("member")
    q = q.strip()
    if q:
        condition = Q(member__name__icontains=q)
        if q.isascii() and q.isalpha():
            condition |= Q(member__name_initials__startswith=q.lower())
        qs = qs.filter(condition)
    if not include_void:
        qs = qs.filter(voided_at__isnull=True)
    return qs.order_by("-held_on", "-pk")


def get_training_for(user, pk, action=Action.VIEW):
    return get_object_for(
        user, TrainingRecord.objects.select_related("member", "branch"), pk, action, via=("branch",)
    )
