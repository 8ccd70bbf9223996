"""Refresh a branch's flags after its records change (the signal is sent after commit)."""

import logging

from django.dispatch import receiver

from meetings.signals import records_changed

from . import services

logger = logging.getLogger(__name__)


@receiver(records_changed)
def refresh_after_write(sender, branch_id, dates, **kwargs):
    from .tasks import refresh_branch

    if not services.take_lease(services.pending_refresh(branch_id), length=services.PENDING_LENGTH):
        return  # a refresh of this branch is already scheduled and will read this write too
    try:
        refresh_branch.apply_async((branch_id,), countdown=services.DEBOUNCE_SECONDS)
    except Exception:  # the broker is down: the write already succeeded, refresh here instead
        logger.warning("消息队列不可用，改为在本进程内刷新支部 %s 的提醒", branch_id)
        try:
            refresh_branch.run(branch_id)
        except Exception:  # the user's record is saved; the weekly run judges everything again
            services.release_lease(services.pending_refresh(branch_id))
            logger.exception("支部 %s 的提醒刷新失败，将在每周的全面刷新中补做", branch_id)
