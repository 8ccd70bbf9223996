from django.urls import path

from . import views

app_name = "ledgers"

urlpatterns = [
    path("", views.export_list, name="list"),
    path("branch/<int:branch_pk>/", views.branch_export, name="branch_export"),
    path("org/<int:pk>/", views.township_export, name="township_export"),
    path("<int:pk>/", views.export_detail, name="detail"),
    path("<int:pk>/status/", views.export_status, name="status"),
    path("<int:pk>/download/", views.export_download, name="download"),
]
