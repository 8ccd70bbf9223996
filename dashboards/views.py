"""工作概况: the township office's overview with drill-down, and the branch secretary's home."""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from branches.access import Action, can, get_branch_for
from branches.forms import date_param, id_param
from branches.selectors import ancestors_of
from compliance import checklist
from compliance.periods import STATE_LABELS, State
from compliance.selectors import open_flags
from evaluations.selectors import returned_campaigns
from meetings.selectors import returned_meetings
from meetings.services import locked_years

from . import selectors

PAGE_SIZE = 50
STATE_FILTERS = {
    "applicable": "应完成（不含不适用）",
    **{s.value: label for s, label in STATE_LABELS.items()},
    "open": "进行中",
}


def _today():
    return timezone.localdate()


def _org_param(request):
    return id_param(request, "org")


def _context(request):
    """Scope, period and the query string every drill-down link carries."""
    user = request.user
    scope = selectors.resolve_scope(user, _org_param(request))
    as_of = _today()
    period = selectors.chosen_period(request.GET.get("kind"), date_param(request, "on", as_of))
    params = {"kind": period.kind.value, "on": period.start.isoformat()}
    if scope.org is not None:
        params = {"org": scope.org.pk, **params}
    keep = {k: request.GET[k] for k in ("rule", "state") if request.GET.get(k)}
    return {
        "scope": scope,
        "as_of": as_of,
        "period": period,
        "query": urlencode(params),
        "org_query": f"org={scope.org.pk}" if scope.org is not None else "",
        "crumbs": ancestors_of(scope.org, user) if scope.org is not None else [],
        "kinds": selectors.PERIOD_KINDS,
        "keep": keep,
        "previous": urlencode({**params, **keep, "on": period.previous().start.isoformat()}),
        "next": urlencode({**params, **keep, "on": period.next().start.isoformat()})
        if period.next().start <= as_of
        else "",
    }


def township(request):
    """The overview of a 党委's, 党总支's or the user's whole scope for a month, quarter or year."""
    context = _context(request)
    scope, period, as_of = context["scope"], context["period"], context["as_of"]
    context.update(selectors.overview(scope, period=period, as_of=as_of, rule=request.GET.get("rule")))
    lists, watch = selectors.member_lists(scope)
    pipeline = selectors.pipeline_deadlines(scope, as_of=as_of)
    context.update(
        members=selectors.members_by_category(scope),
        backfill=selectors.backfill_figures(scope, period=period),
        member_lists=lists,
        watch=watch,
        pipeline=pipeline[: selectors.LIST_LENGTH],
        pipeline_count=len(pipeline),
        terms=lists[-1],
        member_lists_only=lists[:-1],
        heat_json=_heat_json(context),
        trend_json=[
            {
                "label": f"{m.start.year}年{m.start.month}月",
                "rate": t.rate,
                "met": t.met,
                "applicable": t.applicable,
            }
            for m, t in context["trend"]
        ],  # fmt: skip
        branch_count=sum(1 for b in scope.branches if b.dissolved_on is None),
        # Reversed once: the heatmap links every cell.
        township_url=reverse("dashboards:township"),
        obligations_url=reverse("dashboards:obligations"),
    )
    return render(request, "dashboards/township.html", context)


def _heat_json(context):
    """The heatmap as plain data for the chart (the table on the page is the same data)."""
    rule = context["rule"]
    base = reverse("dashboards:obligations")
    cells = []
    for y, (row, row_cells) in enumerate(context["heatmap"]):
        for x, cell in enumerate(row_cells):
            if not cell.state:
                continue
            params = {"org": row.pk, "kind": "month", "on": cell.month.start.isoformat()}
            if rule:
                params["rule"] = rule
            cells.append({
                "x": x, "y": y, "s": str(cell.state), "met": cell.met, "applicable": cell.applicable,
                "overdue": cell.overdue, "n": cell.count, "url": f"{base}?{urlencode(params)}",
            })  # fmt: skip
    return {
        "months": [f"{m.start.month}月" for m in context["months"]],
        "rows": [row.name for row, _cells in context["heatmap"]],
        "cells": cells,
        "labels": {str(s): label for s, label in STATE_LABELS.items()},
    }


def obligations(request):
    """The obligations behind a figure: scope, period, rule and state as on the overview."""
    context = _context(request)
    scope, period, as_of = context["scope"], context["period"], context["as_of"]
    rule = request.GET.get("rule") or None
    state = request.GET.get("state") if request.GET.get("state") in STATE_FILTERS else None
    cells = selectors.obligation_list(scope, period=period, as_of=as_of, rule=rule, state=state)
    paths = {b.pk: b.path for b in scope.branches}
    order = {code: i for i, code in enumerate(selectors.CATALOGUE)}
    cells.sort(
        key=lambda r: (paths[r.cell.branch_id], r.cell.period.end, order[r.cell.rule.code], r.cell.unit_name)
    )
    context.update(
        page=Paginator(cells, PAGE_SIZE).get_page(request.GET.get("page")),
        rule=selectors.CATALOGUE.get(rule),
        state=state,
        state_label=STATE_FILTERS.get(state),
        states=STATE_FILTERS,
        catalogue={code: r for code, r in selectors.CATALOGUE.items() if r.frequency is not None},
    )
    return render(request, "dashboards/obligations.html", context)


def pipeline_list(request):
    """Development deadlines due within 30 days or already passed, in the scope: a work list as of today, as
    the overview's card that links here, so the page has no period controls (its breadcrumbs carry the
    overview's period back)."""
    context = _context(request)
    items = selectors.pipeline_deadlines(context["scope"], as_of=context["as_of"])
    context.update(count=len(items), page=Paginator(items, PAGE_SIZE).get_page(request.GET.get("page")))
    return render(request, "dashboards/pipeline.html", context)


def branch_home(request, branch_pk):
    """The secretary's and committee's home: this period's checklist and what needs attention."""
    user = request.user
    branch = get_branch_for(user, branch_pk)
    today = _today()
    flags = open_flags(user)
    rows = selectors.with_records_warnings(checklist.branch_checklist(branch, on=today), flags, branch)
    theme_day, theme_day_off, theme_day_held = selectors.next_theme_day(branch, on=today)
    locked = locked_years(branch)
    return render(request, "dashboards/branch.html", {
        "branch": branch,
        "today": today,
        "rows": rows,
        "open_count": sum(1 for r in rows if r.obligation.state not in (State.MET, State.NOT_APPLICABLE)),
        # A locked year takes no new record: the page says so instead of offering buttons the form refuses.
        "year_locked": today.year in locked,
        "locked_years": locked,  # a returned record of a locked year waits for the 党委 to unlock it
        "can_record": branch.is_active and can(user, branch, Action.RECORD) and today.year not in locked,
        "returned": list(returned_meetings(user).filter(branch=branch).order_by("-held_on")[:20]),
        "returned_reviews": list(returned_campaigns(user).filter(branch=branch).order_by("-year")[:5]),
        "attention": selectors.members_needing_attention(flags, branch),
        "branch_flags": flags.filter(branch=branch).count(),  # what the link below lists
        "theme_day": theme_day,
        "theme_day_off": theme_day_off,  # a local rule stopped checking it: no day is announced
        "theme_day_held": theme_day_held,  # this month's is recorded: the day announced is next month's
    })  # fmt: skip
