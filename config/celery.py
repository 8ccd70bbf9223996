"""Celery wiring. The beat schedule lives here, in code, so every deployment runs the same jobs."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("zhibu")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Time passing raises flags with no write: a month ends, a term expires.
    "compliance-nightly-refresh": {
        "task": "compliance.tasks.nightly_refresh",
        "schedule": crontab(hour=1, minute=30),
    },
    # Everything judged again once a week, in the quiet of Sunday night.
    "compliance-weekly-refresh": {
        "task": "compliance.tasks.weekly_refresh",
        "schedule": crontab(hour=2, minute=30, day_of_week="sun"),
    },
    # Today's overview counts, so that the first morning view of a county is as fast as the next.
    "dashboards-warm-overviews": {
        "task": "dashboards.tasks.warm_overviews",
        "schedule": crontab(hour=1, minute=45),
    },
    # The reminder email for those who subscribed, after the nightly refresh.
    "compliance-daily-digest": {
        "task": "compliance.tasks.send_digests",
        "schedule": crontab(hour=7, minute=30),
    },
    # Sessions live in the database; without this the table only grows.
    "clear-expired-sessions": {
        "task": "config.celery.clear_expired_sessions",
        "schedule": crontab(hour=3, minute=10),
    },
}


@app.task(name="config.celery.clear_expired_sessions")
def clear_expired_sessions():
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
