"""Reading a write's scope in one statement: the rows are those of each queryset read alone, and a
write's refresh stays within five statements on PostgreSQL whatever it reads."""

import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance import engine
from compliance.batch import read_together
from compliance.models import Flag
from meetings.models import Meeting
from members import services as member_services
from members.models import Member, TrainingRecord
from tests.compliance.conftest import hold

AS_OF = date(2026, 11, 23)
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="one statement is PostgreSQL's")


def _querysets(branch):
    meetings = Meeting.objects.filter(branch=branch)
    return [
        meetings.values("pk", "held_on", "topic", "is_backfill", "group_id", "entered_at", "start_time"),
        meetings.annotate(month=TruncMonth("held_on"))
        .values("month")
        .annotate(n=Count("id"))
        .values_list("month", "n"),
        TrainingRecord.objects.filter(member__branch=branch).values("member_id").annotate(hours=Sum("hours")),
        Member.objects.filter(branch=branch).values_list("name", flat=True),
        Meeting.objects.filter(topic="没有这样的会").values_list("pk", "held_on"),
        Meeting.objects.filter(pk__in=[]).values("pk"),  # no SQL at all
    ]


def test_rows_read_together_are_the_rows_each_queryset_gives_alone(branch, tree):
    hold(branch, ["group_meeting"], date(2026, 10, 30), group=tree.g1)
    hold(branch, ["general_meeting"], date(2026, 9, 3), entered=date(2026, 9, 30), backfill_reason="补录")
    member_services.record_training(branch=branch, members=branch.people[:2], held_on=date(2026, 5, 6),
                                    hours=Decimal("2.5"), title="党课", token=uuid.uuid4().hex, today=AS_OF)  # fmt: skip
    querysets = _querysets(branch)
    alone = [list(qs) for qs in querysets]
    # Folded into one statement, and read one by one from the cursor (a county's refresh).
    for rows_read in (read_together(querysets), read_together(querysets, together=False)):
        assert [sorted(map(repr, rows)) for rows in rows_read] == [sorted(map(repr, rows)) for rows in alone]
    assert alone[2] and {row["hours"] for row in alone[2]} == {Decimal("2.5")}
    assert alone[1] and all(isinstance(month, date) for month, _n in alone[1]) and alone[4] == alone[5] == []


def test_read_one_by_one_a_distinct_queryset_keeps_only_its_own_columns(branch):
    # Ordered by a column it does not return: Django selects the name too, and cuts it off again.
    qs = Member.objects.order_by("name").values_list("branch_id", "category").distinct()
    rows = read_together([qs], together=False)[0]
    assert rows == list(qs) and rows and all(row == (branch.pk, "full") for row in rows)


@on_postgresql
def test_on_postgresql_the_querysets_are_one_statement(branch):
    hold(branch, ["theme_day"], date(2026, 10, 30))
    with CaptureQueriesContext(connection) as queries:
        read_together(_querysets(branch))
    assert len(queries) == 1


def test_model_querysets_are_refused(branch):
    with pytest.raises(TypeError):
        read_together([Meeting.objects.all(), Member.objects.values("pk")])


@on_postgresql
def test_a_write_refreshes_its_branch_in_at_most_five_statements(
    branch, tree, django_capture_on_commit_callbacks
):
    today = timezone.localdate()
    last_month = (today.replace(day=1) - date.resolution).replace(day=1)
    engine.refresh(as_of=today)
    missing = Flag.objects.filter(rule="theme_day", branch=branch, period_start=last_month, resolved_on=None)
    assert missing.exists()
    with django_capture_on_commit_callbacks(execute=False):  # the refresh the write queues, run below
        hold(branch, ["theme_day"], last_month.replace(day=25))
    engine.refresh(as_of=today, branch_ids=[tree.a2.pk])  # the statement is compiled for an earlier write
    with CaptureQueriesContext(connection) as queries:
        changed = engine.refresh(as_of=today, branch_ids=[branch.pk])
    assert changed["resolved"] >= 1 and not missing.exists()
    # One read, one write (resolve, raise, renew the token), and the savepoint of the test's transaction.
    assert len(queries) <= 5, [q["sql"][:80] for q in queries]


@on_postgresql
def test_the_statement_compiled_for_one_branch_serves_the_next(branch, tree):
    hold(tree.a2, ["general_meeting"], date(2026, 3, 5), backfill_reason="补录", entered=date(2026, 3, 30))
    engine.FOLDED.clear()
    engine.refresh(as_of=AS_OF, branch_ids=[branch.pk])
    assert len(engine.FOLDED) == 1
    engine.refresh(as_of=AS_OF, branch_ids=[tree.a2.pk])
    assert len(engine.FOLDED) == 1
    assert Flag.objects.filter(branch=tree.a2, rule="backfill", resolved_on=None).exists()
    assert Flag.objects.filter(branch=branch, resolved_on=None).exists()
