"""Fault fixtures: a Celery app pointed at a broker for real (not eager), the meeting form, flag snapshots."""

import importlib.util
import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone
from kombu import pools

from compliance.models import Flag
from config.celery import app
from tests.ledgers.conftest import ledger_branch  # noqa: F401  (fixture)

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1: the connection is refused
CELERY_KEYS = ("broker_url", "broker_transport_options", "task_publish_retry_policy", "task_always_eager")


def deployed_settings(monkeypatch, **environment):
    """config/settings.py as it loads in a deployment with these environment variables."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    path = Path(django_settings.BASE_DIR) / "config" / "settings.py"
    spec = importlib.util.spec_from_file_location("_deployed_settings", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def settings_for_broker(url, monkeypatch):
    return deployed_settings(monkeypatch, CELERY_BROKER_URL=url)


def _forget_connections():
    pools.reset()  # closes and forgets kombu's pools, keyed by broker URL
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def celery_sending_to(url, monkeypatch):
    """Tasks are sent to `url` for real, with the transport settings a deployment would have."""
    deployed = settings_for_broker(url, monkeypatch)
    saved = {key: app.conf[key] for key in CELERY_KEYS}
    app.conf.update(
        broker_url=url,
        broker_transport_options=deployed.CELERY_BROKER_TRANSPORT_OPTIONS,
        task_publish_retry_policy=deployed.CELERY_TASK_PUBLISH_RETRY_POLICY,
        task_always_eager=False,
    )
    _forget_connections()
    try:
        yield
    finally:
        app.conf.update(saved)
        _forget_connections()


@pytest.fixture
def broker_down(monkeypatch):
    with celery_sending_to(UNREACHABLE_BROKER, monkeypatch):
        yield


def flag_rows():
    """Every flag as a user would compare two runs: what, about whom, which period, its state, open or not."""
    return sorted(
        Flag.objects.values_list(
            "rule", "key", "branch_id", "group_id", "member_id", "period_start", "state", "raised_on",
            "resolved_on",
        ),
        key=repr,
    )  # fmt: skip


def meeting_form(client, organisation, **fields):
    """(url, data) of the 记录会议 form as the page offers it, everyone present, ready to post."""
    url = reverse("meetings:create") + f"?branch={organisation.pk}"
    page = client.get(url)
    data = {
        "types": ["theme_day"], "held_on": timezone.localdate().isoformat(), "topic": "主题党日学习",
        "token": page.context["form"].initial["token"], "rect-TOTAL_FORMS": "3", "rect-INITIAL_FORMS": "0",
    }  # fmt: skip
    data.update({f"att_{row['row'].member_id}": "present" for row in page.context["grid"]})
    data.update(fields)
    return url, data


def hidden_value(html, name):
    return re.search(rf'name="{name}" value="([^"]+)"', html).group(1)
