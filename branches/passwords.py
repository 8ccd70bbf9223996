"""Logging in and passwords. Temporary passwords: the office sees one once (on the account's page), and its
user must replace it at the next login before anything else (`services.holds_temporary_password`)."""

from django.contrib import messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.dispatch import receiver
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from . import services

STOPPED_ACCOUNT = "该账号已停用，请联系党委管理员。"


class LoginForm(auth_forms.AuthenticationForm):
    """Django's, which also tells the user of a stopped account (set_account_active) why they cannot log in,
    but only when the password was right: a wrong one gets the usual message, whether the name exists or
    not. ModelBackend turns an inactive user away before confirm_login_allowed is reached (and letting
    it through, as AllowAllUsersModelBackend does, would also keep a stopped account's sessions), so the
    password is checked here once the backends have refused."""

    error_messages = {**auth_forms.AuthenticationForm.error_messages, "inactive": STOPPED_ACCOUNT}

    @sensitive_variables()
    def get_invalid_login_error(self):
        if not getattr(self.request, "axes_locked_out", False):  # django-axes shows its own page then
            username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
            User = get_user_model()
            user = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
            if user is not None and not user.is_active and user.check_password(password):
                return ValidationError(self.error_messages["inactive"], code="inactive")
        return super().get_invalid_login_error()


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's, which also refuses the old password as the new one: replacing the temporary password the
    office set with itself would lift the forced change and keep a password the office has seen."""

    @sensitive_variables()
    def clean(self):
        data = super().clean()
        old, new = data.get("old_password"), data.get("new_password1")
        if old and new and old == new:
            self.add_error("new_password1", "新密码不能与原密码相同。")
        return data


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

    form_class = PasswordChangeForm

    def form_valid(self, form):
        response = super().form_valid(form)
        services.record_own_password_change(account=self.request.user)
        self.request.session.pop(MUST_CHANGE, None)
        return response
