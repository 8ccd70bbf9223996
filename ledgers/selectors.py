"""Reads of ledger exports. A file is served to the user who asked for it (with the masking of their
role), and only while they may still export that organisation; the log is readable across the scope."""

from django.http import Http404

from branches.access import Action, organisations_for

from .models import LedgerExport


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
