"""Temporary passwords: the office sees one once (on the account's page), and its user must replace it at
the next login before anything else (`services.holds_temporary_password`)."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.shortcuts import redirect
from django.urls import reverse

from . import services

MUST_CHANGE = "must_change_password"  # session key, set at login (one query then, none per request)
SHOW_ONCE = "account_shown_once"  # session key: a new password, until the account's page shows it


def show_password_once(request, account, password):
    # Kept in the server-side session until the account's page shows it, never in a cookie or a URL.
    request.session[SHOW_ONCE] = {"account": account.pk, "password": password}


def password_to_show(request, account):
    shown = request.session.get(SHOW_ONCE)
    if shown and shown.get("account") == account.pk:
        del request.session[SHOW_ONCE]
        return shown["password"]
    return None


@receiver(user_logged_in)
def remember_temporary_password(sender, request, user, **kwargs):
    if request is not None and services.holds_temporary_password(user):
        request.session[MUST_CHANGE] = True


class TemporaryPasswordMiddleware:
    """Until a temporary password is replaced, every page but the password change (and logging out) sends
    the user there. The browser's own request for the icon is let through: it is no page, and would queue
    the notice once more."""

    ALLOWED = ("password_change", "password_change_done", "logout", "favicon")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.session.get(MUST_CHANGE) and request.user.is_authenticated:
            allowed = {reverse(name) for name in self.ALLOWED}
            if request.path not in allowed:
                messages.info(request, "您正在使用管理员设置的临时密码，请先修改为自己的密码。")
                return redirect("password_change")
        return self.get_response(request)


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's, which also records the change and lifts the temporary-password redirect."""

    def form_valid(self, form):
        response = super().form_valid(form)
        services.record_own_password_change(account=self.request.user)
        self.request.session.pop(MUST_CHANGE, None)
        return response
