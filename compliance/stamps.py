"""Which branches' obligations may have changed: GridStamp tokens, renewed on every write that the
obligation grid or the overview reads (meetings, talks, 民主评议, members and their development steps,
committee terms, the tree, local rules).

Row writes are caught by post_save/post_delete; bulk writes announce themselves with
meetings.signals.records_changed or members.signals.roster_changed. The tree and the local rules
apply across branches, so their changes renew the token of every branch at once (branch 0).
"""

import hashlib
import secrets

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from branches.models import CommitteePosition, CommitteeTerm, Organisation
from evaluations.models import Campaign
from meetings.models import Meeting, Talk
from meetings.signals import records_changed
from members.models import Member, PipelineEvent
from members.signals import roster_changed

from .models import GridStamp, RuleSetting

EVERY_BRANCH = 0
# The open flags' token: renewed by the engine whenever it raises or resolves a flag. Reserved as the
# largest 32-bit id, which no organisation reaches (a county has a few thousand).
FLAGS = 2**31 - 1


def renew(branch_ids):
    """Give the branches new tokens (one statement, inside the caller's transaction)."""
    ids = sorted({pk for pk in branch_ids if pk is not None})
    if not ids:
        return
    token = secrets.randbits(62)
    GridStamp.objects.bulk_create(
        [GridStamp(branch_id=pk, token=token) for pk in ids],
        update_conflicts=True,
        unique_fields=["branch_id"],
        update_fields=["token"],
    )


RENEW_SQL = f"""
    INSERT INTO {GridStamp._meta.db_table} (branch_id, token) SELECT unnest(%s::integer[]), %s
    ON CONFLICT (branch_id) DO UPDATE SET token = EXCLUDED.token
"""  # noqa: S608 -- the table name is the model's


def renew_statement(branch_ids):
    """(SQL, params) of `renew` for PostgreSQL, for a caller that folds it into a statement of its own."""
    return RENEW_SQL, [sorted({pk for pk in branch_ids if pk is not None}), secrets.randbits(62)]


def renew_all():
    renew([EVERY_BRANCH])


def tokens(branch_ids):
    """(token of every branch, {branch_id: token}); a branch never written has token 0."""
    rows = dict(
        GridStamp.objects.filter(branch_id__in=[EVERY_BRANCH, *branch_ids]).values_list("branch_id", "token")
    )
    return rows.pop(EVERY_BRANCH, 0), rows


def flags_token():
    """Changes when flags are raised or resolved, or the tree changes (which moves flags between scopes)."""
    rows = dict(
        GridStamp.objects.filter(branch_id__in=[FLAGS, EVERY_BRANCH]).values_list("branch_id", "token")
    )
    return f"{rows.get(FLAGS, 0)}.{rows.get(EVERY_BRANCH, 0)}"


def digest(branch_ids, tokens):
    """One short string that changes when any of the branches' tokens does (for a whole-scope cache key)."""
    every, own = tokens
    text = ",".join(f"{pk}:{own.get(pk, 0)}" for pk in sorted(branch_ids))
    return hashlib.sha1(f"{every}|{text}".encode(), usedforsecurity=False).hexdigest()


# ---------------------------------------------------------------- what renews them


@receiver(records_changed)
def _records_changed(sender, branch_id, **kwargs):
    renew([branch_id])


@receiver(roster_changed)
def _roster_changed(sender, branch_ids, **kwargs):
    renew(branch_ids)


def _branch_of(instance):
    if isinstance(instance, CommitteePosition):
        return (
            CommitteeTerm.objects.filter(pk=instance.term_id)
            .values_list("organisation_id", flat=True)
            .first()
        )
    if isinstance(instance, CommitteeTerm):
        return instance.organisation_id
    if isinstance(instance, PipelineEvent):  # the dashboards list development deadlines
        return Member.objects.filter(pk=instance.member_id).values_list("branch_id", flat=True).first()
    return instance.branch_id


@receiver(pre_save, sender=Member)
def _remember_previous_branch(sender, instance, raw=False, **kwargs):
    """A member moved to another branch leaves the old one's roster too."""
    if instance.pk and not raw:
        instance._previous_branch_id = (
            Member.objects.filter(pk=instance.pk).values_list("branch_id", flat=True).first()
        )


def _row_written(sender, instance, raw=False, **kwargs):
    if raw:  # loaddata: the stamps are not part of fixtures
        return
    if sender in (Organisation, RuleSetting):
        renew_all()
        return
    renew([_branch_of(instance), getattr(instance, "_previous_branch_id", None)])


for _model in (
    Meeting,
    Talk,
    Campaign,
    Member,
    PipelineEvent,
    CommitteeTerm,
    CommitteePosition,
    Organisation,
    RuleSetting,
):
    post_save.connect(_row_written, sender=_model, dispatch_uid=f"grid-stamp-save-{_model.__name__}")
    post_delete.connect(_row_written, sender=_model, dispatch_uid=f"grid-stamp-delete-{_model.__name__}")
