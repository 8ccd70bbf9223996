from django.urls import path

from . import views

app_name = "branches"

urlpatterns = [
    path("", views.organisation_tree, name="tree"),
    path("<int:pk>/", views.organisation_detail, name="detail"),
    path("<int:pk>/new/", views.organisation_create, name="create"),
    path("<int:pk>/edit/", views.organisation_edit, name="edit"),
    path("<int:pk>/move/", views.organisation_move, name="move"),
    path("<int:pk>/dissolve/", views.organisation_dissolve, name="dissolve"),
    path("<int:pk>/terms/new/", views.term_create, name="term_create"),
    path("terms/<int:pk>/edit/", views.term_edit, name="term_edit"),
    path("accounts/", views.account_list, name="accounts"),
    path("accounts/new/", views.account_create, name="account_create"),
    path("accounts/<int:pk>/", views.account_detail, name="account_detail"),
    path("accounts/<int:pk>/roles/<int:assignment_pk>/revoke/", views.account_revoke, name="account_revoke"),
    path("accounts/<int:pk>/password/", views.account_password, name="account_password"),
    path("accounts/<int:pk>/email/", views.account_email, name="account_email"),
    path("accounts/<int:pk>/active/", views.account_active, name="account_active"),
]
