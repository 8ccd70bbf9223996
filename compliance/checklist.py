"""A branch's obligations for the period containing a date: met (by which records), due, due soon,
overdue or not applicable (and why). Computed on read with the engine's own functions."""

from dataclasses import dataclass
from datetime import date

from meetings.models import Meeting

from . import engine
from .models import RuleSetting
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
    branches = [branch]
    groups = [g for g in engine._groups(branches, since) if g.dissolved_on is None or g.dissolved_on > on]
    terms = engine._current_terms([branch.pk], on)
    settings = list(RuleSetting.objects.select_related("organisation").filter(effective_from__lte=on))
    by_month, org_life = engine._held([branch.pk], since, on)
    meetings = list(
        Meeting.objects.filter(branch=branch, voided_at__isnull=True, held_on__gte=since, held_on__lte=on)
        .prefetch_related("types")
        .order_by("held_on")
    )
    rows = []
    for _branch_id, group_id, org, rule, obligation in engine.obligations(
        branches, groups, terms, settings, by_month, org_life, as_of=on, since=since
    ):
        if not obligation.period.contains(on) and rule.code != "org_life_meeting":
            continue
        rows.append(Row(rule, org.name, group_id, obligation, _records(meetings, rule, obligation, group_id)))
    return rows


def _records(meetings, rule, obligation, group_id):
    if obligation.state == State.NOT_APPLICABLE:
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
