from django.urls import path

from . import views

app_name = "reviews"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("branch/<int:branch_pk>/", views.branch_campaigns, name="branch"),
    path("branch/<int:branch_pk>/open/", views.open_campaign, name="open"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("<int:pk>/results/", views.campaign_results, name="results"),
    path("<int:pk>/close/", views.campaign_close, name="close"),
    path("<int:pk>/report/", views.campaign_report, name="report"),
    path("<int:pk>/return/", views.campaign_return, name="return"),
    path("<int:pk>/reopen/", views.campaign_reopen, name="reopen"),
    path("<int:pk>/void/", views.campaign_void, name="void"),
    path("<int:pk>/followups/new/<int:participant_pk>/", views.followup_add, name="followup_add"),
    path("followups/<int:pk>/close/", views.followup_close, name="followup_close"),
]
