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

    def save_form(self, request, form, change):
        # The periods from the earlier of the stored and the new dates are judged again (read from the
        # database: a revert from the history starts its form from the version it goes back to).
        stored = RuleSetting.objects.filter(pk=form.instance.pk).values_list("effective_from", flat=True)
        before = stored.first() if change else None
        obj = super().save_form(request, form, change)
        obj._effective_before = before
        return obj

    def refresh_on_commit(self, branch_ids, obj):
        # One refresh of the subtree, as the settings page does.
        services.refresh_on_commit(branch_ids, dates=[obj.effective_from, obj._effective_before])


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
