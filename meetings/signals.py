from django.dispatch import Signal

# Sent after a meeting, talk or lock change commits: branch_id and the dates it touched.
# The compliance engine connects here to refresh the branch's flags.
records_changed = Signal()
