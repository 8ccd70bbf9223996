from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path("", views.audit_log, name="log"),
    path("meeting/<int:pk>/", views.meeting_history, name="meeting"),
    path("member/<int:pk>/", views.member_history, name="member"),
]
