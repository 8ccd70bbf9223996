"""Reads of flags, scoped through branches.access."""

from branches.access import Action, scoped

from .models import Flag


def open_flags(user):
    return scoped(Flag.objects.filter(resolved_on__isnull=True), user, Action.VIEW, via=("branch", "group"))


def flag_list(user, *, branch=None, rule=None, state=None, include_resolved=False):
    qs = scoped(Flag.objects.all(), user, Action.VIEW, via=("branch", "group"))
    if not include_resolved:
        qs = qs.filter(resolved_on__isnull=True)
    if branch:
        qs = qs.filter(branch=branch)
    if rule:
        qs = qs.filter(rule=rule)
    if state:
        qs = qs.filter(state=state)
    return qs.select_related("branch", "member", "meeting").order_by(
        "-state", "branch__path", "-period_start", "pk"
    )
