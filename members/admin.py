from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from branches.admin import RefreshFlagsMixin

from .models import Member, RosterImport


@admin.register(Member)
class MemberAdmin(RefreshFlagsMixin, SimpleHistoryAdmin):
    list_display = ["name", "branch", "group", "category", "status", "on_roster"]
    list_filter = ["category", "status", "on_roster"]
    search_fields = ["name", "name_initials", "phone"]
    raw_id_fields = ["branch", "group", "user"]
    readonly_fields = ["category", "status", "on_roster", "branch", "group"]

    def organisation_of(self, obj):
        return obj.branch

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RosterImport)
class RosterImportAdmin(admin.ModelAdmin):
    list_display = ["filename", "uploaded_by", "uploaded_at", "committed_at"]
    readonly_fields = ["uploaded_by", "filename", "rows", "committed_at", "mode", "strict", "outcome"]

    def has_delete_permission(self, request, obj=None):
        return False
