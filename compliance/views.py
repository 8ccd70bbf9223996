from datetime import date

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from branches.access import Action, can, get_branch_for, organisations_for
from branches.models import OrgLevel

from . import checklist, selectors
from .models import RULE_CHOICES, FlagState

PAGE_SIZE = 50


def flag_list(request):
    """The work list: what is overdue, due soon or needs a look, in the user's scope."""
    user = request.user
    branches = organisations_for(user).filter(level=OrgLevel.BRANCH).order_by("path")
    branch_pk = request.GET.get("branch", "")
    branch = branches.filter(pk=branch_pk).first() if branch_pk.isdigit() else None
    rule = request.GET.get("rule") if request.GET.get("rule") in dict(RULE_CHOICES) else None
    state = request.GET.get("state") if request.GET.get("state") in FlagState.values else None
    flags = selectors.flag_list(user, branch=branch, rule=rule, state=state,
                                include_resolved=request.GET.get("resolved") == "1")  # fmt: skip
    return render(request, "compliance/flags.html", {
        "page": Paginator(flags, PAGE_SIZE).get_page(request.GET.get("page")), "branches": branches,
        "branch": branch, "rule": rule, "state": state, "rules": RULE_CHOICES, "states": FlagState.choices,
        "include_resolved": request.GET.get("resolved") == "1",
    })  # fmt: skip


def branch_checklist(request, branch_pk):
    """本期事项: every meeting rule for the period containing a date, with the records that met it."""
    branch = get_branch_for(request.user, branch_pk)
    try:
        on = date.fromisoformat(request.GET.get("on", ""))
    except ValueError:
        on = timezone.localdate()
    return render(request, "compliance/checklist.html", {
        "branch": branch, "on": on, "rows": checklist.branch_checklist(branch, on=on),
        "can_record": can(request.user, branch, Action.RECORD),
    })  # fmt: skip
