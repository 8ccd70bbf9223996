"""Reads of flags, scoped through branches.access."""

from django.db.models import Case, IntegerField, Value, When

from branches.access import Action, scoped

from .models import Flag, FlagState

# Overdue first, then what is due soon, then record-quality warnings.
PRIORITY = Case(
    When(state=FlagState.OVERDUE, then=Value(0)),
    When(state=FlagState.DUE_SOON, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def by_priority(queryset):
    return queryset.annotate(priority=PRIORITY).order_by("priority", "branch__path", "-period_start", "pk")


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
    return by_priority(qs.select_related("branch", "member", "meeting"))
