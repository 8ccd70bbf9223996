from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone

from branches.models import Role
from branches.passwords import MUST_CHANGE
from config.celery import app, clear_expired_sessions
from tests.conftest import make_user

LOGIN = "/accounts/login/"


def _attempt(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR="10.0.0.7")


@pytest.mark.django_db
def test_login_page_is_chinese(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    text = response.content.decode()
    assert "登录" in text and 'lang="zh-Hans"' in text
    assert "用户名" in text and "密码" in text


@pytest.mark.django_db
def test_the_browsers_favicon_request_finds_the_icon_signed_in_or_not(client):
    """Browsers ask for /favicon.ico on every page: it leads to the icon the pages link, never a 404 or the
    login page (nor, with a temporary password, to 修改密码 with its notice queued once more)."""
    icon = static("favicon.svg")
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == icon
    assert f'<link rel="icon" href="{icon}" type="image/svg+xml">' in client.get(LOGIN).content.decode()
    with open(finders.find("favicon.svg"), encoding="utf-8") as svg:
        assert svg.read().startswith("<svg")
    client.force_login(make_user("linshi"))
    session = client.session
    session[MUST_CHANGE] = True
    session.save()
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == icon


def test_correct_password_logs_in_and_lands_on_home(tree, client):
    make_user("shuji", Role.SECRETARY, tree.a1)
    response = _attempt(client, "shuji", "pw-Testing-123")
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.get(reverse("home"))["Location"] == reverse("dashboards:branch", args=[tree.a1.pk])


def test_wrong_password_shows_chinese_error(tree, client):
    make_user("shuji", Role.SECRETARY, tree.a1)
    response = _attempt(client, "shuji", "wrong")
    assert response.status_code == 200
    assert "请输入一个正确的用户名和密码" in response.content.decode()


def test_five_failures_lock_the_account_even_for_the_right_password(tree, client):
    make_user("shuji", Role.SECRETARY, tree.a1)
    for _ in range(4):
        assert _attempt(client, "shuji", "wrong").status_code == 200
    locked = _attempt(client, "shuji", "wrong")
    assert locked.status_code == 429
    assert "30 分钟" in locked.content.decode()
    again = _attempt(client, "shuji", "pw-Testing-123")
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_user_and_address(tree, client):
    make_user("shuji", Role.SECRETARY, tree.a1)
    make_user("weiyuan", Role.COMMITTEE_MEMBER, tree.a1)
    for _ in range(5):
        _attempt(client, "shuji", "wrong")
    # A colleague behind the same office address still gets in.
    assert _attempt(client, "weiyuan", "pw-Testing-123").status_code == 302


def test_logout_ends_the_session(tree, client):
    user = make_user("shuji", Role.SECRETARY, tree.a1)
    client.force_login(user)
    client.post(reverse("logout"))
    assert client.get(reverse("branches:tree"))["Location"].startswith(LOGIN)


def test_password_change_enforces_the_rules(tree, client):
    user = make_user("shuji", Role.SECRETARY, tree.a1)
    client.force_login(user)
    response = client.post(
        reverse("password_change"),
        {"old_password": "pw-Testing-123", "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert response.status_code == 200
    assert "密码只包含数字。" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password("pw-Testing-123")


@pytest.mark.django_db
def test_expired_sessions_are_cleared_by_the_beat_task():
    live, stale = SessionStore(), SessionStore()
    live.create()
    stale.create()
    Session.objects.filter(session_key=stale.session_key).update(
        expire_date=timezone.now() - timedelta(days=1)
    )
    assert clear_expired_sessions() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


def test_beat_schedule_names_registered_tasks():
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks
