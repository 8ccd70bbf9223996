from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from branches.access import Action, get_branch_for, get_organisation_for
from branches.models import OrgLevel

from . import selectors, services
from .forms import ExportForm
from .models import ACTIVE_STATUSES, ExportKind, ExportStatus

TOWNSHIP_LEVELS = [OrgLevel.PARTY_COMMITTEE, OrgLevel.GENERAL_BRANCH]
PAGE_SIZE = 30
READING = "正在读取数据"
CONTENT_TYPES = {
    ExportKind.ZIP: "application/zip",
    ExportKind.BRANCH: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportKind.SUMMARY: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _start(request, organisation, kind, year):
    export, created = services.request_export(
        user=request.user, kind=kind, organisation=organisation, year=year
    )
    if created and services.dispatch(export):
        messages.info(request, "后台任务队列暂不可用，台账已在本机直接生成。")
    elif not created:
        messages.info(request, "该台账正在生成中，请稍候。")
    return redirect("ledgers:detail", pk=export.pk)


@require_http_methods(["GET", "POST"])
def branch_export(request, branch_pk):
    branch = get_branch_for(request.user, branch_pk, Action.EXPORT)
    form = ExportForm(request.POST or None, organisation=branch)
    if request.method == "POST" and form.is_valid():
        return _start(request, branch, ExportKind.BRANCH, form.cleaned_data["year"])
    return render(request, "ledgers/start.html", {"form": form, "organisation": branch,
                                                  "title": f"导出台账：{branch.name}"})  # fmt: skip


@require_http_methods(["GET", "POST"])
def township_export(request, pk):
    organisation = get_organisation_for(request.user, pk, Action.EXPORT, levels=TOWNSHIP_LEVELS)
    form = ExportForm(request.POST or None, organisation=organisation, township=True)
    if request.method == "POST" and form.is_valid():
        return _start(request, organisation, form.cleaned_data["kind"], form.cleaned_data["year"])
    return render(request, "ledgers/start.html", {"form": form, "organisation": organisation,
                                                  "title": f"导出汇总台账：{organisation.name}"})  # fmt: skip


def _status(export):
    """What the page shows of an export. Before its first step is done (queued, or reading the records)
    there is no figure yet: `indeterminate`, and the label says what it waits for."""
    waiting = export.status in ACTIVE_STATUSES and not export.done
    label = export.get_status_display()
    if waiting and export.status == ExportStatus.RUNNING:
        label = READING
    return {
        "status": export.status,
        "label": label,
        "indeterminate": waiting,
        "done": export.done,
        "total": export.total,
        "percent": export.percent,
        "error": export.error,
        "ran_inline": export.ran_inline,
        "download_url": reverse("ledgers:download", args=[export.pk])
        if export.status == ExportStatus.DONE
        else None,
    }


def export_detail(request, pk):
    export = selectors.get_export_for(request.user, pk)
    return render(request, "ledgers/detail.html", {"export": export, "state": _status(export)})


def export_status(request, pk):
    export = selectors.get_export_for(request.user, pk)
    response = JsonResponse(_status(export))
    response["Cache-Control"] = "no-store"
    return response


def export_download(request, pk):
    export = selectors.get_export_for(request.user, pk)
    if export.status != ExportStatus.DONE or not export.file:
        raise Http404("文件尚未生成。")
    response = FileResponse(
        export.file.open("rb"),
        as_attachment=True,
        filename=export.filename,
        content_type=CONTENT_TYPES[export.kind],
    )
    response["Cache-Control"] = "private, no-store"
    return response


def export_list(request):
    """The export log of the user's scope: who exported what, when. Files only for their own."""
    page = Paginator(selectors.export_log(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "ledgers/list.html", {"page": page})
