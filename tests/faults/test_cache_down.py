"""The shared cache (CACHE_URL, Redis) down: every page still answers, computing what it would have read.

The settings are loaded as a deployment with CACHE_URL loads them (config/settings.py, django-redis with
IGNORE_EXCEPTIONS); nothing listens on port 1, so every cache call is refused."""

import os
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.urls import reverse

from branches.models import Role
from compliance import grid
from dashboards import selectors, tasks
from meetings.models import Meeting
from tests.faults.conftest import deployed_settings, meeting_form


def deployed_caches(url, monkeypatch):
    return deployed_settings(monkeypatch, CACHE_URL=url).CACHES


@pytest.fixture
def cache_down(monkeypatch):
    with override_settings(CACHES=deployed_caches("redis://127.0.0.1:1/1", monkeypatch)):
        yield


def test_cache_down_login_pages_and_writes_work(client, personas, branch, cache_down):
    assert (
        client.post(
            reverse("login"), {"username": Role.SECRETARY.value, "password": "pw-Testing-123"}
        ).status_code
        == 302
    )
    for name, args in [("home", []), ("branches:detail", [branch.pk]), ("meetings:list", []),
                       ("compliance:flags", []), ("dashboards:branch", [branch.pk])]:  # fmt: skip
        response = client.get(reverse(name, args=args), follow=True)
        assert response.status_code == 200, name
        assert "甲社区第一党支部" in response.content.decode(), name
    url, data = meeting_form(client, branch)
    assert client.post(url, data).status_code == 302
    assert Meeting.objects.filter(branch=branch).count() == 1


def test_cache_down_the_overview_is_computed_and_the_night_warm_up_does_not_fail(
    client, personas, branch, cache_down
):
    assert tasks.cache_is_shared()
    assert tasks.warm_overviews.apply().get() == {"branches": 3}  # counted; the writes are dropped
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    response = client.get(reverse("dashboards:township"))
    assert response.status_code == 200 and "甲村党支部" in response.content.decode()


def test_without_a_shared_cache_the_warm_up_stands_aside(db):
    assert not tasks.cache_is_shared()  # the tests' own cache: this process only
    assert "skipped" in tasks.warm_overviews.apply().get()


def test_a_cache_url_that_is_not_redis_is_refused(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL"):
        deployed_caches("memcached://127.0.0.1:11211", monkeypatch)


BROKER = os.environ.get("CELERY_BROKER_URL", "")


@pytest.mark.skipif(not BROKER.startswith("redis://"), reason="needs CELERY_BROKER_URL=redis://…")
def test_counts_warmed_into_redis_are_read_back_from_it(branch, monkeypatch):
    """What the worker writes at night, a web worker reads in the morning: the same keys through Redis."""
    configured = int(urlsplit(BROKER).path.strip("/") or 0)
    url = urlsplit(BROKER)._replace(path=f"/{(configured + 2) % 16}").geturl()
    with override_settings(CACHES=deployed_caches(url, monkeypatch)):
        cache.clear()
        try:
            as_of = branch.founded_on.replace(year=2026, month=11, day=25)
            selectors.warm_counts(as_of=as_of)
            monkeypatch.setattr(grid, "obligation_grid", lambda *a, **k: pytest.fail("evaluated again"))
            first = selectors.first_counted(selectors.chosen_period(None, as_of), as_of)
            counts = grid.counts_by_branch(
                [branch.pk], since=grid.grid_since(first), as_of=as_of, ending_from=first
            )
            assert counts[branch.pk]  # obligations counted by month and rule
        finally:
            cache.clear()
