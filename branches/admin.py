from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from .models import CommitteePosition, CommitteeTerm, Organisation, RoleAssignment
from .services import refresh_organisations_on_commit


class NoDeleteMixin:
    """Records are dissolved or voided in the application, never deleted."""

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyMixin(NoDeleteMixin):
    """Records that only the application writes (flags, exports, campaigns): shown, never edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RefreshFlagsMixin:
    """An edit saved here bypasses the application's services, which refresh the compliance flags of the
    branches they touch once committed: so does this, or the edit would show on the work list only
    when a night next judges its rules. `organisation_of(obj)`: the branch, group or 党委 it touches."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        refresh_organisations_on_commit(self.organisation_of(obj))

    def organisation_of(self, obj):
        return obj.organisation


@admin.register(Organisation)
class OrganisationAdmin(RefreshFlagsMixin, NoDeleteMixin, SimpleHistoryAdmin, TreeAdmin):
    form = movenodeform_factory(Organisation)
    list_display = ["name", "level", "kind", "founded_on", "merged_group", "dissolved_on"]
    list_filter = ["level", "kind", "merged_group"]
    search_fields = ["name"]

    def organisation_of(self, obj):
        return obj


class CommitteePositionInline(admin.TabularInline):
    model = CommitteePosition
    extra = 0

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CommitteeTerm)
class CommitteeTermAdmin(RefreshFlagsMixin, NoDeleteMixin, SimpleHistoryAdmin):
    list_display = ["organisation", "elected_on", "ends_on"]
    search_fields = ["organisation__name"]
    autocomplete_fields = ["organisation"]
    inlines = [CommitteePositionInline]


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(SimpleHistoryAdmin):
    list_display = ["user", "organisation", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__first_name", "organisation__name"]
    autocomplete_fields = ["user", "organisation"]

    def get_readonly_fields(self, request, obj=None):
        # A grant is made or withdrawn, never moved: each township's 操作记录 (scoped by the grant's
        # organisation) then shows its own side of a change, a 新增 in one and a 删除 in the other.
        return ["user", "organisation", "role"] if obj is not None else []
