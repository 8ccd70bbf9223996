"""Writes of organisational-life records. Each ends with an on_commit signal for the compliance engine."""

import os
from datetime import date
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from branches.access import Action, can
from branches.models import OrgLevel
from branches.text import UNSAFE_MESSAGE, has_unsafe_characters
from compliance.local import backfill_days
from compliance.periods import working_days_between
from members.models import Category
from members.selectors import expected_attendees, roster_as_of

from . import attachments as attachment_rules
from .models import (
    Attachment,
    Attendance,
    AttendanceStatus,
    Meeting,
    MeetingType,
    MeetingTypeTag,
    RectificationItem,
    ReviewState,
    Talk,
    YearLock,
)
from .selectors import roster_labels
from .signals import announce_on_commit

LEAVE_REASON_LENGTH = Attendance._meta.get_field("leave_reason").max_length
DETAIL_FIELDS = (
    "start_time", "place", "host", "recorder", "lecturer", "content", "resolutions", "guests", "for_year",
    "opinions", "talks_summary", "self_examination", "criticism", "reported_on",
    "off_day_approved_by", "off_day_approved_on", "backfill_reason",
)  # fmt: skip


def is_year_locked(branch, year):
    return YearLock.objects.filter(branch=branch, year=year, locked=True).exists()


def locked_years(branch):
    """The branch's locked years, as a set (one query for a page that asks of several years)."""
    return set(YearLock.objects.filter(branch=branch, locked=True).values_list("year", flat=True))


def _notify(branch, *dates):
    announce_on_commit(Meeting, [branch.pk], dates)


def _days_counted(meeting):
    """The days whose periods the record counts in: its date and, for a 组织生活会, its 所属年度's last."""
    return [meeting.held_on, *([date(meeting.for_year, 12, 31)] if meeting.for_year else [])]


def attendance_list(*, branch, types, held_on, group=None):
    """应到 on the meeting date: the group's or branch's members, or the sitting committee for a 支委会 alone.

    Committee posts are recorded by name, so the committee's members are the branch
    members whose names match a sitting office-holder on that date.
    """
    rows = roster_as_of(group=group, on=held_on) if group else roster_as_of(branch=branch, on=held_on)
    expected = expected_attendees(rows)
    if set(types) == {MeetingType.COMMITTEE_MEETING}:
        holders = _committee_names(branch, held_on)
        expected = [row for row in expected if row.member.name in holders]
    return expected


def _committee_names(branch, on):
    term = branch.terms.filter(elected_on__lte=on).order_by("-elected_on").first()
    if term is None:
        return set()
    positions = term.positions.filter(started_on__lte=on).exclude(ended_on__lt=on)
    return {p.holder_name for p in positions}


def _check_held_on(branch, held_on, today):
    """Refuse an impossible date first: the working days up to it are counted next (year 1 or 9999 would not do)."""
    if held_on > today:
        problem = "召开日期不能晚于今天。"
    elif held_on < branch.founded_on or (branch.dissolved_on and held_on >= branch.dissolved_on):
        problem = "召开日期不在该支部存续期间。"
    elif is_year_locked(branch, held_on.year):
        problem = f"{held_on.year}年度台账已锁定，如需修改请联系党委解锁。"
    else:
        return
    raise ValidationError({"held_on": problem})


def _validate(*, branch, types, group, held_on, details, backfill_after, today, rectifications=(),
              changes=()):  # fmt: skip
    """Every problem of the record at once, as {field: [messages]} (empty when it may be saved).

    backfill_after: the working days after which the record counted as 补录 (it did), else None;
    rectifications: new 整改事项; changes: corrections of saved ones (rectification_changes).
    """
    for_year, lecturer, backfill_reason = (
        details.get(k) for k in ("for_year", "lecturer", "backfill_reason")
    )
    errors = _approval_errors(details.get("off_day_approved_by"), details.get("off_day_approved_on"))
    if not types:
        errors["types"] = "请至少选择一种会议类型。"
    if MeetingType.GROUP_MEETING in types:
        if group is None:
            errors["group"] = "党小组会请选择党小组。"
        elif group.level != OrgLevel.GROUP or not group.path.startswith(branch.path):
            errors["group"] = "该党小组不属于本支部。"
    elif group is not None:
        errors["group"] = "只有党小组会需要选择党小组。"
    if MeetingType.PARTY_LECTURE in types and not (lecturer or "").strip():
        errors["lecturer"] = "党课请填写主讲人。"
    if MeetingType.ORG_LIFE_MEETING in types and for_year not in (held_on.year, held_on.year - 1):
        errors["for_year"] = "组织生活会的所属年度应为召开当年或上一年。"
    reported_on = details.get("reported_on")
    if reported_on and reported_on > today:
        errors["reported_on"] = "报告上级党委日期不能晚于今天。"
    elif reported_on and reported_on < held_on:
        errors["reported_on"] = "报告上级党委日期不能早于会议召开日期。"
    if backfill_after is not None and not (backfill_reason or "").strip():
        errors["backfill_reason"] = f"会议召开{backfill_after}个工作日后才录入，属于补录，请填写补录原因。"
    problems = _rectification_problems(held_on, today, rectifications, changes)
    if problems:
        errors["rectifications"] = problems
    return errors


def _rectification_problems(held_on, today, items, changes):
    """What is wrong with the 整改清单: each problem named by its 问题."""
    problems = []
    for item in [*items, *(c for c in changes if not c.get("void"))]:
        problem = (item.get("problem") or "").strip()
        if not problem:
            if "id" in item:
                problems.append("已保存的整改事项不能清空；如需去掉，请勾选“作废”并填写原因。")
            continue
        if not ((item.get("owner") or "").strip() and item.get("due_on")):
            problems.append(f"整改事项“{problem}”须填写责任人和整改期限。")
        elif item["due_on"] < held_on:
            problems.append(f"整改事项“{problem}”的整改期限不能早于会议召开日期。")
        done_on = item.get("done_on")
        if done_on and done_on > today:
            problems.append(f"整改事项“{problem}”的完成日期不能晚于今天。")
        elif done_on and done_on < held_on:
            problems.append(f"整改事项“{problem}”的完成日期不能早于会议召开日期。")
    for change in changes:
        if change.get("void") and not (change.get("void_reason") or "").strip():
            problems.append(f"作废整改事项“{(change.get('problem') or '').strip()}”请填写作废原因。")
    return problems


def check_may_record(user, *, branch, types, group):
    """A 党小组长 records their group's 党小组会 only: not another group's, nor a branch-wide meeting."""
    if user is None or can(user, branch, Action.RECORD):
        return
    if set(types) != {MeetingType.GROUP_MEETING} or group is None or not can(user, group, Action.RECORD):
        raise ValidationError({"group": "您只能记录本党小组的党小组会，不能改为其他党小组或支部的会议。"})


def _approval_errors(approved_by, approved_on):
    """An approval to hold the 主题党日 on another day names both who approved it and when: either alone
    would clear the 改期 warning on half a record."""
    if (approved_by or "").strip() and approved_on is None:
        return {"off_day_approved_on": "请填写改期批准日期。"}
    if approved_on is not None and not (approved_by or "").strip():
        return {"off_day_approved_by": "请填写改期批准人（如镇党委）。"}
    return {}


def _attendance_rows(meeting, expected, posted):
    """Attendance for every expected member; posted is {member_id: (status, reason)}.

    Returns (rows, problems): every problem of the grid at once, not the first one found.
    """
    expected_ids = {row.member_id for row in expected}
    if set(posted) - expected_ids:
        return [], ["出勤名单中有不在本次应到名单内的人员，请刷新页面后重新填写。"]
    rows, missing, problems = [], [], []
    # Named as the attendance grid names them, so that a message about one of two namesakes says which.
    labels = roster_labels(expected)
    for row in expected:
        status, reason = posted.get(row.member_id, (None, ""))
        name = labels[row.member_id]
        if status not in AttendanceStatus.values:
            missing.append(name)
            continue
        reason = (reason or "").strip() if status == AttendanceStatus.LEAVE else ""
        if status == AttendanceStatus.LEAVE and not reason:
            problems.append(f"{name}请假，请填写请假事由。")
        elif len(reason) > LEAVE_REASON_LENGTH:
            problems.append(f"{name}的请假事由过长（最多{LEAVE_REASON_LENGTH}个字）。")
        elif has_unsafe_characters(reason):
            problems.append(f"{name}的请假事由{UNSAFE_MESSAGE}")
        rows.append(
            Attendance(
                meeting=meeting,
                member_id=row.member_id,
                status=status,
                leave_reason=reason,
                is_full_member=row.category_then == Category.FULL,
            )
        )
    if missing:
        problems.append("请为每位应到人员选择出勤情况：" + "、".join(missing[:10]))
    return rows, problems


def problems_before_saving(*, branch, types, group, held_on, details, expected, attendance, entered_at=None,
                           now=None):  # fmt: skip
    """What would be refused, judged on the values a form could read (held_on None: not a date).

    For a page whose form is refused already, so that it asks for every correction at once: the attendance
    against `expected`, and with a date the 补录原因 and what the record's types require.
    """
    today = timezone.localdate(now or timezone.now())
    errors = {}
    within_life = held_on is not None and branch.founded_on <= held_on <= today
    if within_life:  # a date before the branch (year 1, say) is its own error, with no working days to count
        entered_on = timezone.localdate(entered_at) if entered_at else today
        threshold = backfill_days(branch, entered_on)
        backfill = working_days_between(held_on, entered_on) > threshold
        errors = _validate(branch=branch, types=types, group=group, held_on=held_on, details=details,
                           backfill_after=threshold if backfill else None, today=today)  # fmt: skip
    problems = _attendance_rows(None, expected, attendance)[1]
    if problems:
        errors["attendance"] = problems
    return {field: value if isinstance(value, list) else [value] for field, value in errors.items()}


def _refuse(errors, attendance_problems):
    if attendance_problems:
        errors["attendance"] = attendance_problems
    if errors:
        raise ValidationError(errors)


def _low_quorum(types, rows):
    """支部条例 第十一条: more than half of the 正式党员 must be present for a vote."""
    if MeetingType.GENERAL_MEETING not in types:
        return False
    full = [r for r in rows if r.is_full_member]
    present = sum(1 for r in full if r.status == AttendanceStatus.PRESENT)
    return bool(full) and present * 2 <= len(full)


@transaction.atomic
def record_meeting(*, branch, types, held_on, topic, attendance, token, user=None, group=None, now=None,
                   rectifications=(), uploads=(), **details):  # fmt: skip
    """Record one meeting with its attendance. A second submit of the same form returns the first record.

    user: who records it (a 党小组长 records their group's 党小组会 only); every problem is refused at once.
    """
    existing = Meeting.objects.filter(submit_token=token).first()
    if existing is not None:
        return existing
    now = now or timezone.now()
    today = timezone.localdate(now)
    types = list(dict.fromkeys(types))
    check_may_record(user, branch=branch, types=types, group=group)
    _check_held_on(branch, held_on, today)
    lateness = working_days_between(held_on, today)
    threshold = backfill_days(branch, today)  # the local setting in force on the day it is entered
    backfill = lateness > threshold
    errors = _validate(branch=branch, types=types, group=group, held_on=held_on, details=details,
                       backfill_after=threshold if backfill else None, today=today,
                       rectifications=rectifications)  # fmt: skip
    meeting = Meeting(
        branch=branch, group=group, held_on=held_on, topic=topic.strip(), submit_token=token, created_by=user,
        lateness_days=lateness, is_backfill=backfill, entered_at=now,
        **{k: v for k, v in details.items() if k in DETAIL_FIELDS},
    )  # fmt: skip
    if not backfill:
        meeting.backfill_reason = ""
    rows, problems = _attendance_rows(meeting, attendance_list(branch=branch, types=types, held_on=held_on,
                                                               group=group), attendance)  # fmt: skip
    _refuse(errors, problems)
    meeting.low_quorum = _low_quorum(types, rows)
    try:
        with transaction.atomic():
            meeting.save()
    except IntegrityError:
        # The same form arrived twice at once: the other request saved it.
        return Meeting.objects.get(submit_token=token)
    if meeting.entered_at != now:
        # entered_at is auto_now_add; lateness was judged at `now`, so later corrections must measure from it too.
        Meeting.objects.filter(pk=meeting.pk).update(entered_at=now)
        meeting.entered_at = now
    bulk_create_with_history([MeetingTypeTag(meeting=meeting, type=t) for t in types], MeetingTypeTag)
    bulk_create_with_history(rows, Attendance)
    _save_rectifications(meeting, rectifications)
    if uploads:
        add_attachments(meeting=meeting, uploads=uploads)
    _notify(branch, *_days_counted(meeting))
    return meeting


def _rectification_key(item):
    return tuple((item.get(f) or "").strip() for f in ("problem", "measure", "owner")) + (item.get("due_on"),)


def _save_rectifications(meeting, items):
    """Add the new 整改事项; one typed again as it is already listed (or twice in one form) is not added."""
    have = {
        _rectification_key(vars(item))
        for item in RectificationItem.objects.filter(meeting=meeting, voided_at__isnull=True)
    }
    new = []
    for item in items:
        key = _rectification_key(item)
        if not item.get("problem") or key in have:
            continue
        have.add(key)
        new.append(
            RectificationItem(
                meeting=meeting,
                problem=key[0],
                measure=key[1],
                owner=key[2],
                due_on=key[3],
                done_on=item.get("done_on"),
            )  # fmt: skip
        )
    if new:
        bulk_create_with_history(new, RectificationItem)


RECTIFICATION_FIELDS = ("problem", "measure", "owner", "due_on", "done_on")


def _apply_rectification_changes(meeting, changes, now):
    """Correct, complete or void saved 整改事项 (each change kept in their history); none is deleted."""
    items = {
        item.pk: item for item in RectificationItem.objects.filter(meeting=meeting, voided_at__isnull=True)
    }
    for change in changes:
        item = items.get(change.get("id"))
        if item is None:
            raise ValidationError({"rectifications": "整改清单已被他人修改，请刷新页面后重新填写。"})
        if change.get("void"):
            item.voided_at, item.void_reason = now, change["void_reason"].strip()
            item.save()
            continue
        values = {f: change.get(f) for f in RECTIFICATION_FIELDS}
        for f in ("problem", "measure", "owner"):
            values[f] = (values[f] or "").strip()
        if any(getattr(item, f) != v for f, v in values.items()):
            for f, v in values.items():
                setattr(item, f, v)
            item.save()


def check_editable(meeting, *, new_date=None):
    """Refuse a change to a voided record or to one in a locked year (the edit page asks this up front)."""
    if meeting.voided_at:
        raise ValidationError("该记录已作废，不能修改。")
    for year in {meeting.held_on.year, (new_date or meeting.held_on).year}:
        if is_year_locked(meeting.branch, year):
            raise ValidationError(f"{year}年度台账已锁定，如需修改请联系党委解锁。")


@transaction.atomic
def update_meeting(*, meeting, types, held_on, topic, attendance, group=None, now=None, rectifications=(),
                   rectification_changes=(), uploads=(), user=None, **details):  # fmt: skip
    """Correct a record. Every change is kept in its history; a returned record goes back for review.

    rectification_changes: the saved 整改事项 as corrected, each {"id", problem, measure, owner, due_on,
    done_on, "void", "void_reason"}; user: who corrects it (a 党小组长 keeps it their group's 党小组会).
    """
    check_editable(meeting, new_date=held_on)
    now = now or timezone.now()
    today = timezone.localdate(now)
    types = list(dict.fromkeys(types))
    check_may_record(user, branch=meeting.branch, types=types, group=group)
    _check_held_on(meeting.branch, held_on, today)
    # Lateness is measured from the first entry: correcting a record later does not make it a backfill.
    entered_on = timezone.localdate(meeting.entered_at)
    threshold = backfill_days(meeting.branch, entered_on)
    backfill = working_days_between(held_on, entered_on) > threshold
    errors = _validate(branch=meeting.branch, types=types, group=group, held_on=held_on, details=details,
                       backfill_after=threshold if backfill else None, today=today, rectifications=rectifications,
                       changes=rectification_changes)  # fmt: skip
    rows, problems = _attendance_rows(meeting, attendance_list(branch=meeting.branch, types=types,
                                                               held_on=held_on, group=group), attendance)  # fmt: skip
    active = set(meeting.rectifications.filter(voided_at__isnull=True).values_list("pk", flat=True))
    if any(change.get("id") not in active for change in rectification_changes):
        errors.setdefault("rectifications", []).append("整改清单已被他人修改，请刷新页面后重新填写。")
    _refuse(errors, problems)
    counted_before = _days_counted(meeting)
    for field, value in details.items():
        if field in DETAIL_FIELDS:
            setattr(meeting, field, value)
    meeting.held_on, meeting.topic, meeting.group, meeting.is_backfill = (
        held_on,
        topic.strip(),
        group,
        backfill,
    )
    meeting.lateness_days = working_days_between(held_on, timezone.localdate(meeting.entered_at))
    meeting.low_quorum = _low_quorum(types, rows)
    if meeting.review_state == ReviewState.RETURNED:
        meeting.review_state = ReviewState.SUBMITTED
    meeting.save()
    _replace_types(meeting, types)
    _replace_attendance(meeting, rows)
    _apply_rectification_changes(meeting, rectification_changes, now)
    _save_rectifications(meeting, rectifications)
    if uploads:
        add_attachments(meeting=meeting, uploads=uploads)
    _notify(meeting.branch, *counted_before, *_days_counted(meeting))
    return meeting


def _replace_types(meeting, types):
    meeting.types.exclude(type__in=types).delete()
    have = set(meeting.types.values_list("type", flat=True))
    added = [MeetingTypeTag(meeting=meeting, type=t) for t in types if t not in have]
    if added:
        bulk_create_with_history(added, MeetingTypeTag)


def _replace_attendance(meeting, rows):
    """Update changed rows in place (their history shows the change), add new ones, drop those no longer 应到."""
    current = {a.member_id: a for a in meeting.attendance.all()}
    changed, added = [], []
    for row in rows:
        old = current.pop(row.member_id, None)
        if old is None:
            added.append(row)
        elif (old.status, old.leave_reason, old.is_full_member) != (
            row.status,
            row.leave_reason,
            row.is_full_member,
        ):
            old.status, old.leave_reason, old.is_full_member = (
                row.status,
                row.leave_reason,
                row.is_full_member,
            )
            changed.append(old)
    if changed:
        bulk_update_with_history(changed, Attendance, ["status", "leave_reason", "is_full_member"])
    if added:
        bulk_create_with_history(added, Attendance)
    if current:
        Attendance.objects.filter(pk__in=[a.pk for a in current.values()]).delete()


@transaction.atomic
def void_meeting(*, meeting, reason):
    check_editable(meeting)
    meeting.void(reason)
    _notify(meeting.branch, *_days_counted(meeting))
    return meeting


@transaction.atomic
def review_meeting(*, meeting, decision, comment=""):
    """The township office returns a record for correction (with a comment) or confirms it."""
    if meeting.voided_at:
        raise ValidationError("该记录已作废。")
    if decision == ReviewState.RETURNED and not comment.strip():
        raise ValidationError({"comment": "退回时请写明需要修改的地方。"})
    if decision not in (ReviewState.RETURNED, ReviewState.CONFIRMED):
        raise ValidationError("审核结果不正确。")
    meeting.review_state = decision
    meeting.review_comment = comment.strip()
    meeting.save()
    return meeting


@transaction.atomic
def add_attachments(*, meeting, uploads):
    check_editable(meeting)
    if meeting.attachments.count() + len(uploads) > attachment_rules.MAX_FILES:
        raise ValidationError({"files": f"每次会议最多 {attachment_rules.MAX_FILES} 个附件。"})
    checked = []
    for upload in uploads:
        kind, problem = attachment_rules.check_upload(upload)
        if problem:
            raise ValidationError({"files": problem})
        checked.append((upload, kind))
    saved = []
    for upload, kind in checked:
        # Stored under a name we choose; the uploaded name (path parts stripped) is for display only.
        shown = os.path.basename(upload.name.replace("\\", "/"))[:200] or f"附件.{kind}"
        upload.name = f"{meeting.pk}-{timezone.now():%Y%m%d%H%M%S%f}.{kind}"
        saved.append(
            Attachment.objects.create(
                meeting=meeting, file=upload, original_name=shown, content_kind=kind, size=upload.size
            )
        )
    return saved


class TalksRecorded(NamedTuple):
    """What record_talks did: the talks it saved, and those it found recorded before (not saved again)."""

    created: list
    already: list


def _check_talk_date(branch, talked_on, today):
    if talked_on > today:
        raise ValidationError({"talked_on": "谈话日期不能晚于今天。"})
    if is_year_locked(branch, talked_on.year):
        raise ValidationError({"talked_on": f"{talked_on.year}年度台账已锁定。"})


def _pair_problem(initiator, counterpart, on_roster, talked_on):
    """(field, why) the two cannot have talked (on_roster: the branch's member ids that day), or None."""
    if initiator.pk == counterpart.pk:
        return "counterpart", f"{initiator.name}不能与自己谈话。"
    for field, person in (("initiator", initiator), ("counterpart", counterpart)):
        if person.pk not in on_roster:
            return field, f"{person.name}在{talked_on:%Y-%m-%d}不在本支部名册中。"
    return None


def _talk_key(initiator_id, counterpart_id, topic):
    """What makes two talks of a day the same record: a resent form, or a correction onto another."""
    return initiator_id, counterpart_id, topic.strip()


def _roster_ids(branch, on):
    return {row.member_id for row in roster_as_of(branch=branch, on=on)}


@transaction.atomic
def record_talks(*, branch, talked_on, pairs, today=None):
    """Many talks at once: pairs of (initiator, counterpart, topic); both must be on the roster that day."""
    today = today or timezone.localdate()
    _check_talk_date(branch, talked_on, today)
    on_roster = _roster_ids(branch, talked_on)
    # The same form sent twice (a double tap, a resend) records each talk once.
    recorded = {
        _talk_key(t.initiator_id, t.counterpart_id, t.topic): t
        for t in Talk.objects.filter(branch=branch, talked_on=talked_on, voided_at__isnull=True)
    }
    talks, already = [], []
    for initiator, counterpart, topic in pairs:
        problem = _pair_problem(initiator, counterpart, on_roster, talked_on)
        if problem:
            raise ValidationError({"pairs": problem[1]})
        same = recorded.get(_talk_key(initiator.pk, counterpart.pk, topic))
        if same is not None:
            already.append(same)
            continue
        talks.append(Talk(branch=branch, talked_on=talked_on, initiator=initiator, counterpart=counterpart,
                          topic=topic.strip()))  # fmt: skip
    if not talks and not already:
        raise ValidationError({"pairs": "请至少填写一组谈话。"})
    created = bulk_create_with_history(talks, Talk) if talks else []
    if created:
        _notify(branch, talked_on)
    return TalksRecorded(created=created, already=already)


def check_talk_changeable(talk, *, new_date=None):
    """Refuse a change to a voided talk or one of a locked year, the year it is moved to included (the
    correction and void pages ask this before anything is typed)."""
    if talk.voided_at:
        raise ValidationError("该谈话记录已作废，不能修改。")
    for year in sorted({talk.talked_on.year, (new_date or talk.talked_on).year}):
        if is_year_locked(talk.branch, year):
            raise ValidationError(f"{year}年度台账已锁定，如需修改请联系党委解锁。")


def _locked_talk(talk):
    """The talk read again under a row lock: of two submits at once, the second sees what the first did."""
    return Talk.objects.select_for_update().select_related("branch").get(pk=talk.pk)


TALK_FIELDS = ("talked_on", "initiator_id", "counterpart_id", "topic")


@transaction.atomic
def correct_talk(*, talk, talked_on, initiator, counterpart, topic, today=None):
    """Correct a talk's date, people or 主要内容, judged as record_talks judges a new one; the change is
    kept in its history. A correction sent twice changes it once (the second finds nothing to change)."""
    today = today or timezone.localdate()
    talk = _locked_talk(talk)
    check_talk_changeable(talk, new_date=talked_on)
    _check_talk_date(talk.branch, talked_on, today)
    problem = _pair_problem(initiator, counterpart, _roster_ids(talk.branch, talked_on), talked_on)
    if problem:
        raise ValidationError(dict([problem]))
    key = _talk_key(initiator.pk, counterpart.pk, topic)
    same_day = Talk.objects.filter(branch=talk.branch, talked_on=talked_on, voided_at__isnull=True).exclude(
        pk=talk.pk
    )
    if any(_talk_key(t.initiator_id, t.counterpart_id, t.topic) == key for t in same_day):
        raise ValidationError(
            f"{initiator.name}与{counterpart.name}在{talked_on:%Y-%m-%d}已有一条内容相同的谈话记录，"
            "改后会重复；如这一条是多录的，请将它作废。"
        )
    before = talk.talked_on
    new = {"talked_on": talked_on, "initiator_id": initiator.pk, "counterpart_id": counterpart.pk,
           "topic": topic.strip()}  # fmt: skip
    if all(getattr(talk, field) == new[field] for field in TALK_FIELDS):
        return talk
    for field, value in new.items():
        setattr(talk, field, value)
    talk.save()
    _notify(talk.branch, before, talked_on)
    return talk


@transaction.atomic
def void_talk(*, talk, reason):
    """Void a mistaken talk with its reason: kept, shown as voided, no longer counted for 谈心谈话.

    A void sent twice (a double tap) finds the talk voided already and leaves it as the first left it.
    """
    talk = _locked_talk(talk)
    if talk.voided_at:
        return talk
    check_talk_changeable(talk)
    talk.void(reason)
    _notify(talk.branch, talk.talked_on)
    return talk


@transaction.atomic
def set_year_lock(*, branch, year, locked):
    lock, _created = YearLock.objects.get_or_create(branch=branch, year=year, defaults={"locked": locked})
    if lock.locked != locked:
        lock.locked = locked
        lock.save()
    _notify(branch, date(year, 12, 31))
    return lock
