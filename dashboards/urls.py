from django.urls import path

from . import views

app_name = "dashboards"

urlpatterns = [
    path("", views.township, name="township"),
    path("obligations/", views.obligations, name="obligations"),
    path("pipeline/", views.pipeline_list, name="pipeline"),
    path("branch/<int:branch_pk>/", views.branch_home, name="branch"),
]
