"""Sent when many members are written at once (bulk statements send no post_save)."""

from django.dispatch import Signal

# branch_ids: the branches whose roster rows were created or changed.
roster_changed = Signal()
