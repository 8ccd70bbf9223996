"""Writes to the roster. Every lifecycle step is a service with its dates, never a free edit."""

import copy
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from branches.models import OrgLevel
from meetings.services import is_year_locked
from meetings.signals import announce_on_commit

from . import dues, names, pipeline
from .models import (
    LEAVING_STATUSES,
    MAX_TRAINING_HOURS,
    PARTY_MEMBER_CATEGORIES,
    CategoryChange,
    DuesPayment,
    Exemption,
    Member,
    Membership,
    Mobility,
    PipelineEvent,
    PipelineEventKind,
    Status,
    StatusChange,
    ThoughtReport,
    TrainingRecord,
    Transfer,
    TransferDirection,
)
from .selectors import dues_start, roster_as_of, suspended_then
from .signals import roster_changed
from .validation import DATE_ORDER, MemberFacts, check_member

# The category each pipeline date starts.
CATEGORY_OF_DATE = {
    "applied_on": pipeline.APPLICANT,
    "activist_on": pipeline.ACTIVIST,
    "candidate_on": pipeline.CANDIDATE,
    "joined_on": pipeline.PROBATIONARY,
    "confirmed_on": pipeline.FULL,
}
DATE_OF_CATEGORY = {category: field for field, category in CATEGORY_OF_DATE.items()}
PERSONAL_FIELDS = ("name", "ethnicity", "education", "phone", "work_unit", "note", "dues_kind", "dues_base")


def name_initials(name):
    # Lowercasing can lengthen text ("İ" becomes two characters): cut to what the column holds.
    return names.name_initials(name)[: Member._meta.get_field("name_initials").max_length]


def _today(today):
    return today or timezone.localdate()


def _check_not_future(value, label, today):
    if value > today:
        raise ValidationError(f"{label}不能晚于今天。")


def _check_group(branch, group):
    if branch.level != OrgLevel.BRANCH:
        raise ValidationError({"branch": "党员只能编入党支部。"})
    if not branch.is_active:
        raise ValidationError({"branch": f"“{branch.name}”已撤销，不能编入党员。"})
    if group is not None and (group.level != OrgLevel.GROUP or not group.path.startswith(branch.path)):
        raise ValidationError({"group": f"“{group.name}”不是“{branch.name}”的党小组。"})


def records_begin_on(today):
    """The first day a member newly entered here is judged by what this system records: the first of the
    month they were entered (a roster import, or an existing party member registered by hand). Their dues,
    thought reports and training from before may be entered and are shown, but are not flagged
    (Member.records_from, read by compliance.engine and selectors.dues_summary)."""
    return dues.month_start(today)


def _joined_before_this_month(member, today):
    return (
        member.category in PARTY_MEMBER_CATEGORIES
        and member.joined_on is not None
        and member.joined_on < dues.month_start(today)
    )


def member_facts(**values):
    return MemberFacts(**{k: values.get(k) for k in MemberFacts.__dataclass_fields__ if k in values})


def build_member(*, branch, group=None, today=None, **values):
    """Validate a new member's facts and return an unsaved Member (shared by the form and the import)."""
    today = _today(today)
    cleaned, errors, warnings = check_member(member_facts(**values), today=today)
    if errors:
        raise ValidationError(errors)
    member = Member(branch=branch, group=group, **{**values, **cleaned})
    member.warnings = list(warnings.values())
    member.name_initials = name_initials(member.name)
    member.on_roster = True
    member.status = Status.NORMAL
    return member


def membership_start(member, *, today):
    """When the member's membership of this branch starts, if no 编入日期 (a transfer's, or one typed in)
    says otherwise: the earliest known date, or, for a member whose records here begin later (records_from:
    imported, or a party member of long standing registered by hand), the day those records begin. Every
    reader of "on the branch's roster on day D" (selectors.roster_as_of, the 台账, 谈心谈话 coverage, the
    党费 and training an engine counts) reads the membership, so none puts them on a roster, and so in a
    year, that the system holds nothing of theirs for. Their 发展 dates (入党, 转正 …) stay as they are."""
    earliest = earliest_known(member, today=today)
    if member.records_from is not None:
        return max(earliest, member.records_from)
    return earliest


def earliest_known(member, *, today):
    """The member's earliest development date (today when none is known)."""
    known = [getattr(member, field) for field, _label in DATE_ORDER if getattr(member, field)]
    return min(known, default=today)


def history_rows(member, *, started_on, start_reason, category_on=None):
    """The dated rows that make roster_as_of right for a newly registered member (unsaved). category_on:
    the date of the member's category when none of their dates is its (a 正式党员 entered without a 转正
    date), started_on if None; the membership (and its 正常 status) starts on started_on."""
    changes = [
        CategoryChange(member=member, category=CATEGORY_OF_DATE[field], changed_on=getattr(member, field))
        for field, _label in DATE_ORDER
        if getattr(member, field)
    ]
    if not any(c.category == member.category for c in changes):
        changes.append(
            CategoryChange(member=member, category=member.category, changed_on=category_on or started_on)
        )
    membership = Membership(
        member=member,
        branch=member.branch,
        group=member.group,
        started_on=started_on,
        start_reason=start_reason,
    )
    status = StatusChange(member=member, status=Status.NORMAL, changed_on=started_on, reason=start_reason)
    return membership, changes, status


# Said of an ID number registered to a member of a branch the user does not keep, by the registration
# form and the roster import alike: that it is taken (it cannot be registered twice), but not whose it is
# nor where.
REGISTERED_ELSEWHERE = "该身份证号已登记在您管理范围以外的支部，不能在此登记或更新。请核对身份证号；如系转入本支部，请联系党委办理组织关系转接。"


def registered_already(existing, *, in_scope):
    """Why an ID number already on file cannot be registered again, in Chinese: the member's name and
    branch only to a user who keeps that branch (in_scope), else REGISTERED_ELSEWHERE."""
    if not in_scope:
        return REGISTERED_ELSEWHERE
    if existing.on_roster:
        return f"身份证号已登记：{existing.name}（{existing.branch.name}）。"
    return f"{existing.name}曾在本系统登记，现已不在册；请在其页面办理“转回（转入）”，以保留原有记录。"


@transaction.atomic
def register_member(*, branch, group=None, started_on=None, transfer=None, today=None, scope=None, **values):
    """Put a member on the branch roster. transfer: {"letter_no", "counterpart"} when they came by 转入.
    scope: the branches the user keeps (a queryset of them; None: every branch, as for a command), which
    decides whether a duplicate ID number's message names its member (registered_already)."""
    today = _today(today)
    _check_group(branch, group)
    member = build_member(branch=branch, group=group, today=today, **values)
    existing = Member.objects.filter(id_number=member.id_number).select_related("branch").first()
    if existing is not None:
        in_scope = scope is None or scope.filter(pk=existing.branch_id).exists()
        raise ValidationError({"id_number": registered_already(existing, in_scope=in_scope)})
    # A party member of long standing entered by hand brings, like an imported one, no dues, reports or
    # training from before: without a 编入日期 their membership here starts when those records do. One
    # transferred in is judged from the transfer date (their membership here starts then), and one not yet
    # a member owes none of those.
    if transfer is None and _joined_before_this_month(member, today):
        member.records_from = records_begin_on(today)
    # A category with no date of its own dates from the 编入日期 given, else from the earliest date known (the
    # development history keeps its dates whenever the membership here starts).
    category_on = started_on or earliest_known(member, today=today)
    started_on = started_on or membership_start(member, today=today)
    _check_not_future(started_on, "编入日期", today)
    member.save()
    reason = "转入" if transfer else "登记"
    membership, changes, status = history_rows(
        member, started_on=started_on, start_reason=reason, category_on=category_on
    )
    membership.save()
    CategoryChange.objects.bulk_create(changes)
    status.save()
    if transfer:
        Transfer.objects.create(
            member=member,
            direction=TransferDirection.IN,
            transferred_on=started_on,
            to_branch=branch,
            letter_no=transfer.get("letter_no", ""),
            counterpart=transfer.get("counterpart", ""),
        )
    refresh_flags_on_commit(member.branch_id)
    return member


@transaction.atomic
def bulk_register(members, *, today, start_reason):
    """Put many validated, unsaved members on the roster at once (imports, demo data): a few bulk statements."""
    for member in members:
        member.on_roster = True
    created = bulk_create_with_history(members, Member, batch_size=500)
    memberships, changes, statuses = [], [], []
    for member in created:
        membership, category_changes, status = history_rows(
            member,
            started_on=membership_start(member, today=today),
            start_reason=start_reason,
            category_on=earliest_known(member, today=today),
        )
        memberships.append(membership)
        changes.extend(category_changes)
        statuses.append(status)
    bulk_create_with_history(memberships, Membership, batch_size=500)
    CategoryChange.objects.bulk_create(changes, batch_size=1000)
    StatusChange.objects.bulk_create(statuses, batch_size=1000)
    roster_changed.send(sender=Member, branch_ids={m.branch_id for m in created})
    return created


@transaction.atomic
def update_member(*, member, id_number=None, today=None, **values):
    """Correct personal details and dues settings; the pipeline dates change only through advance_category."""
    today = _today(today)
    lost_contact_on = values.get("lost_contact_on", member.lost_contact_on)
    if lost_contact_on and lost_contact_on > today:
        raise ValidationError({"lost_contact_on": "失去联系日期不能晚于今天。"})
    member.lost_contact_on = lost_contact_on
    changes = {k: v for k, v in values.items() if k in PERSONAL_FIELDS}
    # gender and birth date are re-derived from the ID number
    stored = _facts_of(member, gender=None, birth_on=None)
    facts = _facts_of(member, **changes, id_number=id_number or member.id_number, gender=None, birth_on=None)
    cleaned, errors, _warnings = check_member(facts, today=today)
    # A fact already on file that a later rule finds wrong (a 转正 recorded before the 预备期 ran out, say)
    # is not this edit's doing: it does not keep a phone number from being corrected.
    _cleaned, known, _warnings = check_member(stored, today=today)
    errors = {field: message for field, message in errors.items() if known.get(field) != message}
    if errors:
        raise ValidationError(errors)
    if (
        cleaned["id_number"] != member.id_number
        and Member.objects.filter(id_number=cleaned["id_number"]).exists()
    ):
        raise ValidationError({"id_number": "该身份证号已被其他党员使用。"})
    for field, value in {**changes, **cleaned}.items():
        setattr(member, field, value)
    member.name_initials = name_initials(member.name)
    if member.dues_base is not None or member.dues_kind not in (dues.EMPLOYED, dues.RETIREE):
        try:
            dues.monthly_dues(kind=member.dues_kind, base=member.dues_base)
        except ValueError as error:
            raise ValidationError({"dues_base": str(error)}) from error
    member.save()
    refresh_flags_on_commit(member.branch_id)
    return member


def _facts_of(member, **changes):
    """The member's facts as stored, with the `changes` to facts applied (for check_member)."""
    fields = MemberFacts.__dataclass_fields__
    facts = {f: getattr(member, f) for f in fields if f != "extension_months"}
    facts.update((f, value) for f, value in changes.items() if f in fields)
    return MemberFacts(**facts)


def extension_months(member):
    """Months of the member's recorded 延长预备期 (one extension at most; 0 when none). Reads the events
    prefetched with the member where they are (the member's page), else one query."""
    return sum(e.months or 0 for e in member.pipeline_events.all() if e.kind == PipelineEventKind.EXTENSION)


def _require_on_roster(member):
    if member.on_roster:
        return
    if member.status in LEAVING_STATUSES:
        why = f"党籍状态：{member.get_status_display()}"
    else:
        why = "组织关系已转出"
    raise ValidationError(f"{member.name}已不在册（{why}），不能再登记或办理。")


@transaction.atomic
def advance_category(*, member, category, on, note="", today=None):
    """Move one step along 申请人 → 积极分子 → 发展对象 → 预备党员 → 正式党员, with the step's date."""
    today = _today(today)
    _require_on_roster(member)
    try:
        pipeline.check_transition(member.category, category)
        if category == pipeline.CANDIDATE and member.activist_on:
            pipeline.check_candidate_date(member.activist_on, on)
    except pipeline.PipelineError as error:
        raise ValidationError(str(error)) from error
    field = DATE_OF_CATEGORY[category]
    facts = _facts_of(member, **{field: on}, category=category, gender=None, birth_on=None)
    if category == pipeline.FULL:
        facts.extension_months = extension_months(member)
    # A development step taken now must meet every rule, including the age of 18 at joining and, for 转正,
    # the end of the 预备期. A problem with the step's date is shown on the form's date.
    _cleaned, errors, warnings = check_member(facts, today=today)
    problems = {}
    for key, message in {**warnings, **errors}.items():
        problems.setdefault("on" if key == field else NON_FIELD_ERRORS, []).append(message)
    if category == pipeline.PROBATIONARY:
        missing = _steps_before_joining(member, on)
        if missing:
            problems.setdefault(NON_FIELD_ERRORS, []).append(missing)
    if problems:
        raise ValidationError(problems)
    setattr(member, field, on)
    member.category = category
    member.save()
    CategoryChange.objects.create(member=member, category=category, changed_on=on, note=note)
    refresh_flags_on_commit(member.branch_id)
    return member


def _steps_before_joining(member, on):
    """What a 发展对象 must have on record before the vote that makes them a 预备党员 (RULES.md, 第十七条),
    in Chinese, or "" when it is all there (see _missing_before_joining)."""
    missing = _missing_before_joining(member.pipeline_events.all(), on=on, candidate_on=member.candidate_on)
    if not missing:
        return ""
    return f"发展对象接收为预备党员前须完成{'和'.join(missing)}，请先在“登记事项 › 发展党员事项”中登记。"


def _missing_before_joining(events, *, on, candidate_on):
    """集中培训 of at least 24 学时 and a 政治审查, both while a 发展对象 (from candidate_on, when known) and on
    or before `on`: the items of the two that the events lack, in Chinese (none when both are there)."""
    # An 积极分子's training is another course: only events from candidate_on count.
    counted = [
        e for e in events if e.happened_on <= on and (not candidate_on or e.happened_on >= candidate_on)
    ]
    hours = sum(e.hours or 0 for e in counted if e.kind == PipelineEventKind.TRAINING)
    missing = []
    if hours < pipeline.CANDIDATE_TRAINING_HOURS:
        missing.append(
            f"集中培训不少于3天或{pipeline.CANDIDATE_TRAINING_HOURS}学时（{on:%Y-%m-%d}前已登记{hours}学时）"
        )
    if not any(e.kind == PipelineEventKind.POLITICAL_REVIEW for e in counted):
        missing.append("政治审查")
    return missing


@transaction.atomic
def record_pipeline_event(*, member, kind, happened_on, hours=None, months=None, note="", today=None):
    today = _today(today)
    _require_on_roster(member)
    _check_not_future(happened_on, "日期", today)
    same = {"kind": kind, "happened_on": happened_on, "hours": hours, "months": months, "note": note}
    existing = member.pipeline_events.filter(**same).first()
    if existing is not None:
        return existing  # the same form sent twice (a double tap, a resend) is one event
    if kind == PipelineEventKind.EXTENSION:
        if member.category != pipeline.PROBATIONARY:
            raise ValidationError("只有预备党员可以延长预备期。")
        previous = member.pipeline_events.filter(kind=PipelineEventKind.EXTENSION).count()
        try:
            pipeline.check_extension(months or 0, previous)
        except pipeline.PipelineError as error:
            raise ValidationError({"months": str(error)}) from error
    if kind == PipelineEventKind.TRAINING and not hours:
        raise ValidationError({"hours": "请填写培训学时。"})
    refresh_flags_on_commit(member.branch_id)
    return PipelineEvent.objects.create(
        member=member, kind=kind, happened_on=happened_on, hours=hours, months=months, note=note
    )


# ---------------------------------------------------------------- 更正日期 (a development date entered wrong)

# The reason goes into the history row's change reason (100 characters) after "更正<what>：".
CORRECTION_REASON_MAX = 60


@dataclass(frozen=True)
class PipelineDate:
    """One correctable date of a member's development: a step (its Member field, mirrored by the category
    change to that step) or a 发展党员事项."""

    key: str  # "step:joined_on" or "event:<id>": what the form sends back
    label: str
    on: date
    field: str = ""  # of a step
    event: PipelineEvent | None = None


@dataclass(frozen=True)
class Correction:
    label: str
    old_on: date
    new_on: date
    changed: bool  # False: the date was already so (a second submit of the same form)


def pipeline_dates(member):
    """The member's development dates on record, steps in their order then the events by date. A step's
    date is its Member field; a step reached with no date there (the current one of a member registered
    without it) has the date of its category change."""
    changed_on = {c.category: c.changed_on for c in member.category_changes.order_by("changed_on", "pk")}
    dates = [
        PipelineDate(key=f"step:{field}", label=label, on=on, field=field)
        for field, label in DATE_ORDER
        if (on := getattr(member, field) or changed_on.get(CATEGORY_OF_DATE[field]))
    ]
    for event in member.pipeline_events.order_by("happened_on", "pk"):
        extra = (
            f"（{event.hours}学时）" if event.hours else (f"（{event.months}个月）" if event.months else "")
        )
        dates.append(PipelineDate(key=f"event:{event.pk}", label=f"{event.get_kind_display()}{extra}",
                                  on=event.happened_on, event=event))  # fmt: skip
    return dates


@transaction.atomic
def correct_pipeline_date(*, member, key, on, reason, today=None):
    """更正日期: set one development date (pipeline_dates' `key`) to `on`, by the rules the date was recorded
    with (check_member's order, dates and 预备期; check_candidate_date; the 24 学时 and 政治审查 before 入党
    where the member's 入党 met them). A step's Member field and its category changes move together; the
    history row of the Member or event keeps the old date, the new one, the reason, who and when.

    Returns a Correction; the same date sent twice (a double submit) changes nothing the second time."""
    today = _today(today)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "请填写更正原因。"})
    if len(reason) > CORRECTION_REASON_MAX:
        raise ValidationError({"reason": f"更正原因最多{CORRECTION_REASON_MAX}个字。"})
    # Locked, so that a second submit waits for the first and then finds the date already corrected.
    member = Member.objects.select_for_update().get(pk=member.pk)
    _require_on_roster(member)
    target = {d.key: d for d in pipeline_dates(member)}.get(key)
    if target is None:
        raise ValidationError({"key": "没有该日期的记录，请刷新页面后重新选择。"})
    if target.field:
        changed = _correct_step(member, target, on, reason, today)
    else:
        changed = _correct_event(member, target, on, reason, today)
    if changed:
        refresh_flags_on_commit(member.branch_id)
    return Correction(label=target.label, old_on=target.on, new_on=on, changed=changed)


def _correct_step(member, target, on, reason, today):
    field, category = target.field, CATEGORY_OF_DATE[target.field]
    changes = member.category_changes.filter(category=category)
    if target.on == on and not changes.exclude(changed_on=on).exists():
        return False
    facts = _facts_of(member, gender=None, birth_on=None)
    corrected = _facts_of(member, **{field: on}, gender=None, birth_on=None)
    facts.extension_months = corrected.extension_months = extension_months(member)
    problems = _new_problems(field, facts, corrected, today)
    if field in ("activist_on", "candidate_on") and corrected.activist_on and corrected.candidate_on:
        try:
            pipeline.check_candidate_date(corrected.activist_on, corrected.candidate_on)
        except pipeline.PipelineError as error:
            problems.setdefault("on", []).append(str(error))
    if field in ("candidate_on", "joined_on"):
        events = list(member.pipeline_events.all())
        missing = _joining_steps_undone(member, joined_on=corrected.joined_on,
                                        candidate_on=corrected.candidate_on, events=events)  # fmt: skip
        if missing:
            problems.setdefault(NON_FIELD_ERRORS, []).append(missing)
    if problems:
        raise ValidationError(problems)
    setattr(member, field, on)
    member._change_reason = f"更正{target.label}：{reason}"
    member.save()
    if changes.exists():
        changes.update(changed_on=on)
    else:  # a date on the member with no category change (entered through the admin): the roster needs one
        CategoryChange.objects.create(member=member, category=category, changed_on=on, note="更正日期")
    return True


def _new_problems(field, facts, corrected, today):
    """What check_member finds wrong with the corrected facts, by form field: everything about the corrected
    date itself (warnings too, as for a development step taken now: advance_category), and about the other
    dates what this correction makes wrong. A fact already on file that a rule finds wrong is not this
    correction's doing (as in update_member)."""
    _cleaned, errors, warnings = check_member(facts, today=today)
    known = {**warnings, **errors}
    _cleaned, errors, warnings = check_member(corrected, today=today)
    problems = {}
    for key, message in {**warnings, **errors}.items():
        if key == field:
            problems.setdefault("on", []).append(message)
        elif known.get(key) != message:
            problems.setdefault(NON_FIELD_ERRORS, []).append(message)
    return problems


def _joining_steps_undone(member, *, joined_on, candidate_on, events):
    """Where the member's 入党 met the 24 学时 and 政治审查 as recorded (_missing_before_joining), the corrected
    dates must meet them too; a member who joined before those were recorded here is not held to them.
    The problem in Chinese, or ""."""
    if not (member.joined_on and joined_on):
        return ""
    stored = member.pipeline_events.all()
    if _missing_before_joining(stored, on=member.joined_on, candidate_on=member.candidate_on):
        return ""
    missing = _missing_before_joining(events, on=joined_on, candidate_on=candidate_on)
    if not missing:
        return ""
    return (
        f"按更正后的日期，入党（{joined_on:%Y-%m-%d}）前的发展对象阶段没有{'和'.join(missing)}："
        "发展对象须先完成这些事项才能接收为预备党员，请核对日期。"
    )


def _correct_event(member, target, on, reason, today):
    event = target.event
    if event.happened_on == on:
        return False
    try:
        _check_not_future(on, "日期", today)
    except ValidationError as error:
        raise ValidationError({"on": error.messages}) from error
    if event.kind in (PipelineEventKind.TRAINING, PipelineEventKind.POLITICAL_REVIEW):
        moved = copy.copy(event)
        moved.happened_on = on
        events = [moved if e.pk == event.pk else e for e in member.pipeline_events.all()]
        missing = _joining_steps_undone(
            member, joined_on=member.joined_on, candidate_on=member.candidate_on, events=events
        )
        if missing:
            raise ValidationError({"on": missing})
    event.happened_on = on
    event._change_reason = f"更正{target.label}：{reason}"
    event.save()
    return True


def _close_membership(member, *, on, reason):
    current = member.memberships.get(ended_on__isnull=True)
    if on < current.started_on:
        raise ValidationError(f"日期不能早于编入当前支部的日期（{current.started_on:%Y-%m-%d}）。")
    current.ended_on = on
    current.end_reason = reason
    current.save()
    return current


@transaction.atomic
def transfer_out(*, member, on, counterpart, letter_no="", note="", today=None):
    """转出: the member leaves this instance's roster; their records stay."""
    _check_not_future(on, "转出日期", _today(today))
    _require_on_roster(member)
    _close_membership(member, on=on, reason="转出")
    Transfer.objects.create(
        member=member,
        direction=TransferDirection.OUT,
        transferred_on=on,
        from_branch=member.branch,
        counterpart=counterpart,
        letter_no=letter_no,
        note=note,
    )
    member.on_roster = False
    member.save()
    refresh_flags_on_commit(member.branch_id)
    return member


@transaction.atomic
def transfer_in(*, member, branch, on, counterpart, group=None, letter_no="", note="", today=None):
    """转入 of someone this instance already knows (transferred out earlier): their history continues."""
    _check_not_future(on, "转入日期", _today(today))
    if member.on_roster:
        raise ValidationError("该党员在册，无需转入。")
    if member.status in LEAVING_STATUSES:
        raise ValidationError(f"该人员党籍状态为“{member.get_status_display()}”，不能转入。")
    _check_group(branch, group)
    last = member.memberships.order_by("-started_on").first()
    if last and last.ended_on and on < last.ended_on:
        raise ValidationError(f"转入日期不能早于上次转出日期（{last.ended_on:%Y-%m-%d}）。")
    Membership.objects.create(member=member, branch=branch, group=group, started_on=on, start_reason="转入")
    Transfer.objects.create(
        member=member,
        direction=TransferDirection.IN,
        transferred_on=on,
        to_branch=branch,
        counterpart=counterpart,
        letter_no=letter_no,
        note=note,
    )
    member.branch, member.group, member.on_roster = branch, group, True
    member.save()
    refresh_flags_on_commit(branch.pk)
    return member


@transaction.atomic
def move_member(*, member, branch, group=None, on, letter_no="", note="", today=None):
    """Move to another branch of this instance, or to another group of the same branch."""
    _check_not_future(on, "调整日期", _today(today))
    _require_on_roster(member)
    _check_group(branch, group)
    if branch == member.branch and group == member.group:
        raise ValidationError("新的支部和党小组与现在相同。")
    same_branch = branch == member.branch
    reason = "调整党小组" if same_branch else "内部转接"
    _close_membership(member, on=on, reason=reason)
    Membership.objects.create(member=member, branch=branch, group=group, started_on=on, start_reason=reason)
    if not same_branch:
        Transfer.objects.create(
            member=member,
            direction=TransferDirection.INTERNAL,
            transferred_on=on,
            from_branch=member.branch,
            to_branch=branch,
            letter_no=letter_no,
            note=note,
        )
    refresh_flags_on_commit(member.branch_id, branch.pk)
    member.branch, member.group = branch, group
    member.save()
    return member


@transaction.atomic
def change_status(*, member, status, on, reason, today=None):
    """正常 / 停止党籍 / 出党 / 去世. Leaving statuses take the member off the roster; nothing is deleted."""
    _check_not_future(on, "日期", _today(today))
    _require_on_roster(member)
    if status == member.status:
        raise ValidationError("党籍状态没有变化。")
    if not reason.strip():
        raise ValidationError({"reason": "请填写原因或依据。"})
    if status in LEAVING_STATUSES:
        _close_membership(member, on=on, reason=Status(status).label)
        member.on_roster = False
    StatusChange.objects.create(member=member, status=status, changed_on=on, reason=reason)
    member.status = status
    member.save()
    refresh_flags_on_commit(member.branch_id)
    return member


def _check_period(member, started_on, ended_on, today):
    _check_not_future(started_on, "起始日期", today)
    if started_on < member.birth_on:
        raise ValidationError({"started_on": "起始日期不能早于出生日期。"})
    if ended_on and ended_on < started_on:
        raise ValidationError({"ended_on": "结束日期不能早于起始日期。"})


def _overlaps(queryset, started_on, ended_on):
    far = date.max
    return [
        r
        for r in queryset.filter(voided_at__isnull=True)
        if r.started_on <= (ended_on or far) and started_on <= (r.ended_on or far)
    ]


@transaction.atomic
def start_mobility(*, member, destination, started_on, ended_on=None, today=None, **details):
    today = _today(today)
    _require_on_roster(member)
    _check_period(member, started_on, ended_on, today)
    if _overlaps(member.mobilities, started_on, ended_on):
        raise ValidationError("该时段已有外出登记。")
    refresh_flags_on_commit(member.branch_id)
    return Mobility.objects.create(
        member=member, destination=destination, started_on=started_on, ended_on=ended_on, **details
    )


@transaction.atomic
def end_mobility(*, mobility, ended_on, today=None):
    _check_period(mobility.member, mobility.started_on, ended_on, _today(today))
    _check_not_future(ended_on, "返回日期", _today(today))
    mobility.ended_on = ended_on
    mobility.save()
    refresh_flags_on_commit(mobility.member.branch_id)
    return mobility


@transaction.atomic
def record_exemption(*, member, kind, started_on, approved_on, ended_on=None, approved_by="", today=None):
    today = _today(today)
    _require_on_roster(member)
    _check_period(member, started_on, ended_on, today)
    _check_not_future(approved_on, "批准日期", today)
    if _overlaps(member.exemptions, started_on, ended_on):
        raise ValidationError("该时段已有免于参加组织生活的登记。")
    refresh_flags_on_commit(member.branch_id)
    return Exemption.objects.create(
        member=member,
        kind=kind,
        started_on=started_on,
        ended_on=ended_on,
        approved_on=approved_on,
        approved_by=approved_by,
    )


@transaction.atomic
def record_thought_report(*, member, received_on, title="", today=None):
    _require_on_roster(member)
    _check_not_future(received_on, "收到日期", _today(today))
    # The same form sent twice (a double tap, a resend) is one report.
    report, _created = ThoughtReport.objects.get_or_create(
        member=member, received_on=received_on, title=title, voided_at__isnull=True
    )
    refresh_flags_on_commit(member.branch_id)
    return report


@transaction.atomic
def void_record(*, record, reason):
    """Void a mistaken dated record (外出, exemption, dues payment, thought report): kept, never counted."""
    if record.voided_at:
        raise ValidationError("该记录已作废。")
    refresh_flags_on_commit(record.member.branch_id)
    return record.void(reason)


def _payable(member):
    """The amount of a month's dues worked out from the member's base."""
    amount = member.monthly_dues
    if amount is None:
        raise ValidationError(f"{member.name}未设置党费基数，无法计算应缴金额。")
    return amount


def _dues_problems(member, month, paid_on, today):
    """What refuses a payment of `month`'s dues on `paid_on`, by field, whatever the amount: a month to come
    (dues.future_month_problem: 预缴 is entered in the month paid for, with its earlier 缴纳日期), a member
    who owes none for the month (not a party member, or before the month the arrears reminder counts from:
    dues_start), and a 缴纳日期 that dues.paid_on_problem finds unbelievable."""
    problems = {}
    if member.category not in PARTY_MEMBER_CATEGORIES:
        problems[NON_FIELD_ERRORS] = f"{member.name}尚未入党，不缴纳党费。"
    elif future := dues.future_month_problem(month, today=today):
        problems["month"] = future
    elif not_owed := _not_owed(member, month):
        problems["month"] = not_owed
    paid_on_problem = dues.paid_on_problem(paid_on, month=month, today=today, joined_on=member.joined_on)
    if paid_on_problem:
        problems["paid_on"] = paid_on_problem
    return problems


def _not_owed(member, month):
    start, reason = dues_start(member)
    if dues.owes(month, start):
        return ""
    if reason == dues.NOT_OWED_BEFORE_RECORDS:
        return f"{member.name}的党费自{start.year}年{start.month}月起在本系统登记（{reason}），{month.year}年{month.month}月的党费无需在此登记。"
    return f"{member.name}的党费自{start.year}年{start.month}月起缴纳（{reason}），{month.year}年{month.month}月无需缴纳。"


def _check_dues(member, month, paid_on, today):
    problems = _dues_problems(member, month, paid_on, today)
    if problems:
        raise ValidationError(problems)


def _new_payment(member, month, paid_on, amount, today):
    """An unsaved payment of `month` (a first day), by the rules every dues entry follows (_dues_problems);
    the amount defaults to the member's monthly dues."""
    _check_dues(member, month, paid_on, today)
    amount = amount if amount is not None else _payable(member)
    if amount <= 0:
        raise ValidationError({"amount": "金额必须大于0。"})
    return DuesPayment(member=member, month=month, amount=amount, paid_on=paid_on)


def _save_payments(member, payments):
    try:
        with transaction.atomic():
            for payment in payments:
                payment.save()
    except IntegrityError:
        # The same form arrived twice at once (one_payment_per_month): the other request recorded it.
        raise ValidationError(f"{member.name}的党费已登记，未重复登记。") from None
    refresh_flags_on_commit(member.branch_id)
    return payments


@transaction.atomic
def record_dues_payment(*, member, month, paid_on, amount=None, today=None):
    """One month's dues of one member, refused for a month to come, a month the member owes none or an
    unbelievable 缴纳日期 (_dues_problems); the amount defaults to the member's monthly dues."""
    today = _today(today)
    _require_on_roster(member)
    month = dues.month_start(month)
    payment = _new_payment(member, month, paid_on, amount, today)
    if DuesPayment.objects.filter(member=member, month=month, voided_at__isnull=True).exists():
        raise ValidationError(f"{member.name}{month:%Y年%m月}的党费已登记。")
    return _save_payments(member, [payment])[0]


@transaction.atomic
def record_dues_range(*, member, month, until, paid_on, amount=None, today=None):
    """补交 of the months `month`..`until` of one member at once, all on `paid_on`, each at `amount` (the
    member's monthly dues if None): each month checked as record_dues_payment checks one, and all or none
    recorded. A month already paid is skipped (not paid twice; a second submit of the same range records
    nothing more); a range of only such months is refused as record_dues_payment refuses one.

    Returns (payments created, [months skipped as already paid]).
    """
    today = _today(today)
    _require_on_roster(member)
    month, until = dues.month_start(month), dues.month_start(until)
    if problem := dues.range_problem(month, until):
        raise ValidationError({"until": problem})
    months = dues.months_between(month, until)
    paid = set(
        DuesPayment.objects.filter(member=member, month__in=months, voided_at__isnull=True).values_list(
            "month", flat=True
        )
    )
    unpaid = [m for m in months if m not in paid]
    payments = [_range_payment(member, m, paid_on, amount, today, first=unpaid[0]) for m in unpaid]
    if not payments:
        raise ValidationError(
            f"{member.name}{dues.month_label(month)}至{dues.month_label(until)}的党费此前均已登记，未重复登记。"
        )
    return _save_payments(member, payments), sorted(paid)


def _range_payment(member, month, paid_on, amount, today, *, first):
    """One month of record_dues_range; a refusal of a later month than the first (one to come) is said on
    the 至 field, where the range went too far."""
    try:
        return _new_payment(member, month, paid_on, amount, today)
    except ValidationError as error:
        if month == first or not hasattr(error, "error_dict"):
            raise
        problems = error.message_dict
        if "month" in problems:
            problems["until"] = problems.pop("month")
        raise ValidationError(problems) from None


@transaction.atomic
def mark_month_paid(*, members, month, paid_on, today=None):
    """主题党日 collection: record this month's dues for every listed member not yet paid, by the rules of
    record_dues_payment for each (members read through selectors.dues_payers for the month need no query
    each); one 停止党籍 as the month closed (selectors.suspended_then) owes none and is skipped. A month to
    come is refused once for all, not member by member.

    Returns (payments created, [(member, reason skipped)]); refuses an empty list.
    """
    today = _today(today)
    month = dues.month_start(month)
    if future := dues.future_month_problem(month, today=today):
        raise ValidationError(future)
    members = list(members)
    if not members:
        raise ValidationError("请至少勾选一名党员。")
    already = set(
        DuesPayment.objects.filter(member__in=members, month=month, voided_at__isnull=True).values_list(
            "member_id", flat=True
        )
    )
    created, skipped = [], []
    for member in members:
        if member.pk in already:
            continue
        if suspended_then(member):
            skipped.append((member, f"{month.year}年{month.month}月党籍停止，不计应缴党费。"))
            continue
        try:
            created.append(_new_payment(member, month, paid_on, None, today))
        except ValidationError as error:
            skipped.append((member, error.messages[0]))
    try:
        with transaction.atomic():
            bulk_create_with_history(created, DuesPayment)
    except IntegrityError:
        # The same list arrived twice at once (one_payment_per_month): the other request recorded it.
        raise ValidationError("本月党费已由另一次提交登记，未重复登记，请刷新后核对。") from None
    refresh_flags_on_commit(*(payment.member.branch_id for payment in created))
    return created, skipped


# ---------------------------------------------------------------- 集中学习培训


def _check_training(*, branch, members, held_on, hours, today):
    errors = {}
    if hours is None or hours <= 0:
        errors["hours"] = "学时必须大于0。"
    elif hours > MAX_TRAINING_HOURS:
        errors["hours"] = f"一次培训最多登记{MAX_TRAINING_HOURS}学时；时间更长的培训请分阶段登记。"
    if held_on > today:
        errors["held_on"] = "培训日期不能晚于今天。"
    elif is_year_locked(branch, held_on.year):
        errors["held_on"] = f"{held_on.year}年度台账已锁定，如需修改请联系党委解锁。"
    if not members:
        errors["members"] = "请至少选择一名参加培训的党员。"
    if errors:
        raise ValidationError(errors)
    on_roster = {
        row.member_id
        for row in roster_as_of(branch=branch, on=held_on)
        if row.category_then in PARTY_MEMBER_CATEGORIES and row.status_then == Status.NORMAL
    }
    strangers = [m.name for m in members if m.pk not in on_roster]
    if strangers:
        raise ValidationError(
            {
                "members": f"{'、'.join(strangers[:10])}在{held_on:%Y-%m-%d}不是本支部的党员，不能登记该次培训。"
            }
        )


@transaction.atomic
def record_training(*, branch, members, held_on, hours, title, token, organiser="", kind="classroom", user=None,
                    today=None):  # fmt: skip
    """One training attended by several members: a row of 学时 for each, all or none.

    A second submit of the same form (same token) records nothing more and returns the first rows.
    Each member must be a 正式 or 预备党员 of the branch on the day of the training.
    """
    existing = list(TrainingRecord.objects.filter(submit_token=token))
    if existing:
        return existing
    members = list(dict.fromkeys(members))
    _check_training(branch=branch, members=members, held_on=held_on, hours=hours, today=_today(today))
    rows = [
        TrainingRecord(member=m, branch=branch, held_on=held_on, hours=hours, title=title.strip(),
                       organiser=organiser.strip(), kind=kind, submit_token=token, recorded_by=user)
        for m in members
    ]  # fmt: skip
    try:
        with transaction.atomic():
            created = bulk_create_with_history(rows, TrainingRecord, default_user=user)
    except IntegrityError:
        # The same form arrived twice at once: the other request recorded it.
        return list(TrainingRecord.objects.filter(submit_token=token))
    # The hours follow the member: a member who has moved on since is judged in their branch now.
    refresh_flags_on_commit(
        branch.pk, *(m.branch_id for m in members), sender=TrainingRecord, dates=[held_on]
    )
    return created


@transaction.atomic
def void_training(*, record, reason):
    """Void a mistaken training row: kept with its reason, its hours no longer count."""
    if record.voided_at:
        raise ValidationError("该记录已作废。")
    if is_year_locked(record.branch, record.held_on.year):
        raise ValidationError(f"{record.held_on.year}年度台账已锁定，如需修改请联系党委解锁。")
    record.void(reason)
    refresh_flags_on_commit(
        record.branch_id, record.member.branch_id, sender=TrainingRecord, dates=[record.held_on]
    )
    return record


def refresh_flags_on_commit(*branch_ids, sender=Member, dates=()):
    """After commit, as meetings do, the compliance engine refreshes these branches' flags (debounced per
    branch), so a back-payment, a report received or a member leaving shows on the work list at once."""
    announce_on_commit(sender, branch_ids, dates)
