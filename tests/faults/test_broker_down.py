"""Redis (the Celery broker) down: writes, pages, logins and exports still work, the work done in-process.

The tests send tasks for real (not eagerly) to a broker URL nothing answers, with the transport
settings config/settings.py gives a deployment. The monkeypatched variants live with their
features: tests/compliance/test_engine.py (refresh) and tests/ledgers/test_views.py (export).
"""

import json
import logging
import os
import socket
import threading
import time
from io import BytesIO
from urllib.parse import urlsplit

import pytest
import redis
from django.urls import reverse
from kombu.exceptions import OperationalError
from openpyxl import load_workbook

from branches.models import Role
from compliance import services as compliance_services
from compliance.models import Flag, Lease
from ledgers import tasks as ledger_tasks
from ledgers.models import ExportStatus, LedgerExport
from meetings.models import Meeting
from tests.faults.conftest import celery_sending_to, meeting_form
from tests.ledgers.conftest import YEAR


@pytest.fixture
def secretary(client, personas):
    client.force_login(personas[Role.SECRETARY])
    return client


def test_broker_down_a_meeting_logged_on_the_form_is_saved_and_its_flags_refreshed_in_process(
    secretary, branch, broker_down, caplog, django_capture_on_commit_callbacks
):
    url, data = meeting_form(secretary, branch)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        response = secretary.post(url, data)
    elapsed = time.monotonic() - started
    meeting = Meeting.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "meetings:detail", args=[meeting.pk]
    )
    assert meeting.attendance.count() == len(branch.people)
    assert "消息队列不可用，改为在本进程内刷新" in caplog.text  # the fallback, not the worker, did it
    assert Flag.objects.filter(branch=branch).exists()
    # The pending-refresh lease is free again, so the next write schedules its own refresh.
    assert Lease.objects.get(name=compliance_services.pending_refresh(branch.pk)).held_until is None
    print(f"broker down: the meeting write returned in {elapsed:.2f} s")


def test_broker_down_login_and_pages_work(client, personas, branch, broker_down):
    login = client.post(reverse("login"), {"username": Role.SECRETARY.value, "password": "pw-Testing-123"})
    assert login.status_code == 302
    for name, args in [("home", []), ("branches:detail", [branch.pk]), ("meetings:list", []),
                       ("compliance:flags", []), ("dashboards:branch", [branch.pk])]:  # fmt: skip
        response = client.get(reverse(name, args=args), follow=True)
        assert response.status_code == 200, name
        assert "甲社区第一党支部" in response.content.decode(), name


def test_broker_down_a_ledger_export_runs_in_process_and_its_file_downloads(
    secretary, ledger_branch, broker_down
):
    response = secretary.post(
        reverse("ledgers:branch_export", args=[ledger_branch.pk]), {"year": YEAR}, follow=True
    )
    export = LedgerExport.objects.get()
    assert export.status == ExportStatus.DONE and export.ran_inline
    assert "已在本机直接生成" in response.content.decode()
    download = secretary.get(reverse("ledgers:download", args=[export.pk]))
    book = load_workbook(BytesIO(b"".join(download.streaming_content)))
    assert "党员名册" in book.sheetnames and book["党员名册"].max_row > 1


@pytest.fixture
def silent_broker():
    """A server that accepts connections and never answers: Redis hung, or a host behind a dead NAT."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


def test_broker_that_never_answers_makes_the_enqueue_give_up_instead_of_hanging(silent_broker, monkeypatch):
    """Without socket timeouts in the broker settings a request that enqueues waits for ever."""
    outcome = []

    def enqueue():
        try:
            ledger_tasks.run_export_task.delay(0)
            outcome.append("sent")
        except OperationalError as error:
            outcome.append(error)

    with celery_sending_to(silent_broker, monkeypatch):
        worker = threading.Thread(target=enqueue, daemon=True)
        worker.start()
        worker.join(timeout=60)  # a guard for the suite; the settings give up within seconds
    assert outcome and isinstance(outcome[0], OperationalError)


BROKER = os.environ.get("CELERY_BROKER_URL", "")


@pytest.mark.skipif(not BROKER.startswith("redis://"), reason="needs CELERY_BROKER_URL=redis://…")
def test_broker_up_the_write_queues_the_refresh_instead_of_running_it(
    secretary, branch, monkeypatch, django_capture_on_commit_callbacks
):
    """The control for the tests above: with Redis answering, the refresh goes to the worker."""
    # Another database of the configured server than the one the suite's own tasks go to (CI gives
    # the suite /15), emptied before and after so earlier sends cannot be counted here.
    configured = int(urlsplit(BROKER).path.strip("/") or 0)
    broker_url = urlsplit(BROKER)._replace(path=f"/{(configured + 1) % 16}").geturl()
    queue = redis.Redis.from_url(broker_url)
    queue.delete("celery", "_kombu.binding.celery", "_kombu.binding_permanent.celery")
    form_url, data = meeting_form(secretary, branch)
    with celery_sending_to(broker_url, monkeypatch), django_capture_on_commit_callbacks(execute=True):
        assert secretary.post(form_url, data).status_code == 302
    try:
        assert queue.llen("celery") == 1
        assert json.loads(queue.lindex("celery", 0))["headers"]["task"] == "compliance.tasks.refresh_branch"
        assert not Flag.objects.filter(branch=branch).exists()  # the worker, not this process, will refresh
    finally:
        queue.delete("celery", "_kombu.binding.celery", "_kombu.binding_permanent.celery")
