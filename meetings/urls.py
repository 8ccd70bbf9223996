from django.urls import path

from . import views

app_name = "meetings"

urlpatterns = [
    path("", views.meeting_list, name="list"),
    path("new/", views.meeting_create, name="create"),
    path("<int:pk>/", views.meeting_detail, name="detail"),
    path("<int:pk>/edit/", views.meeting_edit, name="edit"),
    path("<int:pk>/void/", views.meeting_void, name="void"),
    path("<int:pk>/review/", views.meeting_review, name="review"),
    path("<int:pk>/files/<int:attachment_pk>/", views.attachment_download, name="attachment"),
    path("talks/<int:branch_pk>/", views.talks, name="talks"),
    path("talks/<int:branch_pk>/<int:pk>/edit/", views.talk_edit, name="talk_edit"),
    path("talks/<int:branch_pk>/<int:pk>/void/", views.talk_void, name="talk_void"),
    path("lock/<int:branch_pk>/", views.year_lock, name="year_lock"),
]
