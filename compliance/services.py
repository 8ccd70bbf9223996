from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from . import engine
from .models import Lease

LEASE_NAME = "nightly_refresh"
LEASE_LENGTH = timedelta(hours=1)


def take_lease(name, *, now=None):
    """True if this caller now holds the lease: one conditional UPDATE, safe across processes."""
    now = now or timezone.now()
    Lease.objects.get_or_create(name=name)
    taken = Lease.objects.filter(Q(held_until__isnull=True) | Q(held_until__lt=now), name=name).update(
        held_until=now + LEASE_LENGTH
    )
    return taken == 1


def release_lease(name):
    Lease.objects.filter(name=name).update(held_until=None)


def refresh_all_with_lease(*, as_of):
    if not take_lease(LEASE_NAME):
        return {"skipped": "另一次刷新正在进行"}
    try:
        return engine.refresh(as_of=as_of)
    finally:
        release_lease(LEASE_NAME)
