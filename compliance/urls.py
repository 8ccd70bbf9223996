from django.urls import path

from . import views

app_name = "compliance"

urlpatterns = [
    path("", views.flag_list, name="flags"),
    path("branch/<int:branch_pk>/", views.branch_checklist, name="checklist"),
    path("settings/", views.rule_settings, name="settings"),
    path("settings/<int:pk>/withdraw/", views.setting_withdraw, name="setting_withdraw"),
    path("digest/", views.digest, name="digest"),
]
