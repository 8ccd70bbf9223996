"""The database fails in the middle of a write: all or nothing is saved, the user gets a Chinese error page,
and the next request works again."""

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.core.handlers.wsgi import WSGIHandler
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections
from django.test import Client, RequestFactory
from django.urls import reverse

from branches.models import Role
from compliance.models import Flag
from meetings import services as meeting_services
from meetings.models import Attendance, Meeting, MeetingTypeTag
from tests.faults.conftest import hidden_value, meeting_form

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="pg_terminate_backend is PostgreSQL's"
)


def saved_rows():
    """What a half-saved meeting would leave behind: the record, its types, its attendance, their history."""
    return {
        "meeting": Meeting.objects.count(),
        "types": MeetingTypeTag.objects.count(),
        "attendance": Attendance.objects.count(),
        "meeting history": Meeting.history.count(),
        "attendance history": Attendance.history.count(),
    }


UNAVAILABLE = "数据库暂时不可用，请稍后重试；您的数据未保存"
NOTHING_SAVED = dict.fromkeys(["meeting", "types", "attendance", "meeting history", "attendance history"], 0)


def failing_attendance_insert(monkeypatch, error):
    """The attendance rows are the last big insert of a meeting: by then the meeting and its history exist.

    Returns the rows saved when the error struck."""
    real = meeting_services.bulk_create_with_history
    saved_when_it_failed = []

    def insert(objs, model, *args, **kwargs):
        if model is Attendance:
            saved_when_it_failed.append(saved_rows())
            raise error
        return real(objs, model, *args, **kwargs)

    monkeypatch.setattr(meeting_services, "bulk_create_with_history", insert)
    return saved_when_it_failed


@pytest.mark.parametrize(
    ("error", "status", "words"),
    [
        (OperationalError("server closed the connection unexpectedly"), 503, UNAVAILABLE),
        (InterfaceError("connection already closed"), 503, UNAVAILABLE),
        (RuntimeError("a bug"), 500, "您刚才的操作没有保存"),
    ],
    ids=["connection-dropped", "connection-closed", "not-the-database"],
)
def test_database_error_mid_write_rolls_back_the_whole_meeting_and_shows_a_chinese_error_page(
    personas, branch, monkeypatch, django_capture_on_commit_callbacks, error, status, words
):
    client = Client(raise_request_exception=False)
    client.force_login(personas[Role.SECRETARY])
    url, data = meeting_form(client, branch)
    saved_when_it_failed = failing_attendance_insert(monkeypatch, error)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(url, data)
    assert not settings.DEBUG
    assert saved_when_it_failed == [{**NOTHING_SAVED, "meeting": 1, "types": 1, "meeting history": 1}]
    assert response.status_code == status and words in response.content.decode()
    assert ("Retry-After" in response) == (status == 503)
    assert saved_rows() == NOTHING_SAVED
    # No refresh was scheduled for a write that never was.
    assert callbacks == [] and not Flag.objects.exists()


def test_database_down_before_the_view_still_shows_the_chinese_page(personas, monkeypatch):
    """The session is the first thing read: the page must render without the database."""
    client = Client(raise_request_exception=False)
    client.force_login(personas[Role.SECRETARY])

    def unreachable(self):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    monkeypatch.setattr(SessionStore, "load", unreachable)
    response = client.get(reverse("meetings:list"))
    assert response.status_code == 503 and "数据库暂时不可用" in response.content.decode()


class Browser:
    """Requests through Django's WSGI handler as gunicorn makes them. Unlike the test client, it keeps the
    request_started/finished signals that close a broken connection and health-check a kept one."""

    def __init__(self, client):
        self.cookies = {name: morsel.value for name, morsel in client.cookies.items()}

    def request(self, method, path, data=None):
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        environ = getattr(RequestFactory(), method)(path, data or {}, HTTP_COOKIE=cookie).environ
        response = WSGIHandler()(environ, lambda status, headers, exc_info=None: None)
        try:
            body = b"".join(response).decode()
        finally:
            response.close()  # sends request_finished, as the WSGI server does
        self.cookies.update({name: morsel.value for name, morsel in response.cookies.items()})
        return response, body


def terminate_backend_of(conn):
    """Kill the server process behind `conn` from a second connection, as a DBA or a failover would."""
    pid = conn.connection.info.backend_pid
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])  # waits until it is gone
    finally:
        other.close()


@pytest.fixture
def browser(personas):
    client = Client()
    client.force_login(personas[Role.SECRETARY])
    return Browser(client)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_backend_killed_mid_write_saves_nothing_shows_503_and_the_next_request_works(
    browser, branch, monkeypatch
):
    url = reverse("meetings:create") + f"?branch={branch.pk}"
    _response, form = browser.request("get", url)
    data = {
        "csrfmiddlewaretoken": hidden_value(form, "csrfmiddlewaretoken"), "token": hidden_value(form, "token"),
        "types": "theme_day", "held_on": hidden_value(form, "held_on"), "topic": "主题党日学习",
        "rect-TOTAL_FORMS": "3", "rect-INITIAL_FORMS": "0",
        **{f"att_{member.pk}": "present" for member in branch.people},
    }  # fmt: skip
    real = meeting_services.bulk_create_with_history

    def killed_midway(objs, model, *args, **kwargs):
        if model is Attendance:
            terminate_backend_of(connection)
        return real(objs, model, *args, **kwargs)

    monkeypatch.setattr(meeting_services, "bulk_create_with_history", killed_midway)
    response, page = browser.request("post", url, data)
    assert response.status_code == 503 and UNAVAILABLE in page
    monkeypatch.undo()
    assert saved_rows() == NOTHING_SAVED
    response, _page = browser.request("get", reverse("meetings:list"))
    assert response.status_code == 200
    response, _page = browser.request("post", url, data)  # the user submits the same form again
    assert response.status_code == 302
    assert saved_rows()["attendance"] == len(branch.people) and Meeting.objects.count() == 1


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_backend_killed_between_requests_the_next_request_reconnects(browser, branch):
    """A kept connection (CONN_MAX_AGE) whose server went away is found dead by CONN_HEALTH_CHECKS and replaced."""
    response, _page = browser.request("get", reverse("meetings:list"))
    assert response.status_code == 200 and connection.connection is not None  # kept for the next request
    terminate_backend_of(connection)
    response, page = browser.request("get", reverse("branches:detail", args=[branch.pk]))
    assert response.status_code == 200 and "甲社区第一党支部" in page
