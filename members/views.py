import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from audit.selectors import object_history
from branches import services as branch_services
from branches.access import Action, can, get_branch_for, organisations_for
from branches.forms import MemberAccountForm, add_service_errors, submit_form, whole_number
from branches.models import OrgLevel
from branches.passwords import show_password_once
from branches.text import UNSAFE_MESSAGE, has_unsafe_characters
from compliance import training
from compliance.engine import settings_in_force
from compliance.periods import STATE_LABELS, State
from compliance.selectors import member_flags

from . import dues, pipeline, roster_import, selectors, services
from .filters import MemberFilter
from .forms import (
    CategoryForm,
    DuesPaymentForm,
    ExemptionForm,
    ImportCommitForm,
    ImportUploadForm,
    MemberCreateForm,
    MemberEditForm,
    MobilityEndForm,
    MobilityForm,
    MonthField,
    MoveForm,
    PipelineDateForm,
    PipelineEventForm,
    StatusForm,
    ThoughtReportForm,
    TrainingForm,
    TransferInForm,
    TransferOutForm,
    VoidForm,
)
from .models import (
    LEAVING_STATUSES,
    PARTY_MEMBER_CATEGORIES,
    DuesPayment,
    Exemption,
    Mobility,
    RosterImport,
    Status,
    ThoughtReport,
)
from .roster_export import roster_workbook_response

PAGE_SIZE = 30
IMPORT_PREVIEW_ROWS = 100
HISTORY_ON_PAGE = 10  # the latest changes on the member's page; the 修改历史 page has all


def _branches(user, action):
    return (
        organisations_for(user, action)
        .filter(level=OrgLevel.BRANCH, dissolved_on__isnull=True)
        .order_by("path")
    )


def _groups(user, action):
    return (
        organisations_for(user, action)
        .filter(level=OrgLevel.GROUP, dissolved_on__isnull=True)
        .order_by("path")
    )


def _require_record_branches(user):
    branches = _branches(user, Action.RECORD)
    if not branches.exists():
        raise PermissionDenied("您的角色无权登记或导入党员。")
    return branches


# A township has a few hundred 党小组; a county's thousands would make every roster page a large select.
GROUP_CHOICES_LIMIT = 300


def _group_choices(request, branches, groups):
    """The groups the filter offers: the chosen branch's, or all of them unless there are too many."""
    branch = branches.filter(pk=whole_number(request.GET.get("branch", ""))).first()
    if branch is not None:
        return groups.filter(path__startswith=branch.path)
    if groups.count() <= GROUP_CHOICES_LIMIT:
        return groups
    return groups.filter(pk=whole_number(request.GET.get("group", "")))  # a drill-down link's group only


def _filtered_roster(request):
    user = request.user
    branches = _branches(user, Action.VIEW)
    return MemberFilter(
        request.GET,
        request=request,  # the search matches phones only where the user sees them unmasked
        queryset=selectors.roster(user, include_off_roster=True),
        branches=branches,
        groups=_group_choices(request, branches, _groups(user, Action.VIEW)),
        organisations=organisations_for(user, Action.VIEW),
    )


def _matching(roster_filter):
    """The members the filter selects; none when it was refused (a search that cannot be run finds no one,
    rather than seeming to find everyone)."""
    return roster_filter.qs if roster_filter.form.is_valid() else roster_filter.queryset.none()


def member_list(request):
    roster_filter = _filtered_roster(request)
    page = Paginator(_matching(roster_filter), PAGE_SIZE).get_page(request.GET.get("page"))
    selectors.present(request.user, page.object_list)
    return render(
        request,
        "members/list.html",
        {
            "filter": roster_filter,
            "page": page,
            "can_add": _branches(request.user, Action.RECORD).exists(),
            "query": request.GET.urlencode(),
        },
    )


def member_export(request):
    roster_filter = _filtered_roster(request)
    if not roster_filter.form.is_valid():  # the list, with the filter's message, instead of a file
        return member_list(request)
    members = selectors.present(request.user, list(roster_filter.qs))
    return roster_workbook_response(members, filename=f"党员名册-{timezone.localdate():%Y%m%d}.xlsx")


@require_http_methods(["GET", "POST"])
def member_create(request):
    user = request.user
    branches = _require_record_branches(user)
    initial = {"branch": request.GET.get("branch")}
    form = MemberCreateForm(
        request.POST or None, initial=initial, branches=branches, groups=_groups(user, Action.RECORD)
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if not data.get("gender"):
            data["gender"] = None
        counterpart, letter_no = data.pop("transfer_counterpart"), data.pop("transfer_letter_no")
        if counterpart:
            data["transfer"] = {"counterpart": counterpart, "letter_no": letter_no}
        try:
            member = services.register_member(**data, scope=branches)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"已登记{member.name}。")
            for warning in member.warnings:
                messages.warning(request, warning)
            return redirect("members:detail", pk=member.pk)
    return render(request, "members/form.html", {"form": form, "title": "登记党员"})


def member_detail(request, pk):
    member = selectors.get_member_for(request.user, pk)
    selectors.present(request.user, [member])
    deadlines = pipeline.deadlines(
        category=member.category,
        applied_on=member.applied_on,
        talked_on=_first_event(member, "talk"),
        activist_on=member.activist_on,
        joined_on=member.joined_on,
        approved_on=_first_event(member, "approval"),
        extension_months=services.extension_months(member),
        confirmed_on=member.confirmed_on,
    )
    return render(
        request,
        "members/detail.html",
        {
            "member": member,
            "timeline": selectors.timeline(member),
            "dues": selectors.dues_summary(member),
            "deadlines": deadlines,
            "can_record": member.on_roster and can(request.user, member.branch, Action.RECORD),
            "can_open_account": can(request.user, member.branch, Action.ACCOUNTS),
            "can_transfer_in": not member.on_roster
            and member.status not in LEAVING_STATUSES
            and can(request.user, member.branch, Action.RECORD),
            "actions": ACTIONS,
            "records": _voidable_records(member),
            "is_party_member": member.category in PARTY_MEMBER_CATEGORIES,
            "flags": list(member_flags(request.user, member)),
            "history": object_history(request.user, member, per_page=HISTORY_ON_PAGE, parts_added=False),
            "training": _member_training(request.user, member),
            "attendance": selectors.attendance_history(
                request.user, member, page=request.GET.get("attendance_page")
            ),
        },
    )


def _member_training(user, member):
    """This year's training of the member: the rows, the total, and what they owe (if on the roster)."""
    today = timezone.localdate()
    rows = list(member.training_records.filter(held_on__year=today.year).order_by("-held_on", "-pk"))
    found = training.standings(branches={member.branch_id: member.branch.path}, years=[today.year], as_of=today,
                               settings=settings_in_force(today), member_ids=[member.pk])  # fmt: skip
    standing = found[0] if found else None
    return {
        "year": today.year,
        "rows": rows,
        "total": sum((r.hours for r in rows if not r.voided_at), 0),
        "standing": standing,
        "state_label": STATE_LABELS[State(standing.state)] if standing else "",
        "can_void": can(user, member.branch, Action.RECORD),
    }


def _first_event(member, kind):
    dates = [e.happened_on for e in member.pipeline_events.all() if e.kind == kind]
    return min(dates, default=None)


@require_http_methods(["GET", "POST"])
def member_edit(request, pk):
    member = selectors.get_member_for(request.user, pk, Action.RECORD)
    form = MemberEditForm(request.POST or None, instance=member)
    if submit_form(
        request, form, lambda data: services.update_member(member=member, **data), success="已保存。"
    ):
        return redirect("members:detail", pk=member.pk)
    return render(
        request, "members/form.html", {"form": form, "member": member, "title": f"编辑{member.name}的信息"}
    )


@dataclass(frozen=True)
class MemberAction:
    title: str
    form: type
    perform: Callable
    form_kwargs: Callable = lambda request, member: {}
    done: str | Callable = "已记录。"  # or the message made of what `perform` returned


def _with_member(request, member):
    return {"member": member}


def _branch_choices(request, member):
    return {
        "branches": _branches(request.user, Action.RECORD),
        "groups": _groups(request.user, Action.RECORD),
    }


def _record_dues(member, data):
    """登记党费: one month, or each month of 所属月份 … 至 … (补交); (payments, months already paid)."""
    month, until = data["month"], data.get("until")
    if until is None or until == month:
        payment = services.record_dues_payment(
            member=member, month=month, paid_on=data["paid_on"], amount=data.get("amount")
        )
        return [payment], []
    return services.record_dues_range(
        member=member, month=month, until=until, paid_on=data["paid_on"], amount=data.get("amount")
    )


def _dues_recorded(result):
    """已登记2026年5月至2026年11月党费，共6个月，合计108.00元。2026年8月此前已登记，未重复登记。"""
    payments, already = result
    first, last = payments[0].month, payments[-1].month
    months = dues.month_label(first) + (f"至{dues.month_label(last)}" if last != first else "")
    count = f"共{len(payments)}个月，" if len(payments) > 1 else ""
    text = f"已登记{months}党费，{count}合计{sum(p.amount for p in payments)}元。"
    if already:
        text += f"{'、'.join(dues.month_label(m) for m in already)}此前已登记，未重复登记。"
    return text


def _dues_range_initial(request, member):
    """The months the arrears reminder's 请补交 link fills in (?month=2026-05&until=2026-11)."""
    initial = {}
    for name in ("month", "until"):
        try:
            value = MonthField(required=False).clean(request.GET.get(name))
        except ValidationError:
            continue
        if value:
            initial[name] = value
    return {"initial": initial}


ACTIONS = {
    "category": MemberAction(
        "发展阶段变更", CategoryForm, lambda m, d: services.advance_category(member=m, **d), _with_member
    ),
    "pipeline": MemberAction(
        "发展党员事项", PipelineEventForm, lambda m, d: services.record_pipeline_event(member=m, **d)
    ),
    "move": MemberAction(
        "调整支部或党小组", MoveForm, lambda m, d: services.move_member(member=m, **d), _branch_choices
    ),
    "transfer_in": MemberAction(
        "转回（转入）", TransferInForm, lambda m, d: services.transfer_in(member=m, **d), _branch_choices
    ),
    "transfer_out": MemberAction(
        "转出组织关系", TransferOutForm, lambda m, d: services.transfer_out(member=m, **d)
    ),
    "status": MemberAction("党籍状态", StatusForm, lambda m, d: services.change_status(member=m, **d)),
    "mobility": MemberAction("外出登记", MobilityForm, lambda m, d: services.start_mobility(member=m, **d)),
    "mobility_end": MemberAction(
        "外出返回", MobilityEndForm, lambda m, d: services.end_mobility(**d), _with_member
    ),
    "exemption": MemberAction(
        "免于参加组织生活", ExemptionForm, lambda m, d: services.record_exemption(member=m, **d)
    ),
    "dues": MemberAction("登记党费", DuesPaymentForm, _record_dues, _dues_range_initial, _dues_recorded),
    "report": MemberAction(
        "登记思想汇报", ThoughtReportForm, lambda m, d: services.record_thought_report(member=m, **d)
    ),
}


@require_http_methods(["GET", "POST"])
def member_action(request, pk, action):
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404("没有该操作。")
    member = selectors.get_member_for(request.user, pk, Action.RECORD)
    form = spec.form(request.POST or None, **spec.form_kwargs(request, member))
    done = spec.done if callable(spec.done) else lambda result: spec.done
    if submit_form(
        request,
        form,
        lambda data: spec.perform(member, dict(data)),
        success=lambda r: f"{spec.title}：{done(r)}",
    ):
        return redirect("members:detail", pk=member.pk)
    return render(
        request,
        "members/form.html",
        {"form": form, "member": member, "title": f"{member.name} · {spec.title}"},
    )


@require_http_methods(["GET", "POST"])
def member_correct_date(request, pk):
    """更正日期: a development date entered wrong, corrected by whoever may edit the member, with a reason."""
    member = selectors.get_member_for(request.user, pk, Action.RECORD)
    dates = services.pipeline_dates(member)
    form = PipelineDateForm(request.POST or None, initial={"key": request.GET.get("date")}, dates=dates)
    if submit_form(
        request,
        form,
        lambda data: services.correct_pipeline_date(member=member, **data),
        success=_corrected,
    ):
        return redirect("members:detail", pk=member.pk)
    return render(request, "members/form.html", {
        "form": form, "member": member, "title": f"{member.name} · 更正日期",
        "warning": "" if dates else "该人员尚无已登记的发展日期，无可更正。",
    })  # fmt: skip


def _corrected(correction):
    if not correction.changed:  # a second tap of 确定: the first one corrected it
        return f"{correction.label}已是{correction.new_on:%Y-%m-%d}，未作更改。"
    return f"已将{correction.label}由{correction.old_on:%Y-%m-%d}更正为{correction.new_on:%Y-%m-%d}。"


VOIDABLE = {"mobility": Mobility, "exemption": Exemption, "dues": DuesPayment, "report": ThoughtReport}


def _voidable_records(member):
    return {
        "mobility": member.mobilities.all(),
        "exemption": member.exemptions.all(),
        "report": member.thought_reports.all(),
    }


@require_http_methods(["GET", "POST"])
def member_void(request, pk, kind, record_pk):
    model = VOIDABLE.get(kind)
    if model is None:
        raise Http404("没有该类记录。")
    member = selectors.get_member_for(request.user, pk, Action.RECORD)
    record = model.objects.filter(member=member, pk=record_pk).first()
    if record is None:
        raise Http404("没有找到该记录。")
    form = VoidForm(request.POST or None)
    if submit_form(
        request,
        form,
        lambda data: services.void_record(record=record, reason=data["reason"]),
        success="已作废，记录保留备查。",
    ):
        return redirect("members:detail", pk=member.pk)
    return render(
        request,
        "members/form.html",
        {"form": form, "member": member, "title": _void_title(member, record), "danger": True},
    )


def _void_title(member, record):
    """The void page names the record, so the wrong one is not voided: 作废张伟的党费缴纳记录：2026年5月，30.00元（2026-05-20缴纳）."""
    if isinstance(record, DuesPayment):
        what = (
            f"{record.month.year}年{record.month.month}月，{record.amount}元（{record.paid_on:%Y-%m-%d}缴纳）"
        )
    elif isinstance(record, ThoughtReport):
        what = f"{record.received_on:%Y-%m-%d}收到" + (f"，{record.title}" if record.title else "")
    elif isinstance(record, Mobility):
        what = f"外出{record.destination}（{record.started_on:%Y-%m-%d}起）"
    else:
        until = f"至{record.ended_on:%Y-%m-%d}" if record.ended_on else "起"
        what = f"{record.get_kind_display()}（{record.started_on:%Y-%m-%d}{until}）"
    return f"作废{member.name}的{record._meta.verbose_name}记录：{what}"


@require_http_methods(["GET", "POST"])
def dues_month(request, branch_pk):
    branch = get_branch_for(request.user, branch_pk)
    month_field = MonthField(required=False)
    try:
        month = month_field.clean(request.GET.get("month") or request.POST.get("month")) or None
    except ValidationError:
        month = None
    month = month or dues.month_start(timezone.localdate())
    members = selectors.dues_payers(branch, month=month)
    if request.method == "POST":
        if not can(request.user, branch, Action.RECORD):
            raise PermissionDenied("您的角色无权登记党费。")
        chosen = set(request.POST.getlist("member"))
        try:
            created, skipped = services.mark_month_paid(
                members=[m for m in members if str(m.pk) in chosen], month=month, paid_on=timezone.localdate()
            )
        except ValidationError as error:
            messages.error(request, "；".join(error.messages))
        else:
            _report_marked(request, month, created, skipped)
        return redirect(f"{request.path}?month={month:%Y-%m}")
    # A month to come is shown (who will owe it) but not offered for entry: it would be refused.
    this_month = dues.month_start(timezone.localdate())
    refused = dues.future_month_problem(month, today=this_month)
    return render(
        request,
        "members/dues_month.html",
        {
            "branch": branch,
            "month": month,
            "this_month": this_month,
            "refused": refused,
            **selectors.branch_dues_month(members, month=month),
            "can_record": can(request.user, branch, Action.RECORD) and not refused,
        },
    )


def _report_marked(request, month, created, skipped):
    if created:
        messages.success(request, f"已登记 {len(created)} 人{month:%Y年%m月}党费。")
    elif not skipped:  # a second tap of the button: everyone chosen was recorded by the first
        messages.info(request, f"所选人员{month:%Y年%m月}的党费此前均已登记，未重复登记。")
    for member, reason in skipped:
        messages.warning(request, f"{member.name}未登记：{reason}")


@require_http_methods(["GET", "POST"])
def member_import(request):
    _require_record_branches(request.user)
    # Bound on every POST: a post whose file part was dropped (no usable name) must say the file is missing.
    form = ImportUploadForm(request.POST, request.FILES) if request.method == "POST" else ImportUploadForm()
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            record = roster_import.start_import(
                user=request.user, fileobj=upload, filename=upload.name, size=upload.size
            )
        except roster_import.ImportFileError as error:
            form.add_error("file", str(error))
        else:
            return redirect("members:import_detail", pk=record.pk)
    recent = RosterImport.objects.filter(uploaded_by=request.user)[:10]
    return render(request, "members/import.html", {"form": form, "recent": recent})


@require_http_methods(["GET", "POST"])
def import_detail(request, pk):
    # An import belongs to its uploader; nobody else sees its rows.
    record = get_object_or_404(RosterImport, pk=pk, uploaded_by=request.user)
    branches = _require_record_branches(request.user)
    today = timezone.localdate()
    form = ImportCommitForm(request.POST or request.GET or None)
    mode = form.data.get("mode") if form.data.get("mode") in ("skip", "update") else "skip"
    if request.method == "POST" and form.is_valid() and record.committed_at is None:
        with transaction.atomic():
            locked = RosterImport.objects.select_for_update().get(pk=record.pk)
            if locked.committed_at is None:
                results, counts = roster_import.run_import(
                    rows=locked.rows,
                    branch_queryset=branches,
                    mode=mode,
                    strict=form.cleaned_data["strict"],
                    today=today,
                )
                locked.outcome = {
                    "counts": counts,
                    "problems": roster_import.problems(results),
                    "changes": roster_import.changes(results) if counts["updated"] else [],
                }
                locked.mode, locked.strict, locked.committed_at = (
                    mode,
                    form.cleaned_data["strict"],
                    timezone.now(),
                )
                locked.save()
        return redirect("members:import_detail", pk=record.pk)
    context = {"record": record, "form": form}
    if record.committed_at is None:
        results = roster_import.check_import(
            rows=record.rows, branch_queryset=branches, mode=mode, today=today
        )
        context.update(
            results=results[:IMPORT_PREVIEW_ROWS],
            problems=roster_import.problems(results),
            counts=roster_import.preview_counts(results),
            mode=mode,
            ok_count=sum(1 for r in results if r.ok),
            total=len(results),
            more=max(len(results) - IMPORT_PREVIEW_ROWS, 0),
        )
    return render(request, "members/import_detail.html", context)


# ---------------------------------------------------------------- 集中学习培训

TRAINING_STATE_ORDER = {
    State.OVERDUE: 0,
    State.DUE_SOON: 1,
    State.DUE: 2,
    State.MET: 3,
    State.NOT_APPLICABLE: 4,
}


def _year(request, today):
    return whole_number(request.GET.get("year", ""), low=2000, high=today.year) or today.year


def training_list(request, branch_pk):
    """A branch's 学习培训 for a year: each member's hours against what they owe, and the records."""
    branch = get_branch_for(request.user, branch_pk)
    today = timezone.localdate()
    year = _year(request, today)
    q = request.GET.get("q", "")
    q_error = UNSAFE_MESSAGE if has_unsafe_characters(q) else ""  # PostgreSQL cannot even compare NUL
    include_void = request.GET.get("void") == "1"
    records = selectors.training_list(request.user, branch=branch, year=year, q="" if q_error else q,
                                      include_void=include_void)  # fmt: skip
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    found = training.standings(branches={branch.pk: branch.path}, years=[year], as_of=today,
                               settings=settings_in_force(today))  # fmt: skip
    found.sort(key=lambda s: (TRAINING_STATE_ORDER[s.state], s.initials, s.name))
    return render(request, "members/training_list.html", {
        "branch": branch, "year": year, "q": q, "q_error": q_error, "include_void": include_void, "page": page,
        "years": range(today.year, today.year - 6, -1),
        "standings": [(s, STATE_LABELS[State(s.state)]) for s in found],
        "met": sum(1 for s in found if s.state == State.MET),
        "short": sum(1 for s in found if s.state in (State.OVERDUE, State.DUE_SOON, State.DUE)),
        "can_record": can(request.user, branch, Action.RECORD),
    })  # fmt: skip


@require_http_methods(["GET", "POST"])
def training_create(request, branch_pk):
    """登记培训学时: one training and the members who attended, recorded in one step."""
    branch = get_branch_for(request.user, branch_pk, Action.RECORD)
    members = branch.members.filter(
        on_roster=True, status=Status.NORMAL, category__in=PARTY_MEMBER_CATEGORIES
    ).order_by("name_initials", "name", "pk")
    form = TrainingForm(request.POST or None, initial={"token": uuid.uuid4().hex}, members=members)
    created = submit_form(
        request,
        form,
        lambda data: services.record_training(branch=branch, user=request.user, **data),
        success=lambda rows: f"已为 {len(rows)} 名党员登记培训学时。",
    )
    if created:
        year = form.cleaned_data["held_on"].year
        return redirect(f"{reverse('members:training', args=[branch.pk])}?year={year}")
    return render(request, "members/training_form.html", {"form": form, "branch": branch})


@require_http_methods(["GET", "POST"])
def training_void(request, pk):
    record = selectors.get_training_for(request.user, pk, Action.RECORD)
    form = VoidForm(request.POST or None)
    if submit_form(
        request,
        form,
        lambda data: services.void_training(record=record, reason=data["reason"]),
        success="已作废，学时不再计入，记录保留备查。",
    ):
        return redirect(f"{reverse('members:training', args=[record.branch_id])}?year={record.held_on.year}")
    return render(request, "members/form.html", {
        "form": form, "member": record.member, "danger": True,
        "title": f"作废{record.member.name}的培训记录：{record.title}（{record.held_on:%Y-%m-%d}，{record.hours}学时）",
    })  # fmt: skip


@require_POST
def member_account(request, pk):
    """The office opens a 党员's own login from their page; the new password is shown once on the account's."""
    member = selectors.get_member_for(request.user, pk)
    if not can(request.user, member.branch, Action.ACCOUNTS):
        raise PermissionDenied("只有党委管理员可以开通账号。")
    form = MemberAccountForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(form.errors["username"])
        account, password = branch_services.open_member_account(
            member=member, username=form.cleaned_data["username"], by=request.user
        )
    except ValidationError as error:
        messages.error(request, "；".join(error.messages))
        return redirect("members:detail", pk=member.pk)
    messages.success(request, f"已为{member.name}开通账号“{account.username}”。")
    show_password_once(request, account, password)
    return redirect("branches:account_detail", pk=account.pk)
