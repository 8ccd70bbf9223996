from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from branches.admin import ReadOnlyMixin

from .models import Campaign


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyMixin, SimpleHistoryAdmin):
    """Read-only here: campaigns change through the pages, which keep the status rules."""

    list_display = ["branch", "year", "status", "campaign_on", "closed_on", "reported_on", "voided_at"]
    list_filter = ["year", "status"]
    search_fields = ["branch__name"]
