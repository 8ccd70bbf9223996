from django.core.paginator import Paginator
from django.shortcuts import render

from branches.access import organisations_for
from branches.models import OrgLevel

from . import selectors
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
