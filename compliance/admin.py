from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from branches.admin import ReadOnlyMixin, RefreshFlagsMixin

from . import services
from .models import Flag, RefreshRun, RuleSetting


@admin.register(RuleSetting)
class RuleSettingAdmin(RefreshFlagsMixin, SimpleHistoryAdmin):
    list_display = ["organisation", "rule", "enabled", "count", "period_kind", "effective_from"]
    list_filter = ["rule", "enabled"]
    autocomplete_fields = ["organisation"]

    def has_delete_permission(self, request, obj=None):
        return False

    def refresh_on_commit(self, branch_ids, obj):
        # One refresh of the subtree, as the settings page does, from the earlier of the stored date (read
        # from the database before the save: a revert from the history starts its form from the version
        # it goes back to) and the new one.
        stored = getattr(getattr(obj, "_before", None), "effective_from", None)
        services.refresh_on_commit(branch_ids, dates=[obj.effective_from, stored])


@admin.register(Flag)
class FlagAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Flags are the engine's: readable here, never edited or deleted by hand."""

    list_display = ["message", "rule", "state", "branch", "raised_on", "resolved_on"]
    list_filter = ["rule", "state"]
    search_fields = ["message", "branch__name"]


@admin.register(RefreshRun)
class RefreshRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """When the county's flags were last judged, and what each run changed."""

    list_display = ["kind", "as_of", "finished_at", "raised", "resolved"]
    list_filter = ["kind"]
