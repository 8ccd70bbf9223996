"""Reads of the organisation tree. Query counts do not depend on the size of the tree."""

from django.db.models import Case, CharField, F, OuterRef, Prefetch, Q, Subquery, Value, When
from django.db.models.functions import Concat, Length, Substr
from django.utils import timezone

from .access import Action, organisations_for, scope_roots, scoped_accounts
from .models import (
    ALLOWED_PARENT_LEVELS,
    POSITION_ORDER,
    CommitteePosition,
    CommitteeTerm,
    Organisation,
    OrgLevel,
    RoleAssignment,
)

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
            ).order_by("-elected_on", "pk"),  # the first created among equals ranks first, as in the engine
            to_attr="term_list",
        )
    )


def attach_current_terms(organisations, *, on=None):
    """Set .current_term, the term the compliance engine judges by (engine._committees_from: the latest
    elected on or before the date, the first created among equals), with its ordered office-holders; and
    on each earlier term .superseded_on, the election that ended it, whatever its 届满 date said."""
    on = on or timezone.localdate()
    for org in organisations:
        elected = [t for t in org.term_list if t.elected_on <= on]  # newest first (_with_terms)
        org.current_term = elected[0] if elected else None
        for later, term in zip(elected, elected[1:], strict=False):
            term.superseded_on = later.elected_on
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
    """Matches in tree order, each with its .label (a 党小组 named with its branch: every branch has a
    第一党小组), computed in the query."""
    qs = organisations_for(user, Action.VIEW).filter(name__icontains=q).order_by("path")
    if not include_dissolved:
        qs = qs.filter(dissolved_on__isnull=True)
    return qs.annotate(label=org_label())


def with_current_terms(organisations):
    """A page of organisations (search results) as the tree shows them: each with its current term and
    office-holders, in two queries for the page."""
    return attach_current_terms(list(_with_terms(organisations)))


def move_targets(user, organisation):
    """Where the user may move the organisation: a live organisation of a level it may stand under, outside
    its own subtree and other than its present parent; for a 党小组, no 支组合一 branch (which has none)."""
    allowed = [level for level in ALLOWED_PARENT_LEVELS[organisation.level] if level]
    targets = (
        organisations_for(user, Action.MANAGE)
        .filter(dissolved_on__isnull=True, level__in=allowed)
        .exclude(path__startswith=organisation.path)
    )
    if organisation.depth > 1:
        targets = targets.exclude(path=organisation.path[: -Organisation.steplen])
    if organisation.level == OrgLevel.GROUP:
        targets = targets.exclude(merged_group=True)
    return targets.order_by("path")


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


def org_label(prefix=""):
    """An organisation's name as a list of many shows it, computed in the query that reads it: a 党小组's
    after its branch's ("甲村党支部 · 第一党小组"), as every branch has a 第一党小组. prefix: the lookup to the
    organisation ("organisation__") when the rows are something else's. A group's branch is its parent
    (ALLOWED_PARENT_LEVELS), whose path is the group's minus its last step."""
    path = OuterRef(f"{prefix}path")
    parent = Organisation.objects.filter(path=Substr(path, 1, Length(path) - Organisation.steplen))
    return Case(
        When(**{f"{prefix}level": OrgLevel.GROUP},
             then=Concat(Subquery(parent.values("name")[:1]), Value(" · "), F(f"{prefix}name"))),
        default=F(f"{prefix}name"),
        output_field=CharField(),
    )  # fmt: skip


def label_of(organisation):
    """One organisation's org_label (one query)."""
    return Organisation.objects.filter(pk=organisation.pk).values_list(org_label(), flat=True).get()


def account_organisations(user):
    """Where the user may give roles, in tree order, each with its .label: one query for the choices."""
    live = organisations_for(user, Action.ACCOUNTS).filter(dissolved_on__isnull=True)
    return live.annotate(label=org_label()).order_by("path")


def _labelled_roles(queryset):
    labelled = queryset.annotate(organisation_label=org_label("organisation__"))
    return labelled.order_by("organisation__path", "role")


def accounts(user, *, q=""):
    """The accounts the user manages, with their roles (two queries for a page, whatever its size)."""
    qs = scoped_accounts(user, Action.ACCOUNTS)
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(first_name__icontains=q))
    roles = _labelled_roles(RoleAssignment.objects.all())
    return qs.order_by("username").prefetch_related(Prefetch("role_assignments", queryset=roles))


def account_roles(account):
    """The account's roles in tree order, each with its .organisation_label."""
    return _labelled_roles(account.role_assignments.all())


ACCOUNT_HISTORY = 50


def account_history(account):
    """The latest changes to an account, newest first: its roles given and taken back (their history) and
    what the office did besides (AccountEvent), as (when, what, by whom) — two queries."""
    roles = (
        RoleAssignment.history.filter(user_id=account.pk)
        .annotate(organisation_label=org_label("organisation__"))
        .select_related("history_user")
    )
    changes = [
        (row.history_date, f"{ROLE_CHANGE.get(row.history_type, '修改')} {row.organisation_label}的{row.get_role_display()}",
         row.history_user)
        for row in roles.order_by("-history_date")[:ACCOUNT_HISTORY]
    ]  # fmt: skip
    events = account.account_events.select_related("by").order_by("-at")[:ACCOUNT_HISTORY]
    changes += [(e.at, e.get_kind_display() + (f"：{e.detail}" if e.detail else ""), e.by) for e in events]
    return sorted(changes, key=lambda change: change[0], reverse=True)[:ACCOUNT_HISTORY]


ROLE_CHANGE = {"+": "授予", "-": "收回"}
