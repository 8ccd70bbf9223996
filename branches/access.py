"""Scoping: the one place that decides which organisations a user may see or act on.

Every view that shows user-visible data goes through these functions. A role
assigned on an organisation reaches its whole subtree (a path prefix in the
materialised-path tree). Objects outside the user's scope raise Http404, so a
guessed id reveals nothing; inside the scope, an action the role does not have
raises PermissionDenied.
"""

from enum import StrEnum
from operator import attrgetter

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import Http404

from .models import Organisation, OrgLevel, Role, RoleAssignment


class Action(StrEnum):
    VIEW = "view"  # read the organisation's records
    MANAGE = "manage"  # change the tree, committees and terms
    RECORD = "record"  # log meetings, members and other records
    REVIEW = "review"  # return records for correction, confirm them
    EXPORT = "export"  # download ledgers
    AUDIT = "audit"  # read who changed which records (the 操作记录 across a subtree)
    ACCOUNTS = "accounts"  # open accounts and grant roles within the subtree


ROLE_ACTIONS = {
    Role.TOWNSHIP_ADMIN: frozenset(Action),
    Role.TOWNSHIP_LEADER: frozenset({Action.VIEW, Action.EXPORT, Action.AUDIT}),
    Role.INSTRUCTOR: frozenset({Action.VIEW, Action.REVIEW, Action.EXPORT, Action.AUDIT}),
    Role.SECRETARY: frozenset({Action.VIEW, Action.RECORD, Action.EXPORT}),
    Role.COMMITTEE_MEMBER: frozenset({Action.VIEW, Action.RECORD}),
    Role.GROUP_LEADER: frozenset({Action.VIEW, Action.RECORD}),
    # A member sees only their own record, never an organisation's.
    Role.MEMBER: frozenset(),
}

# Roles that see an overview of many branches rather than one branch's work.
OFFICE_ROLES = frozenset({Role.TOWNSHIP_ADMIN, Role.TOWNSHIP_LEADER, Role.INSTRUCTOR})


def _assignments(user):
    """(path, role, organisation) for each of the user's roles, loaded once per request."""
    cached = getattr(user, "_zhibu_assignments", None)
    if cached is None:
        cached = [
            (a.organisation.path, a.role, a.organisation)
            for a in user.role_assignments.select_related("organisation").order_by("organisation__path")
        ]
        user._zhibu_assignments = cached
    return cached


def _scope_paths(user, action):
    """Minimal set of subtree roots where the user may perform the action."""
    paths = sorted(path for path, role, _org in _assignments(user) if action in ROLE_ACTIONS[role])
    roots = []
    for path in paths:
        if not any(path.startswith(root) for root in roots):
            roots.append(path)
    return roots


def acts_anywhere(user, action):
    """Whether the user may perform the action somewhere (no query: assignments are cached)."""
    if not user.is_authenticated:
        return False
    return user.is_superuser or bool(_scope_paths(user, action))


def group_scope_q(user, field, action=Action.VIEW):
    """The rows whose `field` (a lookup to a 党小组) is a group the user holds alone, as a 党小组组长 does, or
    None when they hold none: rows that name a member's branch but not their group (member flags) reach
    such a user only through the member."""
    if not user.is_authenticated or user.is_superuser:
        return None
    roots = [path for path, role, org in _assignments(user)
             if org.level == OrgLevel.GROUP and action in ROLE_ACTIONS[role]]  # fmt: skip
    if not roots:
        return None
    condition = Q(pk__in=[])
    for root in roots:
        condition |= Q(**{f"{field}__path__startswith": root})
    return condition


def scope_paths(user, action=Action.VIEW):
    """The paths of the subtree roots where the user may perform the action (a superuser needs none)."""
    return list(_scope_paths(user, action))


def organisations_for(user, action=Action.VIEW):
    """Queryset of every organisation where the user may perform the action."""
    qs = Organisation.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if user.is_superuser:
        return qs
    roots = _scope_paths(user, action)
    if not roots:
        return qs.none()
    condition = Q()
    for root in roots:
        condition |= Q(path__startswith=root)
    return qs.filter(condition)


def visible_branches(user, action=Action.VIEW):
    return organisations_for(user, action).filter(level=OrgLevel.BRANCH)


def can(user, organisation, action):
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return any(organisation.path.startswith(root) for root in _scope_paths(user, action))


def get_organisation_for(user, pk, action=Action.VIEW, *, levels=None):
    """The organisation with this pk if the user may see it (else 404) and act on it (else 403)."""
    qs = organisations_for(user, Action.VIEW)
    if levels:
        qs = qs.filter(level__in=levels)
    organisation = qs.filter(pk=pk).first()
    if organisation is None:
        raise Http404("没有找到该党组织，或您无权查看。")
    if action != Action.VIEW and not can(user, organisation, action):
        raise PermissionDenied("您的角色无权进行此操作。")
    return organisation


def get_branch_for(user, pk, action=Action.VIEW):
    return get_organisation_for(user, pk, action, levels=[OrgLevel.BRANCH])


def _scope_condition(user, action, via):
    roots = _scope_paths(user, action)
    condition = Q(pk__in=[])
    for field in via:
        for root in roots:
            condition |= Q(**{f"{field}__path__startswith": root})
    return condition


def scoped(queryset, user, action=Action.VIEW, *, via=("organisation",), self_field=None):
    """Rows of any queryset whose organisation (reached through any `via` lookup) is in the user's scope.

    self_field names the lookup to the row's own user (a member's account): a user always
    sees their own record, whatever their roles.
    """
    if not user.is_authenticated:
        return queryset.none()
    if user.is_superuser:
        return queryset
    condition = _scope_condition(user, action, via)
    if self_field and action == Action.VIEW:
        condition |= Q(**{self_field: user})
    return queryset.filter(condition)


def get_object_for(user, queryset, pk, action=Action.VIEW, *, via=("organisation",), self_field=None):
    """An object scoped like its organisation: 404 outside the view scope, 403 if the action is not allowed."""
    obj = scoped(queryset, user, Action.VIEW, via=via, self_field=self_field).filter(pk=pk).first()
    if obj is None:
        raise Http404("没有找到该记录，或您无权查看。")
    if action != Action.VIEW:
        organisations = [attrgetter(field.replace("__", "."))(obj) for field in via]
        if not any(org is not None and can(user, org, action) for org in organisations):
            raise PermissionDenied("您的角色无权进行此操作。")
    return obj


def scoped_accounts(user, action=Action.VIEW):
    """The accounts whose every role, and roster entry if any, lie in the user's scope for the action.

    Never one's own, a superuser's or staff's (the admin site's), one without a role (nobody's to manage),
    one whose 党员 record is elsewhere (its login reads that record), nor a peer's: an account holding the
    党委管理员 role on an organisation where the user holds theirs (colleagues do not reset each other)."""
    User = get_user_model()
    if not user.is_authenticated:
        return User.objects.none()
    accounts = User.objects.filter(is_superuser=False, is_staff=False).exclude(pk=user.pk)
    if user.is_superuser:
        return accounts.filter(Exists(RoleAssignment.objects.filter(user=OuterRef("pk"))))
    roots = _scope_paths(user, action)
    if not roots:
        return accounts.none()
    inside, on_roster_inside = Q(pk__in=[]), Q(pk__in=[])
    for root in roots:
        inside |= Q(organisation__path__startswith=root)
        on_roster_inside |= Q(member__branch__path__startswith=root)
    held = RoleAssignment.objects.filter(user=OuterRef("pk"))
    peers = held.filter(role=Role.TOWNSHIP_ADMIN, organisation__path__in=roots)
    return (
        accounts.filter(Exists(held.filter(inside)))
        .exclude(Exists(held.exclude(inside)))
        .exclude(Exists(peers))
        .filter(Q(member__isnull=True) | on_roster_inside)
    )


def peer_role(user, role, organisation):
    """Whether an account given this role would become the user's peer, which scoped_accounts leaves out
    (for viewing or managing): the 党委管理员 role on an organisation where the user's own scope starts."""
    if not user.is_authenticated or user.is_superuser or role != Role.TOWNSHIP_ADMIN:
        return False
    return organisation.path in {*_scope_paths(user, Action.VIEW), *_scope_paths(user, Action.ACCOUNTS)}


def get_account_for(user, pk, action=Action.ACCOUNTS):
    """An account in the user's view scope (else 404) that the user may manage (else 403)."""
    account = scoped_accounts(user, Action.VIEW).filter(pk=pk).first()
    if account is None:
        raise Http404("没有找到该账号，或您无权查看。")
    if action != Action.VIEW and not scoped_accounts(user, action).filter(pk=pk).exists():
        raise PermissionDenied("您的角色无权管理账号。")
    return account


# Personal data: the full 身份证号 only for those who keep the roster; phones also for those who
# need to reach members. Everyone else sees masked values.
ID_NUMBER_ROLES = frozenset({Role.TOWNSHIP_ADMIN, Role.SECRETARY})
PHONE_ROLES = ID_NUMBER_ROLES | {Role.COMMITTEE_MEMBER, Role.GROUP_LEADER, Role.INSTRUCTOR}


def may_see_personal(user, organisation, roles):
    """Whether one of the user's roles in `roles` covers the organisation."""
    return may_see_personal_at(user, organisation.path, roles)


def may_see_personal_at(user, org_path, roles):
    """may_see_personal for an organisation known only by its tree path (read alongside other rows)."""
    if user.is_superuser:
        return True
    return any(role in roles and org_path.startswith(path) for path, role, _org in _assignments(user))


def personal_q(user, roles):
    """Q of the members whose details may_see_personal shows for `roles`: those whose group or branch lies
    under an organisation where the user holds one of them (for a filter that must not reveal the rest)."""
    if user.is_superuser:
        return Q()
    condition = Q(pk__in=[])
    for path, role, _org in _assignments(user):
        if role in roles:
            condition |= Q(branch__path__startswith=path) | Q(group__path__startswith=path)
    return condition


def scope_roots(user):
    """The top organisations of the user's view scope (what their overview starts from)."""
    if user.is_superuser:
        return list(Organisation.objects.get_root_nodes())
    roots = set(_scope_paths(user, Action.VIEW))
    by_path = {}
    for path, _role, org in _assignments(user):
        if path in roots:
            by_path.setdefault(path, org)
    return list(by_path.values())


def roles_of(user):
    return {role for _path, role, _org in _assignments(user)}


def member_organisations(user):
    """Organisations where the user holds the plain 党员 role (their own branch)."""
    return [org for _path, role, org in _assignments(user) if role == Role.MEMBER]
