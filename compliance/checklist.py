"""A branch's obligations for the period containing a date: met (by which records), due, due soon,
overdue or not applicable (and why). Computed on read with the engine's own functions."""

from dataclasses import dataclass
from datetime import date

from meetings.models import Meeting

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


def branch_checklist(branch, *, on):
    since = date(on.year, 1, 1)  # every kind of period containing `on` starts on or after 1 January
    meetings = list(
        Meeting.objects.filter(branch=branch, voided_at__isnull=True, held_on__gte=since, held_on__lte=on)
        .prefetch_related("types")
        .order_by("held_on")
    )
    return [
        Row(cell.rule, cell.unit_name, cell.group_id, cell.obligation,
            _records(meetings, cell.rule, cell.obligation, cell.group_id))
        for cell in obligation_grid([branch.pk], since=since, as_of=on)
        if cell.period.contains(on) or cell.rule.code == "org_life_meeting"
    ]  # fmt: skip


def _records(meetings, rule, obligation, group_id):
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
    ]
