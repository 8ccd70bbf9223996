"""Reads of ledger exports. A file is served to the user who asked for it (with the masking of their
role), and only while they may still export that organisation; the log is readable across the scope."""

from datetime import date

from django.db.models import OuterRef, Subquery
from django.http import Http404
from django.utils import timezone

from branches.access import Action, organisations_for
from branches.models import Organisation, OrgLevel
from compliance.engine import default_since
from compliance.models import RefreshRun
from meetings.models import Meeting

from .models import LedgerExport

YEARS_BACK = 6  # the oldest ledger offered, however old the records


def own_exports(user):
    qs = LedgerExport.objects.select_related("organisation", "created_by")
    if user.is_superuser:
        return qs
    return qs.filter(created_by=user, organisation__in=organisations_for(user, Action.EXPORT))


def get_export_for(user, pk):
    export = own_exports(user).filter(pk=pk).first()
    if export is None:
        raise Http404("没有找到该导出记录，或您无权查看。")
    return export


def export_log(user):
    """Every export of organisations in the user's export scope (who, what, when)."""
    return LedgerExport.objects.filter(
        organisation__in=organisations_for(user, Action.EXPORT)
    ).select_related("organisation", "created_by")


def _first_years(organisations, meetings, today):
    """{pk: first year} of the organisations, with the meetings (a subquery on the organisation row) that
    count for each. One query."""
    runs = RefreshRun.objects.exclude(kind=RefreshRun.Kind.PARTIAL)  # a run of some branches judged them only
    rows = organisations.annotate(
        first_meeting=Subquery(meetings.order_by("held_on").values("held_on")[:1]),
        first_run=Subquery(runs.order_by("as_of").values("as_of")[:1]),
        first_since=Subquery(runs.exclude(since=None).order_by("since").values("since")[:1]),
    ).values_list("pk", "founded_on", "first_meeting", "first_run", "first_since")
    found = {}
    for pk, founded_on, first_meeting, first_run, first_since in rows:
        # compliance.services.first_judged: the earliest period a county-wide refresh judged, 1 January of
        # the year before its day unless it was given an earlier start; before any ran, of last year.
        judged = min(default_since(first_run or today), first_since or date.max)
        found[pk] = min(today.year, max(founded_on.year, min(judged, first_meeting or date.max).year))
    return found


def first_record_years(branches, *, today=None):
    """{branch pk: the first year of the system's records of the branch}: the year of its first meeting or
    the first year the compliance engine judged, whichever is earlier, not before the branch was founded.
    A ledger of an earlier year lists no records and, judged now, reports every obligation 逾期未完成: a
    year before the records, not a year of failures. One query for all the branches."""
    today = today or timezone.localdate()
    meetings = Meeting.objects.filter(voided_at__isnull=True, branch_id=OuterRef("pk"))
    return _first_years(Organisation.objects.filter(pk__in=[b.pk for b in branches]), meetings, today)


def first_ledger_year(organisation, *, today=None):
    """The first year offered for the organisation's 台账 (a branch's, or a 党委's over its subtree): the
    first year of its records (first_record_years; a 党委's first meeting is its branches'), and at most
    YEARS_BACK years back. One query."""
    today = today or timezone.localdate()
    meetings = Meeting.objects.filter(voided_at__isnull=True)
    if organisation.level == OrgLevel.BRANCH:
        meetings = meetings.filter(branch_id=OuterRef("pk"))
    else:
        meetings = meetings.filter(branch__path__startswith=organisation.path)
    first = _first_years(Organisation.objects.filter(pk=organisation.pk), meetings, today)[organisation.pk]
    return max(first, today.year - YEARS_BACK)
