from django.contrib import admin

from .models import LedgerExport


@admin.register(LedgerExport)
class LedgerExportAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
