from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from branches import views as branch_views
from branches.passwords import LoginForm, PasswordChangeView

admin.site.site_header = "支部组织生活管理 · 系统管理"
admin.site.site_title = "支部组织生活管理"
admin.site.index_title = "数据维护"


class FaviconView(RedirectView):
    """Browsers ask for /favicon.ico whatever the page links: send them to the icon the pages link (its
    hashed name in production, so resolved per request; not permanent, as that name changes with the icon)."""

    def get_redirect_url(self, *args, **kwargs):
        return static("favicon.svg")


urlpatterns = [
    path("", branch_views.home, name="home"),
    path("favicon.ico", login_not_required(FaviconView.as_view()), name="favicon"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True, authentication_form=LoginForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("orgs/", include("branches.urls")),
    path("members/", include("members.urls")),
    path("meetings/", include("meetings.urls")),
    path("todo/", include("compliance.urls")),
    path("reviews/", include("evaluations.urls")),
    path("ledgers/", include("ledgers.urls")),
    path("dashboard/", include("dashboards.urls")),
    path("audit/", include("audit.urls")),
    path("admin/", admin.site.urls),
]

handler500 = "config.errors.server_error"
