"""Reads of the organisation tree. Query counts do not depend on the size of the tree."""

from django.db.models import Prefetch, Q
from django.utils import timezone

from .access import Action, organisations_for, scope_roots, scoped_accounts
from .models import POSITION_ORDER, CommitteePosition, CommitteeTerm, Organisation, RoleAssignment

# How far below a starting organisation the tree page shows: township → 社区党委 → 支部 → 党小组.
TREE_DEPTH = 3


def _with_terms(queryset):
    """Attach every term (newest first) with its sitting office-holders, in two queries."""
    return queryset.prefetch_related(
        Prefetch(
            "terms",
            queryset=CommitteeTerm.objects.prefetch_related(
                Prefetch(
                    "positions",
                    queryset=CommitteePosition.objects.filter(ended_on__isnull=True),
                    to_attr="sitting",
                )
            ),
            to_attr="term_list",
        )
    )


def attach_current_terms(organisations, *, on=None):
    """Set .current_term (latest term elected on or before the date) and its ordered office-holders."""
    on = on or timezone.localdate()
    for org in organisations:
        org.current_term = next((t for t in org.term_list if t.elected_on <= on), None)
        if org.current_term:
            org.current_term.ordered_positions = sorted(
                org.current_term.sitting, key=lambda p: POSITION_ORDER.get(p.position, 99)
            )
            org.current_term.is_expired = org.current_term.ends_on < on
    return organisations


def organisation_tree(user, *, root=None, include_dissolved=False):
    """The visible tree under root (or under the user's scope roots), a few levels deep, in path order."""
    visible = organisations_for(user, Action.VIEW)
    if root is not None:
        top_depth = root.depth
        visible = visible.filter(path__startswith=root.path)
    else:
        top_depth = min((r.depth for r in scope_roots(user)), default=1)
    qs = visible.filter(depth__lte=top_depth + TREE_DEPTH).order_by("path")
    if not include_dissolved:
        qs = qs.filter(dissolved_on__isnull=True)
    nodes = list(_with_terms(qs))
    for node in nodes:
        node.relative_depth = node.depth - top_depth
    return attach_current_terms(nodes)


def search_organisations(user, *, q, include_dissolved=False):
    qs = organisations_for(user, Action.VIEW).filter(name__icontains=q).order_by("path")
    if not include_dissolved:
        qs = qs.filter(dissolved_on__isnull=True)
    return qs


def ancestors_of(organisation, user):
    """Breadcrumb trail: the ancestors the user may see."""
    return list(Organisation.objects.get_ancestors(organisation) & organisations_for(user, Action.VIEW))


def organisation_detail(organisation, user):
    [organisation] = attach_current_terms(list(_with_terms(Organisation.objects.filter(pk=organisation.pk))))
    return {
        "organisation": organisation,
        "subtree": organisation_tree(user, root=organisation)[1:],
        "breadcrumbs": ancestors_of(organisation, user),
        "history": list(organisation.history.select_related("history_user").order_by("-history_date")[:20]),
    }


def accounts(user, *, q=""):
    """The accounts the user manages, with their roles (two queries for a page, whatever its size)."""
    qs = scoped_accounts(user, Action.ACCOUNTS)
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(first_name__icontains=q))
    roles = RoleAssignment.objects.select_related("organisation").order_by("organisation__path", "role")
    return qs.order_by("username").prefetch_related(Prefetch("role_assignments", queryset=roles))


ACCOUNT_HISTORY = 50


def account_history(account):
    """The latest changes to an account, newest first: its roles given and taken back (their history) and
    what the office did besides (AccountEvent), as (when, what, by whom) — two queries."""
    roles = RoleAssignment.history.filter(user_id=account.pk).select_related("organisation", "history_user")
    changes = [
        (row.history_date, f"{ROLE_CHANGE.get(row.history_type, '修改')} {row.organisation.name}的{row.get_role_display()}",
         row.history_user)
        for row in roles.order_by("-history_date")[:ACCOUNT_HISTORY]
    ]  # fmt: skip
    events = account.account_events.select_related("by").order_by("-at")[:ACCOUNT_HISTORY]
    changes += [(e.at, e.get_kind_display() + (f"：{e.detail}" if e.detail else ""), e.by) for e in events]
    return sorted(changes, key=lambda change: change[0], reverse=True)[:ACCOUNT_HISTORY]


ROLE_CHANGE = {"+": "授予", "-": "收回"}
