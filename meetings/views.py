import contextlib
import hashlib
import uuid
from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from audit.selectors import object_history
from branches.access import Action, can, get_branch_for, get_organisation_for, organisations_for
from branches.forms import add_service_errors, date_param, id_param, submit_form, whole_number, year_param
from branches.models import Organisation, OrgLevel
from branches.text import UNSAFE_MESSAGE, has_unsafe_characters
from compliance.local import fixed_theme_day
from members.models import Member
from members.names import distinct_labels

from . import attachments as attachment_rules
from . import selectors, services
from .forms import (
    MeetingForm,
    RectificationFormSet,
    ReviewForm,
    SavedRectificationFormSet,
    TalkCorrectionForm,
    TalkDateForm,
    TalkRowForm,
    VoidForm,
    person_choices,
)
from .models import AttendanceStatus, MeetingType, ReviewState

PAGE_SIZE = 30
SEARCH_MAX = 50  # longer than any 主题 a secretary would type to find one
TALK_ROWS = 8
HISTORY_ON_PAGE = 10  # the latest changes on the record's page; the 修改历史 page has all
# The list's 状态 filter: valid records only (the default), with the voided ones, or the voided ones alone.
VOID_FILTERS = {"": "有效", "1": "含已作废", "only": "仅已作废"}
# The 审核 filter's extra choice: records submitted again after a return, awaiting the office's second look.
RESUBMITTED = "resubmitted"


def meeting_list(request):
    user = request.user
    branches = organisations_for(user).filter(level=OrgLevel.BRANCH).order_by("path")
    branch_pk = id_param(request, "branch")
    branch = branches.filter(pk=branch_pk).first() if branch_pk else None
    # Drill-down from the dashboards: a subtree, a stretch of dates instead of a year, late records only.
    org_pk = id_param(request, "org")
    within = organisations_for(user).filter(pk=org_pk).first() if org_pk else None
    since, until = date_param(request, "since"), date_param(request, "until")
    backfill = request.GET.get("backfill") == "1"
    year = year_param(request, "year", timezone.localdate().year)
    if (since or until) and not request.GET.get("year"):
        year = None
    type_ = request.GET.get("type") if request.GET.get("type") in MeetingType.values else None
    state = (
        request.GET.get("state") if request.GET.get("state") in [*ReviewState.values, RESUBMITTED] else None
    )
    void = request.GET.get("void") if request.GET.get("void") in VOID_FILTERS else ""
    q = request.GET.get("q", "").strip()[:SEARCH_MAX]
    q_error = UNSAFE_MESSAGE if has_unsafe_characters(q) else ""  # PostgreSQL cannot even compare NUL
    meetings = selectors.meeting_list(user, branch=branch, year=year, type=type_,
                                      state=None if state == RESUBMITTED else state,
                                      resubmitted=state == RESUBMITTED, within=within, since=since, until=until,
                                      backfill=backfill, q="" if q_error else q, void=void)  # fmt: skip
    page = Paginator(meetings, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = selectors.with_attendance_counts(page.object_list)
    return render(request, "meetings/list.html", {
        "within": within, "since": since, "until": until, "backfill": backfill, "q": q, "q_error": q_error,
        "page": page, "branch_choices": branches.values_list("pk", "name"), "branch": branch, "year": year, "type": type_, "state": state,
        "types": MeetingType.choices, "states": [*ReviewState.choices, (RESUBMITTED, "退回后重新提交")], "void": void, "void_filters": VOID_FILTERS.items(),
        "years": range(timezone.localdate().year, timezone.localdate().year - 6, -1),
        "can_record": organisations_for(user, Action.RECORD).exists(),
        "can_lock": bool(branch and year) and can(user, branch, Action.MANAGE),
        "locked": bool(branch and year) and services.is_year_locked(branch, year),
    })  # fmt: skip


def _recording_target(request):
    """(branch, fixed group or None) from ?branch= or ?group=; a group leader records for their group only."""
    user = request.user
    group_pk, branch_pk = id_param(request, "group"), id_param(request, "branch")
    if group_pk:
        group = get_organisation_for(user, group_pk, Action.RECORD, levels=[OrgLevel.GROUP])
        return Organisation.objects.get_parent(group), group
    if branch_pk:
        return get_branch_for(user, branch_pk, Action.RECORD), None
    return None, None


def _attendance_grid(expected, data, labels):
    """Rows for the grid: each expected member with the status chosen (default 出席; 外出 when away; 缺席
    when out of contact that day, whom a hurried save would otherwise mark present, resetting their absences)
    and the label that tells them from a namesake on the list."""
    grid = []
    for row in expected:
        default = (
            AttendanceStatus.AWAY if row.away_then
            else AttendanceStatus.ABSENT if row.lost_then
            else AttendanceStatus.PRESENT
        )  # fmt: skip
        status = (data or {}).get(f"att_{row.member_id}", default)
        reason = (data or {}).get(f"reason_{row.member_id}", "")
        grid.append({"row": row, "status": status, "reason": reason, "label": labels[row.member_id]})
    return grid


def _posted_attendance(data):
    posted = {}
    for key, value in data.items():
        member_pk = whole_number(key[4:]) if key.startswith("att_") else None
        if member_pk:
            posted[member_pk] = (value, data.get(f"reason_{key[4:]}", ""))
    return posted


def _form_context(form, rectifications, grid, data, *, saved_items=None, **extra):
    """grid: the GridFor the 应到 list was made for; data: the statuses to show (posted, or the record's);
    saved_items: the record's 整改事项 to correct, complete or void (the edit page)."""
    types = data.getlist("types") if hasattr(data, "getlist") else form.initial.get("types", [])
    rectification_errors = any(f.errors for f in [*rectifications, *(saved_items or [])]) or bool(
        rectifications.non_form_errors() or (saved_items is not None and saved_items.non_form_errors())
    )
    return {
        "form": form, "rectifications": rectifications, "saved_items": saved_items,
        # Open whenever the record is (or is being made) a 组织生活会: its before/after records are the point.
        "org_life_open": MeetingType.ORG_LIFE_MEETING in types or rectification_errors
        or any(field.errors for field in form.sections.get("org_life", [])) or "rectifications" in form.service_errors,
        "attendance_errors": form.service_errors.get("attendance", []),
        "grid": _attendance_grid(grid.rows, data, grid.labels),
        "grid_basis": grid.basis, "statuses": AttendanceStatus.choices,
        "theme_day_ticked": MeetingType.THEME_DAY in types, **extra,
    }  # fmt: skip


class GridFor:
    """The 应到 list for what the form says now (posted date, types, group), else for the given defaults.

    basis names who is on the list; it goes out with the page and comes back with the form, so a form whose
    date, types or group were changed after the list was shown, to ones that list other people, is caught
    before anything is judged on it. A change that lists the same people (a 党课 added to a 主题党日) is not.
    """

    def __init__(self, branch, data, groups, fixed_group, *, held_on, types, group):
        if data is not None:
            with contextlib.suppress(ValueError):
                held_on = date.fromisoformat(data.get("held_on", ""))
            types = data.getlist("types") or types
            group_pk = whole_number(data.get("group", ""))
            group = groups.filter(pk=group_pk).first() if group_pk else None
        if fixed_group is not None:
            group = fixed_group
        elif MeetingType.GROUP_MEETING not in types:
            group = None
        self.rows = services.attendance_list(branch=branch, types=types, held_on=held_on, group=group)
        self.labels = selectors.roster_labels(self.rows)
        people = ",".join(str(pk) for pk in sorted(row.member_id for row in self.rows))
        self.basis = hashlib.sha256(people.encode()).hexdigest()[:16]
        for row in self.rows:
            row.lost_then = row.member.lost_contact_on is not None and row.member.lost_contact_on <= held_on

    def is_stale(self, data):
        """The posted attendance was chosen on a list for another date, type or group."""
        posted = data.get("grid_basis")
        return posted is not None and posted != self.basis


STALE_GRID = (
    "会议类型、召开日期或党小组改过之后，出勤名单还没有更新。现已按新的选择列出应到人员（共 {count} 人），"
    "请核对每人的出勤后再提交。"
)


def _posted_date(data, name):
    try:
        return date.fromisoformat(data.get(name, "")) if data is not None else None
    except ValueError:
        return None


def _rectification_formsets(data, meeting=None):
    """The blank rows for new 整改事项, and on the edit page the record's saved ones (None on a new record).

    Both judge 整改期限 against the meeting date as posted. A saved-items form that did not come back with
    the page (an old page) changes nothing.
    """
    held_on = _posted_date(data, "held_on") or (meeting.held_on if meeting else None)
    new = RectificationFormSet(data, prefix="rect", form_kwargs={"held_on": held_on})
    if meeting is None:
        return new, None
    items = meeting.rectifications.filter(voided_at__isnull=True).order_by("due_on", "pk")
    initial = [{"id": i.pk, **{f: getattr(i, f) for f in services.RECTIFICATION_FIELDS}} for i in items]
    bound = data if data is not None and "item-TOTAL_FORMS" in data else None
    saved = SavedRectificationFormSet(bound, prefix="item", initial=initial, form_kwargs={"held_on": held_on})
    return new, saved


def _has_org_life(form):
    """The form has the 组织生活会 section (a 党小组长's has not: their 党小组会 has no 整改清单)."""
    return "org_life" in form.sections


def _new_rectifications(form, rows):
    return [f.cleaned_data for f in rows if f.cleaned_data.get("problem")] if _has_org_life(form) else []


def _rectification_summary(form, new, saved):
    """Each 整改清单 row's problems at the top of the page too (the section may be screens below)."""
    saved_rows = saved.forms if saved is not None and saved.is_bound else []
    rows = [(f"已保存的第{n}项", row) for n, row in enumerate(saved_rows, start=1)]
    rows += [(f"第{n}行", row) for n, row in enumerate(new.forms, start=1)]
    for where, row in rows:
        for field in row:
            for error in field.errors:
                form.add_error(None, f"整改清单{where}{field.label}：{error}")
        for error in row.non_field_errors():
            form.add_error(None, f"整改清单{where}：{error}")
    for formset in (new, saved):
        if formset is not None and formset.is_bound:
            for error in formset.non_form_errors():
                form.add_error(None, f"整改清单：{error}")


def _check_the_rest(form, grid, data, branch, meeting=None):
    """The form itself is refused: still judge what needs no valid form (the attendance, the 补录原因, the
    dates and names the record's types require), so that every correction is asked for at once."""
    cleaned = form.cleaned_data
    types = cleaned.get("types") or []
    details = {name: cleaned.get(name) for name in services.DETAIL_FIELDS}
    held_on = cleaned.get("held_on")
    if details["for_year"] is None and held_on and MeetingType.ORG_LIFE_MEETING in types:
        details["for_year"] = held_on.year
    errors = services.problems_before_saving(
        branch=branch, types=types, group=cleaned.get("group"), held_on=held_on, details=details,
        expected=grid.rows, attendance=_posted_attendance(data), entered_at=meeting.entered_at if meeting else None,
    )  # fmt: skip
    for field, messages_ in errors.items():
        if field == "attendance":
            form.service_errors["attendance"] = messages_
            form.add_error(None, messages_)
        elif field in form.fields and field not in form.errors and field not in ("types", "held_on"):
            form.add_error(field, messages_)


def _save_if_ready(form, rectifications, grid, data, save, *, branch, meeting=None, saved_items=None):
    """Run save() for a submitted form that is valid and was filled in on the right 应到 list.

    Returns the saved record, or None when the page is to be shown again (with the reasons on the form).
    """
    form.service_errors = {}
    if data is None or "refresh" in data:
        return None
    if grid.is_stale(data):
        form.add_error(None, STALE_GRID.format(count=len(grid.rows)))
        return None
    valid = [form.is_valid(), rectifications.is_valid()]
    if saved_items is not None and saved_items.is_bound:
        valid.append(saved_items.is_valid())
    if not all(valid):
        if not valid[0]:
            _check_the_rest(form, grid, data, branch, meeting)
        _rectification_summary(form, rectifications, saved_items)
        return None
    try:
        return save()
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            form.service_errors = error.message_dict
        add_service_errors(form, error)
        return None


def _draft_key(user, *parts):
    """Where the browser keeps this form's unsent typing: one place per user and per what the link asked
    for (record, branch or group, pre-filled types and period). A link for another type or period, or another
    user of the same phone, opens a clean form instead of someone else's draft."""
    return ":".join(["meeting-draft", f"u{user.pk}", *(str(part) for part in parts)])


def _create_title(branch, fixed_group):
    if fixed_group is not None:  # a 党小组长 records their own group's 党小组会
        return f"记录党小组会 · {branch.name} {fixed_group.name}"
    return f"记录会议 · {branch.name}"


@require_http_methods(["GET", "POST"])
def meeting_create(request):
    branch, fixed_group = _recording_target(request)
    if branch is None:
        branches = organisations_for(request.user, Action.RECORD).filter(
            level=OrgLevel.BRANCH, dissolved_on__isnull=True
        )
        groups = organisations_for(request.user, Action.RECORD).filter(
            level=OrgLevel.GROUP, dissolved_on__isnull=True
        )
        if not branches.exists() and not groups.exists():
            raise PermissionDenied("您的角色无权记录会议。")
        return render(
            request,
            "meetings/choose_branch.html",
            {"branches": branches.order_by("path"), "groups": groups.order_by("path")},
        )
    groups = Organisation.objects.get_children(branch).filter(level=OrgLevel.GROUP, dissolved_on__isnull=True)
    if fixed_group is not None:
        groups = groups.filter(pk=fixed_group.pk)
    allowed = [MeetingType.GROUP_MEETING] if fixed_group is not None else None
    initial = {
        "token": uuid.uuid4().hex,
        "types": [t for t in request.GET.getlist("type") if t in MeetingType.values],
    }
    if fixed_group is not None:
        initial.update(types=[MeetingType.GROUP_MEETING], group=fixed_group)
    # From a reminder of a past period (?period_end=): the date starts in that period, not today, so that
    # the record meets the reminder unless the secretary changes it to the day the meeting was held.
    today = timezone.localdate()
    period_end = date_param(request, "period_end")
    backfilling = period_end if period_end and period_end < today else None
    if backfilling:
        initial["held_on"] = backfilling
    data = request.POST if request.method == "POST" else None
    form = MeetingForm(data, initial=initial, groups=groups, allowed_types=allowed)
    rectifications, _saved = _rectification_formsets(data)
    grid = GridFor(branch, data, groups, fixed_group, held_on=backfilling or today, types=initial["types"],
                   group=fixed_group)  # fmt: skip
    meeting = _save_if_ready(form, rectifications, grid, data, branch=branch, save=lambda: services.record_meeting(
        branch=branch, types=form.cleaned_data["types"], group=form.cleaned_data["group"],
        held_on=form.cleaned_data["held_on"], topic=form.cleaned_data["topic"],
        token=form.cleaned_data["token"], user=request.user, attendance=_posted_attendance(data),
        rectifications=_new_rectifications(form, rectifications),
        uploads=request.FILES.getlist("files"), **form.details(),
    ))  # fmt: skip
    if meeting is not None:
        messages.success(request, "会议已记录。" + ("该会议属于补录。" if meeting.is_backfill else ""))
        if meeting.low_quorum:
            messages.warning(request, "到会正式党员未超过半数：会议照常记录，但会上的表决无效。")
        return redirect("meetings:detail", pk=meeting.pk)
    draft_key = _draft_key(request.user, f"b{branch.pk}", f"g{fixed_group.pk if fixed_group else ''}",
                           "t" + ",".join(sorted(initial["types"])), f"p{backfilling or ''}")  # fmt: skip
    return render(request, "meetings/form.html", _form_context(
        form, rectifications, grid, data, branch=branch, fixed_group=fixed_group,
        theme_day=fixed_theme_day(branch, backfilling or today), title=_create_title(branch, fixed_group),
        backfilling=backfilling, draft_key=draft_key, restore_draft=data is None,
    ))  # fmt: skip


def meeting_detail(request, pk):
    meeting = selectors.get_meeting_for(request.user, pk)
    context = selectors.meeting_detail(meeting)
    # A locked year's record cannot be corrected or voided: say so instead of offering what would fail.
    locked = not meeting.voided_at and services.is_year_locked(meeting.branch, meeting.held_on.year)
    may_record = selectors.may(request.user, meeting, Action.RECORD) and not meeting.voided_at
    context.update(
        can_edit=may_record and not locked,
        locked=locked,
        may_record=may_record,
        may_edit_members=can(request.user, meeting.branch, Action.RECORD),
        can_review=can(request.user, meeting.branch, Action.REVIEW) and not meeting.voided_at,
        review_form=ReviewForm(),
        history=object_history(request.user, meeting, per_page=HISTORY_ON_PAGE, parts_added=False),
    )
    return render(request, "meetings/detail.html", context)


@require_http_methods(["GET", "POST"])
def meeting_edit(request, pk):
    meeting = selectors.get_meeting_for(request.user, pk)
    if not selectors.may(request.user, meeting, Action.RECORD):
        raise PermissionDenied("您的角色无权修改该记录。")
    try:
        # Said before the form is filled in, not after: a voided record or a locked year cannot change.
        services.check_editable(meeting)
    except ValidationError as error:
        messages.error(request, "".join(error.messages))
        return redirect("meetings:detail", pk=meeting.pk)
    branch = meeting.branch
    groups = Organisation.objects.get_children(branch).filter(level=OrgLevel.GROUP)
    # A 党小组长 corrects their group's 党小组会 as they record one: that group and that type only.
    fixed_group = None if can(request.user, branch, Action.RECORD) else meeting.group
    if fixed_group is not None:
        groups = groups.filter(pk=fixed_group.pk)
    current = {a.member_id: a for a in meeting.attendance.all()}
    initial = {
        **{field: getattr(meeting, field) for field in services.DETAIL_FIELDS},
        "types": [t.type for t in meeting.types.all()], "group": meeting.group, "held_on": meeting.held_on,
        "topic": meeting.topic, "token": meeting.submit_token,
    }  # fmt: skip
    data = request.POST if request.method == "POST" else None
    form = MeetingForm(data, initial=initial, groups=groups,
                       allowed_types=[MeetingType.GROUP_MEETING] if fixed_group is not None else None)  # fmt: skip
    rectifications, saved_items = _rectification_formsets(data, meeting)
    grid = GridFor(branch, data, groups, fixed_group, held_on=meeting.held_on, types=initial["types"],
                   group=meeting.group)  # fmt: skip
    grid_data = data or {
        **{f"att_{k}": a.status for k, a in current.items()},
        **{f"reason_{k}": a.leave_reason for k, a in current.items()},
    }
    saved = _save_if_ready(form, rectifications, grid, data, branch=branch, meeting=meeting, saved_items=saved_items,
                           save=lambda: services.update_meeting(
        meeting=meeting, types=form.cleaned_data["types"], group=form.cleaned_data["group"],
        held_on=form.cleaned_data["held_on"], topic=form.cleaned_data["topic"],
        attendance=_posted_attendance(data), user=request.user,
        rectifications=_new_rectifications(form, rectifications),
        rectification_changes=[f.cleaned_data for f in saved_items] if saved_items.is_bound and _has_org_life(form)
        else [],
        uploads=request.FILES.getlist("files"), **form.details(),
    ))  # fmt: skip
    if saved is not None:
        messages.success(request, "已保存修改，修改前的内容保留在修改历史中。")
        return redirect("meetings:detail", pk=meeting.pk)
    return render(request, "meetings/form.html", _form_context(
        form, rectifications, grid, grid_data, saved_items=saved_items, branch=branch, meeting=meeting,
        fixed_group=fixed_group, theme_day=fixed_theme_day(branch, meeting.held_on),
        title=f"修改会议记录 · {meeting.topic}", draft_key=_draft_key(request.user, f"m{meeting.pk}"),
        restore_draft=data is None,
        # Where the secretary fixes a returned record, the office's comment is what there is to fix.
        returned=selectors.last_return(meeting) if meeting.review_state == ReviewState.RETURNED else None,
    ))  # fmt: skip


@require_http_methods(["GET", "POST"])
def meeting_void(request, pk):
    meeting = selectors.get_meeting_for(request.user, pk)
    if not selectors.may(request.user, meeting, Action.RECORD):
        raise PermissionDenied("您的角色无权作废该记录。")
    title = f"作废“{meeting.topic}”（{meeting.held_on:%Y-%m-%d}）"
    refusal = None
    if not meeting.voided_at:
        try:
            services.check_editable(meeting)
        except ValidationError as error:
            refusal = "".join(error.messages)
    if meeting.voided_at or refusal:
        # Nothing to do here: the page says why rather than offering a form that would be refused.
        return render(request, "meetings/void.html", {"meeting": meeting, "title": title, "refusal": refusal})
    form = VoidForm(request.POST or None)
    if submit_form(
        request,
        form,
        lambda data: services.void_meeting(meeting=meeting, reason=data["reason"]),
        success="记录已作废，不再计入组织生活，内容保留备查。",
    ):
        return redirect("meetings:detail", pk=meeting.pk)
    return render(request, "meetings/void.html", {
        "form": form, "meeting": meeting, "title": title,
        "warning": "作废后该记录不再计入组织生活，但内容和修改历史都会保留。", "danger": True,
    })  # fmt: skip


@require_POST
def meeting_review(request, pk):
    meeting = selectors.get_meeting_for(request.user, pk, Action.REVIEW)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            services.review_meeting(meeting=meeting, decision=form.cleaned_data["decision"],
                                    comment=form.cleaned_data["comment"])  # fmt: skip
        except ValidationError as error:
            messages.error(request, "；".join(error.messages))
        else:
            messages.success(
                request,
                "已退回支部修改。" if form.cleaned_data["decision"] == ReviewState.RETURNED else "已确认。",
            )
    else:
        messages.error(
            request, "；".join(f"{form.fields[f].label}：{'；'.join(e)}" for f, e in form.errors.items())
        )
    return redirect("meetings:detail", pk=meeting.pk)


def attachment_download(request, pk, attachment_pk):
    meeting = selectors.get_meeting_for(request.user, pk)
    attachment = meeting.attachments.filter(pk=attachment_pk).first()
    if attachment is None:
        raise Http404("没有找到该附件。")
    kind = attachment.content_kind
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=kind not in attachment_rules.SHOWN_INLINE,
        filename=attachment.original_name,
        content_type=attachment_rules.CONTENT_TYPES[kind],
    )
    response["Content-Security-Policy"] = "sandbox"
    return response


@require_http_methods(["GET", "POST"])
def talks(request, branch_pk):
    branch = get_branch_for(request.user, branch_pk)
    today = timezone.localdate()
    year = year_param(request, "year", today.year)
    show_void = request.GET.get("void") == "1"
    can_record = can(request.user, branch, Action.RECORD)
    members = (
        Member.objects.filter(branch=branch, on_roster=True).select_related("group").order_by("name_initials")
    )
    # The roster and the year's talks are read once: the drop-downs, the talks and the gaps all name people
    # by the same labels, a namesake told apart wherever they appear.
    people = list(members)
    talks = list(selectors.talks_for(request.user, branch=branch, year=year, void=show_void))
    labels = distinct_labels([*people, *(person for t in talks for person in (t.initiator, t.counterpart))])
    for t in talks:
        t.initiator_label, t.counterpart_label = labels[t.initiator_id], labels[t.counterpart_id]
    choices = person_choices(people, labels)
    date_form = TalkDateForm(request.POST or None)
    rows = [TalkRowForm(request.POST or None, prefix=f"t{i}", members=members, choices=choices)
            for i in range(TALK_ROWS)]  # fmt: skip
    if request.method == "POST":
        if not can_record:
            raise PermissionDenied("您的角色无权登记谈心谈话。")
        if date_form.is_valid() and all(r.is_valid() for r in rows):
            pairs = [(r.cleaned_data["initiator"], r.cleaned_data["counterpart"], r.cleaned_data["topic"])
                     for r in rows if r.cleaned_data.get("initiator") and r.cleaned_data.get("counterpart")]  # fmt: skip
            try:
                recorded = services.record_talks(
                    branch=branch, talked_on=date_form.cleaned_data["talked_on"], pairs=pairs
                )
            except ValidationError as error:
                add_service_errors(date_form, error)
            else:
                say = messages.success if recorded.created else messages.info
                say(request, _talks_saved_message(recorded))
                return redirect(f"{request.path}?year={date_form.cleaned_data['talked_on'].year}")
    return render(request, "meetings/talks.html", {
        "branch": branch, "year": year, "show_void": show_void,
        "talks": talks, "gaps": selectors.talk_gap_list(branch, year=year, as_of=today, labels=labels),
        "locked": services.is_year_locked(branch, year),
        "previous_year": year - 1 if year > 1 else None, "next_year": year + 1 if year < today.year else None,
        "people": choices if can_record else [],
        "date_form": date_form, "rows": rows, "can_record": can_record, "row_errors": _talk_row_errors(rows),
    })  # fmt: skip


def _talks_url(branch, year):
    return f"{reverse('meetings:talks', args=[branch.pk])}?year={year}"


def _talk_to_change(request, branch_pk, pk):
    """(branch, talk): a talk of a branch the user records for; 404 outside their scope, 403 without the role."""
    branch = get_branch_for(request.user, branch_pk, Action.RECORD)
    return branch, selectors.get_talk_for(request.user, branch, pk)


def _talk_page(request, branch, talk, *, step, **context):
    """The correction or void page; without a form it says why the talk cannot change (`refusal`)."""
    return render(request, "meetings/talk_form.html", {
        "branch": branch, "talk": talk, "step": step, "back": _talks_url(branch, talk.talked_on.year),
        "title": f"{step}谈心谈话：{talk.talked_on:%Y-%m-%d} {talk.initiator.name} 与 {talk.counterpart.name}",
        **context,
    })  # fmt: skip


def _talk_refusal(talk):
    try:
        services.check_talk_changeable(talk)
    except ValidationError as error:
        return "".join(error.messages)
    return None


@require_http_methods(["GET", "POST"])
def talk_edit(request, branch_pk, pk):
    branch, talk = _talk_to_change(request, branch_pk, pk)
    refusal = _talk_refusal(talk)
    if refusal:
        return _talk_page(request, branch, talk, step="修改", refusal=refusal)
    # The talk's own two people stay choosable though they have left the roster since.
    members = (
        Member.objects.filter(
            Q(branch=branch, on_roster=True) | Q(pk__in=[talk.initiator_id, talk.counterpart_id])
        )
        .select_related("group")
        .order_by("name_initials")
    )
    initial = {"talked_on": talk.talked_on, "initiator": talk.initiator_id, "counterpart": talk.counterpart_id,
               "topic": talk.topic}  # fmt: skip
    form = TalkCorrectionForm(request.POST or None, initial=initial, members=members,
                              choices=person_choices(list(members)))  # fmt: skip
    saved = submit_form(
        request,
        form,
        lambda data: services.correct_talk(talk=talk, **data),
        success="谈话记录已更正，修改已留痕。",
    )
    if saved:
        return redirect(_talks_url(branch, saved.talked_on.year))
    return _talk_page(request, branch, talk, step="修改", form=form)


@require_http_methods(["GET", "POST"])
def talk_void(request, branch_pk, pk):
    branch, talk = _talk_to_change(request, branch_pk, pk)
    if talk.voided_at:  # a second tap of 作废, or an old link: nothing more to do
        messages.info(
            request, f"该谈话记录已于{timezone.localtime(talk.voided_at):%Y-%m-%d %H:%M}作废，无需再次作废。"
        )
        return redirect(_talks_url(branch, talk.talked_on.year) + "&void=1")
    refusal = _talk_refusal(talk)
    if refusal:
        return _talk_page(request, branch, talk, step="作废", refusal=refusal)
    form = VoidForm(request.POST or None)
    if submit_form(
        request,
        form,
        lambda data: services.void_talk(talk=talk, reason=data["reason"]),
        success="谈话记录已作废，不再计入谈心谈话，内容保留备查。",
    ):
        return redirect(_talks_url(branch, talk.talked_on.year))
    return _talk_page(request, branch, talk, step="作废", form=form, danger=True,
                      warning="作废后这次谈话不再计入谈心谈话，但内容和修改历史都会保留。")  # fmt: skip


def _talk_row_errors(rows):
    """Each row's problems named by row and field (also listed above the form, seen first on a phone)."""
    listed = []
    for number, row in enumerate(rows, start=1):
        row.problems = [f"第{number}行{field.label}：{error}" for field in row for error in field.errors]
        listed.extend(row.problems)
    return listed


def _talks_saved_message(recorded):
    """Say what was saved now, and apart from it what was on record already (a resent form saves nothing)."""
    saved = f"已登记 {len(recorded.created)} 次谈心谈话"
    if not recorded.already:
        return f"{saved}。"
    return f"{saved}；{len(recorded.already)} 次此前已登记，未重复保存。"


@require_POST
def year_lock(request, branch_pk):
    branch = get_branch_for(request.user, branch_pk, Action.MANAGE)
    year = whole_number(request.POST.get("year", ""), low=2000, high=2100)
    if year is None:
        raise Http404("年度不正确。")
    locked = request.POST.get("locked") == "1"
    services.set_year_lock(branch=branch, year=year, locked=locked)
    messages.success(request, f"{branch.name}{year}年度台账已{'锁定' if locked else '解锁'}。")
    return redirect(f"{reverse('meetings:list')}?branch={branch.pk}&year={year}")
