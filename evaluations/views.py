import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods, require_POST

from branches.access import Action, can, get_branch_for
from branches.forms import add_service_errors, submit_form, whole_number

from . import selectors, services
from .forms import (
    BallotForm,
    CampaignForm,
    CloseFollowUpForm,
    FollowUpForm,
    OpenCampaignForm,
    ReportForm,
    ResultFormSet,
    ReturnForm,
    VoidForm,
)
from .models import EDITABLE_STATUSES, CampaignStatus

PAGE_SIZE = 50


def _year(request):
    this_year = timezone.localdate().year
    year = whole_number(request.GET.get("year", ""), low=2000, high=this_year)
    return this_year if year is None else year


def overview(request):
    """Every visible branch's campaign for a year: status and grades (the township office's view)."""
    year = _year(request)
    branches = selectors.overview_branches(request.user, year=year)
    page = Paginator(branches, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        (branch, campaign, can(request.user, branch, Action.RECORD) and branch.is_active)
        for branch, campaign in selectors.overview_rows(page.object_list, year=year)
    ]
    this_year = timezone.localdate().year
    return render(request, "evaluations/overview.html", {
        "year": year, "page": page, "rows": rows, "summary": selectors.overview_summary(branches, year=year),
        "years": range(this_year, this_year - 6, -1),
    })  # fmt: skip


def _year_to_open(today):
    """The year a new campaign is for by default: reviews are held at the end of the year, or early in the
    next "for" the past year."""
    return today.year if today.month >= 7 else today.year - 1


def branch_campaigns(request, branch_pk):
    branch = get_branch_for(request.user, branch_pk)
    campaigns = list(selectors.branch_campaigns(request.user, branch))
    year = _year_to_open(timezone.localdate())
    return render(request, "evaluations/branch.html", {
        "branch": branch, "campaigns": campaigns, "year_to_open": year,
        # The year's campaign is open already: the page leads to it instead of offering to open another.
        "year_campaign": next((c for c in campaigns if c.year == year and c.voided_at is None), None),
        "can_record": branch.is_active and can(request.user, branch, Action.RECORD),
    })  # fmt: skip


def _opened_already(campaign):
    """What the open page says of a year whose campaign exists, with the way to it."""
    return format_html(
        "{}年度的民主评议已经开启（{}），不能再开启：<a href=\"{}\">打开{}年度民主评议</a>继续。",
        campaign.year, campaign.get_status_display(), reverse("reviews:detail", args=[campaign.pk]), campaign.year,
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def open_campaign(request, branch_pk):
    branch = get_branch_for(request.user, branch_pk, Action.RECORD)
    today = timezone.localdate()
    # ?year= from a list of the years' campaigns (民主评议's overview) asks for that year.
    year = whole_number(request.GET.get("year", ""), low=2000, high=today.year) or _year_to_open(today)
    form = OpenCampaignForm(request.POST or None, initial={"year": year, "token": uuid.uuid4().hex})
    campaign = submit_form(
        request, form,
        lambda data: services.open_campaign(branch=branch, year=data["year"], campaign_on=data["campaign_on"],
                                            token=data["token"], user=request.user),
        success=lambda c: f"已开启{c.year}年度民主评议，参评党员 {c.participants.filter(exempt_reason='').count()} 人。",
    )  # fmt: skip
    if campaign:
        return redirect("reviews:detail", pk=campaign.pk)
    if form.is_bound:  # the year as sent (a refused year is no longer in cleaned_data)
        year = whole_number(request.POST.get("year", ""), low=2000, high=2100)
    existing = selectors.year_campaign(branch, year) if year else None
    return render(request, "evaluations/form.html", {
        "form": form, "branch": branch, "title": f"开启民主评议党员 · {branch.name}",
        "warning": _opened_already(existing) if existing else None,
    })  # fmt: skip


def campaign_detail(request, pk):
    campaign = selectors.get_campaign_for(request.user, pk)
    context = selectors.campaign_detail(campaign)
    campaign = context["campaign"]
    may_record = can(request.user, campaign.branch, Action.RECORD) and campaign.voided_at is None
    context.update(
        can_edit=may_record and campaign.status in EDITABLE_STATUSES,
        can_reopen=may_record and campaign.status == CampaignStatus.RETURNED,
        can_report=may_record and campaign.status == CampaignStatus.CLOSED,
        can_followup=may_record,
        can_return=can(request.user, campaign.branch, Action.REVIEW)
        and campaign.voided_at is None
        and campaign.status in (CampaignStatus.CLOSED, CampaignStatus.REPORTED),
        close_problems=services.close_problems(campaign) if campaign.status in EDITABLE_STATUSES else [],
    )
    return render(request, "evaluations/detail.html", context)


def _recording(request, pk):
    return selectors.get_campaign_for(request.user, pk, Action.RECORD)


@require_http_methods(["GET", "POST"])
def campaign_edit(request, pk):
    campaign = _recording(request, pk)
    initial = {field: getattr(campaign, field) for field in ("campaign_on", *services.STEP_FIELDS, "note")}
    initial["org_life_meeting"] = campaign.org_life_meeting_id
    form = CampaignForm(request.POST or None, initial=initial, campaign=campaign)
    if submit_form(
        request, form,
        lambda data: services.update_campaign(
            campaign=campaign, campaign_on=data["campaign_on"], org_life_meeting=data["org_life_meeting"],
            note=data["note"], **form.steps()),
        success="已保存民主评议的步骤和日期。",
    ):  # fmt: skip
        return redirect("reviews:detail", pk=campaign.pk)
    return render(request, "evaluations/form.html", {
        "form": form, "campaign": campaign, "title": f"步骤和日期 · {campaign}",
        "warning": None if campaign.is_editable else "该民主评议当前不能修改。",
    })  # fmt: skip


def _result_initial(participants):
    return [
        {"participant": p.pk, "votes_excellent": p.votes_excellent, "votes_qualified": p.votes_qualified,
         "votes_basic": p.votes_basic, "votes_unqualified": p.votes_unqualified, "grade": p.grade,
         "grade_reason": p.grade_reason, "self_assessment": p.self_assessment}
        for p in participants
    ]  # fmt: skip


@require_http_methods(["GET", "POST"])
def campaign_results(request, pk):
    """民主测评 and 组织评定 on one page: the ballot counts, then one row per participant."""
    campaign = _recording(request, pk)
    participants = selectors.label_participants(list(
        campaign.participants.filter(exempt_reason="")
        .select_related("member__group")
        .order_by("member__name_initials", "member__name", "pk")
    ))  # fmt: skip
    data = request.POST if request.method == "POST" else None
    ballots = BallotForm(data, initial={"ballots_issued": campaign.ballots_issued,
                                        "ballots_returned": campaign.ballots_returned})  # fmt: skip
    returned = (
        ballots.cleaned_data.get("ballots_returned") if data is not None and ballots.is_valid() else None
    )
    if data is None:
        returned = campaign.ballots_returned
    formset = ResultFormSet(data, initial=_result_initial(participants), form_kwargs={"returned": returned})
    rows = list(zip(formset.forms, participants, strict=False))
    if data is not None:
        if not campaign.is_editable:
            messages.error(request, "该民主评议当前不能修改。")
            return redirect("reviews:detail", pk=campaign.pk)
        if len(formset.forms) != len(participants) or any(
            form.is_valid() and form.cleaned_data["participant"] != p.pk for form, p in rows
        ):
            formset.is_valid()
            ballots.add_error(None, "参评名单已变化，请刷新页面后重新填写。")
        elif ballots.is_valid() and formset.is_valid():
            try:
                services.save_results(
                    campaign=campaign, ballots_issued=ballots.cleaned_data["ballots_issued"],
                    ballots_returned=ballots.cleaned_data["ballots_returned"],
                    rows={form.cleaned_data["participant"]: form.values() for form in formset.forms},
                )  # fmt: skip
            except services.RowErrors as error:
                by_pk = {p.pk: form for form, p in rows}
                for pk_, problems in error.row_errors.items():
                    by_pk[pk_].add_error(None, problems)
                for problem in error.ballot_errors:
                    ballots.add_error(None, problem)
            except ValidationError as error:
                add_service_errors(ballots, error)
            else:
                messages.success(request, "测评结果和组织评定已保存。")
                if "close" in data:
                    return _close(request, campaign)
                return redirect("reviews:detail", pk=campaign.pk)
    return render(request, "evaluations/results.html", {
        "campaign": campaign, "ballots": ballots, "formset": formset, "rows": rows,
        "has_errors": data is not None,  # a successful POST has redirected
    })  # fmt: skip


def _close(request, campaign):
    try:
        services.close_campaign(campaign=campaign)
    except ValidationError as error:
        messages.error(request, "还不能完成：" + "；".join(error.messages))
        return redirect("reviews:detail", pk=campaign.pk)
    messages.success(request, f"{campaign.year}年度民主评议已完成。请公示评议结果，公示结束后点击“上报党委”，"
                              "填写公示日期和上报日期。")  # fmt: skip
    return redirect("reviews:detail", pk=campaign.pk)


@require_POST
def campaign_close(request, pk):
    return _close(request, _recording(request, pk))


@require_POST
def campaign_reopen(request, pk):
    campaign = _recording(request, pk)
    try:
        services.reopen_campaign(campaign=campaign)
    except ValidationError as error:
        messages.error(request, "；".join(error.messages))
    else:
        messages.success(request, "已重新开启，请按党委意见修改后再次完成。")
    return redirect("reviews:detail", pk=campaign.pk)


def _simple_form(request, campaign, form, perform, *, success, title, warning=None, danger=False):
    if submit_form(request, form, perform, success=success):
        return redirect("reviews:detail", pk=campaign.pk)
    return render(request, "evaluations/form.html", {
        "form": form, "campaign": campaign, "title": title, "warning": warning, "danger": danger,
    })  # fmt: skip


@require_http_methods(["GET", "POST"])
def campaign_report(request, pk):
    campaign = _recording(request, pk)
    form = ReportForm(request.POST or None, initial={
        "publicity_start_on": campaign.publicity_start_on, "publicity_end_on": campaign.publicity_end_on,
    })  # fmt: skip
    return _simple_form(
        request, campaign, form,
        lambda data: services.report_campaign(campaign=campaign, **data),
        success="已记录上报党委。", title=f"上报党委 · {campaign}",
        warning=None if campaign.status == CampaignStatus.CLOSED else "只有已完成的民主评议才能上报。",
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def campaign_return(request, pk):
    campaign = selectors.get_campaign_for(request.user, pk, Action.REVIEW)
    form = ReturnForm(request.POST or None)
    return _simple_form(
        request, campaign, form,
        lambda data: services.return_campaign(campaign=campaign, comment=data["comment"]),
        success="已退回支部修改。", title=f"退回修改 · {campaign}",
        warning="退回后支部须重新开启、修改并再次完成；退回期间该年度民主评议不计为已完成。",
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def campaign_void(request, pk):
    campaign = _recording(request, pk)
    form = VoidForm(request.POST or None)
    return _simple_form(
        request, campaign, form,
        lambda data: services.void_campaign(campaign=campaign, reason=data["reason"]),
        success="已作废，内容保留备查；该年度可重新开启民主评议。", title=f"作废 · {campaign}",
        warning="作废后该次评议不再计入，内容和变更记录都会保留。已完成的评议不能作废。", danger=True,
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def followup_add(request, pk, participant_pk):
    campaign = _recording(request, pk)
    participant = selectors.get_participant_for(campaign, participant_pk)
    form = FollowUpForm(request.POST or None, participant=participant)
    return _simple_form(
        request, campaign, form,
        lambda data: services.add_followup(participant=participant, **data),
        success="已登记后续处置。",
        title=f"后续处置 · {participant.member.name}（{participant.get_grade_display() or '未评定'}）",
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def followup_close(request, pk):
    followup = selectors.get_followup_for(request.user, pk, Action.RECORD)
    campaign = followup.participant.campaign
    form = CloseFollowUpForm(request.POST or None)
    return _simple_form(
        request, campaign, form,
        lambda data: services.close_followup(followup=followup, **data),
        success="已办结。",
        title=f"办结 · {followup.participant.member.name} {followup.get_kind_display()}",
    )  # fmt: skip
