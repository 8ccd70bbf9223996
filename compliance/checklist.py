"""A branch's obligations for the period containing a date: met (by which records), due, due soon,
overdue or not applicable (and why). Computed on read with the engine's own functions."""

from dataclasses import dataclass
from datetime import date

from branches.models import Organisation
from meetings.models import Meeting

from . import engine
from .grid import obligation_grid
from .periods import STATE_LABELS, State


@dataclass
class Row:
    rule: object
    unit_name: str
    group_id: int | None
    obligation: object
    records: list

    @property
    def state_label(self):
        return STATE_LABELS[self.obligation.state]


def branch_checklist(branch, *, on, as_of=None):
    """The obligations whose period contains `on`, judged as of `as_of` (default: `on` itself, the
    state on that day; a later date, e.g. today, shows how a past period ended)."""
    as_of = max(as_of or on, on)
    since = date(on.year, 1, 1)  # every kind of period containing `on` starts on or after 1 January
    meetings = list(
        Meeting.objects.filter(branch=branch, voided_at__isnull=True, held_on__gte=since, held_on__lte=as_of)
        .prefetch_related("types")
        .order_by("held_on")
    )
    secretaries = engine.secretaries_of([branch.pk])[branch.pk]
    return [
        Row(cell.rule, cell.unit_name, cell.group_id, cell.obligation,
            met_by(meetings, cell.rule, cell.obligation, cell.group_id, secretaries))
        for cell in obligation_grid([branch.pk], since=since, as_of=as_of)
        if cell.period.contains(on)
    ]  # fmt: skip


def group_checklist(group, *, on):
    """A 党小组's obligations for the period containing `on` (its 党小组会): its rows of its branch's
    checklist, judged with the branch's by the same grid. A dissolved group has none."""
    branch = Organisation.objects.get_parent(group)
    return [row for row in branch_checklist(branch, on=on) if row.group_id == group.pk]


def met_by(meetings, rule, obligation, group_id, secretaries=()):
    """The records among `meetings` that count towards the obligation (书记讲党课: given by the secretary)."""
    if obligation.state == State.NOT_APPLICABLE or not rule.meeting_types:
        return []
    wanted = rule.meeting_types[0]
    period = obligation.period
    return [
        m
        for m in meetings
        if wanted in {t.type for t in m.types.all()}
        and (
            m.for_year == period.start.year if rule.code == "org_life_meeting" else period.contains(m.held_on)
        )
        and (group_id is None or m.group_id == group_id)
        and (
            rule.code != "secretary_lecture" or engine.given_by_secretary(m.lecturer, m.held_on, secretaries)
        )
    ]
