"""Refresh a branch's flags after its records change (the signal is sent after commit)."""

import logging

from django.dispatch import receiver
from django.utils import timezone

from meetings.signals import records_changed

from . import services

logger = logging.getLogger(__name__)


@receiver(records_changed)
def refresh_after_write(sender, branch_id, dates, **kwargs):
    from .tasks import refresh_branch

    # A record of an earlier year (补录 before an inspection) has a refresh of its own that reaches back
    # to it: debounced apart, so that a burst of this year's writes cannot swallow it.
    since = services.rejudge_since(dates, today=timezone.localdate())
    lease = services.pending_refresh(branch_id, since)
    if not services.take_lease(lease, length=services.PENDING_LENGTH):
        return  # a refresh of this branch is already scheduled and will read this write too
    args = (branch_id,) if since is None else (branch_id, since.isoformat())
    try:
        refresh_branch.apply_async(args, countdown=services.DEBOUNCE_SECONDS)
    except Exception:  # the broker is down: the write already succeeded, refresh here instead
        logger.warning("消息队列不可用，改为在本进程内刷新支部 %s 的提醒", branch_id)
        try:
            refresh_branch.run(*args)
        except Exception:  # the user's record is saved; the weekly run judges everything again
            services.release_lease(lease)
            logger.exception("支部 %s 的提醒刷新失败，将在每周的全面刷新中补做", branch_id)
