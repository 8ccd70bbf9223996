from django.urls import path

from . import views

app_name = "members"

urlpatterns = [
    path("", views.member_list, name="list"),
    path("export/", views.member_export, name="export"),
    path("new/", views.member_create, name="create"),
    path("<int:pk>/", views.member_detail, name="detail"),
    path("<int:pk>/edit/", views.member_edit, name="edit"),
    path("<int:pk>/account/", views.member_account, name="account"),
    path("<int:pk>/do/<slug:action>/", views.member_action, name="action"),
    path("<int:pk>/correct-date/", views.member_correct_date, name="correct_date"),
    path("<int:pk>/void/<slug:kind>/<int:record_pk>/", views.member_void, name="void"),
    path("import/", views.member_import, name="import"),
    path("import/<int:pk>/", views.import_detail, name="import_detail"),
    path("dues/<int:branch_pk>/", views.dues_month, name="dues_month"),
    path("training/<int:branch_pk>/", views.training_list, name="training"),
    path("training/<int:branch_pk>/new/", views.training_create, name="training_create"),
    path("training/record/<int:pk>/void/", views.training_void, name="training_void"),
]
