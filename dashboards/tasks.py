from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import selectors

PROCESS_LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def cache_is_shared():
    """Whether what the worker puts in the cache is there for the web processes (CACHE_URL set)."""
    return settings.CACHES["default"]["BACKEND"] not in PROCESS_LOCAL_CACHES


@shared_task(acks_late=True)
def warm_overviews():
    """The overview counts of every branch for today, computed before the township office opens the page."""
    if not cache_is_shared():
        return {"skipped": "缓存只在本进程内（未设置 CACHE_URL），预先计算对网页进程无益"}
    return {"branches": selectors.warm_counts(as_of=timezone.localdate())}
