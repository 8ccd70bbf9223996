from datetime import date

from celery import shared_task
from django.utils import timezone

from . import engine, services


@shared_task(acks_late=True)
def refresh_branch(branch_id, since=None):
    """since: ISO date of the first periods to judge again (a write dated in an earlier year), or None."""
    since = date.fromisoformat(since) if since else None
    # Released before reading, so a write that commits during the refresh schedules the next one.
    services.release_lease(services.pending_refresh(branch_id, since))
    return engine.refresh(as_of=timezone.localdate(), branch_ids=[branch_id], since=since)


@shared_task(acks_late=True)
def refresh_branches(branch_ids, since=None):
    """A subtree judged again after a local setting changed (`services.refresh_on_commit`)."""
    since = date.fromisoformat(since) if since else None
    return services.refresh_subtree(branch_ids, as_of=timezone.localdate(), since=since)


@shared_task(acks_late=True)
def nightly_refresh():
    """Time passing raises flags with no write: a month ends, a term expires. One run at a time."""
    return services.refresh_all_with_lease(as_of=timezone.localdate(), time_only=True)


@shared_task(acks_late=True)
def weekly_refresh():
    """Everything judged again, record warnings included: a safety net for data changed outside the
    application's writes (the admin site, a restored backup, a shell)."""
    return services.refresh_all_with_lease(as_of=timezone.localdate())


@shared_task(acks_late=True)
def send_digests():
    """The daily reminder email to those who asked for it (idempotent per day)."""
    return services.send_digests(today=timezone.localdate())
