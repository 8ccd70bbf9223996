from django.db import transaction
from django.dispatch import Signal

# Sent after a meeting, talk or lock change commits: branch_id and the dates it touched.
# The compliance engine connects here to refresh the branch's flags.
records_changed = Signal()


def announce_on_commit(sender, branch_ids, dates=()):
    """Send records_changed for each branch (once each, in order) when the current transaction commits."""
    for branch_id in dict.fromkeys(branch_ids):
        transaction.on_commit(
            lambda branch_id=branch_id: records_changed.send(
                sender=sender, branch_id=branch_id, dates=list(dates)
            )
        )
