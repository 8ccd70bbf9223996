from django.contrib import admin

from branches.admin import ReadOnlyMixin

from .models import LedgerExport


@admin.register(LedgerExport)
class LedgerExportAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The export log, read-only: who exported what, when."""

    list_display = [
        "created_at",
        "created_by",
        "organisation",
        "year",
        "kind",
        "status",
        "rows",
        "full_id_numbers",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["organisation__name", "created_by__username"]
    exclude = ["file"]
