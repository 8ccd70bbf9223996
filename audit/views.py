"""操作记录: the township office's log of who changed which record, and each record's 修改历史.

Who may see what is decided in audit/selectors.py (its docstring); the views only parse and render.
"""

from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from branches.access import Action, acts_anywhere
from branches.forms import date_param, whole_number
from meetings.selectors import get_meeting_for
from members.selectors import get_member_for

from . import selectors
from .sources import KINDS

ACTION_CHOICES = [("added", "新增"), ("changed", "修改或作废"), ("deleted", "删除")]


def _page_number(request):
    return whole_number(request.GET.get("page", ""), high=100_000) or 1


def _chosen(items, value):
    """The item of a list offered on the page whose pk was posted back; anything else is ignored."""
    pk = whole_number(value)
    return next((item for item in items if item.pk == pk), None) if pk else None


def audit_log(request):
    user = request.user
    if not acts_anywhere(user, Action.AUDIT):
        raise PermissionDenied("操作记录供党委管理员、党委领导和党建指导员查看。")
    organisations = list(selectors.audit_organisations(user))
    people = list(selectors.editors(user))
    editor_value = request.GET.get("editor", "")
    filters = {
        "kind": request.GET.get("kind") if request.GET.get("kind") in KINDS else None,
        "within": _chosen(organisations, request.GET.get("org", "")),
        # Any user id: a past editor may hold no role here any more, and filtering reveals nothing new.
        "editor": selectors.SYSTEM if editor_value == selectors.SYSTEM else whole_number(editor_value),
        "since": date_param(request, "since"),
        "until": date_param(request, "until"),
        "action": request.GET.get("action") if request.GET.get("action") in selectors.HISTORY_TYPES else None,
    }
    page = selectors.audit_log(user, page=_page_number(request), **filters)
    return render(request, "audit/log.html", {
        "page": page, **filters, "kinds": KINDS, "organisations": organisations, "people": people,
        "actions": ACTION_CHOICES, "system": selectors.SYSTEM, "filtered": any(filters.values()),
    })  # fmt: skip


def meeting_history(request, pk):
    meeting = get_meeting_for(request.user, pk)
    return _object_page(request, meeting, f"{meeting.held_on:%Y-%m-%d} {meeting.topic}", "meetings:detail")


def member_history(request, pk):
    member = get_member_for(request.user, pk)
    return _object_page(request, member, member.name, "members:detail")


def _object_page(request, obj, name, detail_url):
    page = selectors.object_history(request.user, obj, page=_page_number(request))
    return render(
        request, "audit/object.html", {"page": page, "object": obj, "name": name, "detail_url": detail_url}
    )
