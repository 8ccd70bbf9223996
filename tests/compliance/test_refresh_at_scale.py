"""What the faster refresh must keep: the same flags whether it reads everything or one branch at a time,
the same absence runs from month bitmaps as from month lists, and no duplicate open flag on a race."""

import gc
import itertools
from datetime import date

import pytest
from django.db import connection

from compliance import engine
from compliance.models import Flag, FlagState
from compliance.rules import MemberMonth, absence_run
from tests.compliance.conftest import absent_from_theme_days, hold

AS_OF = date(2026, 11, 23)

# One month of a member, as the ladder query sees it: (present row, absent row) and as MemberMonth.
MONTHS = {
    "attended": ((True, False), MemberMonth(held=True, attended=True)),
    "absent": ((False, True), MemberMonth(held=True, attended=False)),
    "attended and absent": ((True, True), MemberMonth(held=True, attended=True)),
    "on leave or away": ((False, False), MemberMonth(held=True, attended=False, excused=True)),
    "no meeting": ((False, False), MemberMonth(held=False, attended=False)),
}


def test_the_bitmap_run_is_the_absence_run_for_every_sequence_of_six_months():
    for sequence in itertools.product(MONTHS.values(), repeat=6):
        present = sum(1 << i for i, ((p, _a), _m) in enumerate(sequence) if p)
        absent = sum(1 << i for i, ((_p, a), _m) in enumerate(sequence) if a)
        assert engine.ladder_run(present, absent) == absence_run([m for _bits, m in sequence]), sequence


def _open_flags():
    return set(
        Flag.objects.filter(resolved_on__isnull=True).values_list("key", "state", "branch_id", "message")
    )


def test_refreshing_everything_flags_what_refreshing_each_branch_flags(branch, tree, monkeypatch):
    monkeypatch.setattr(engine, "COPY_AT_LEAST", 1)  # every flag in by COPY, as in a county's rebuild
    absent_from_theme_days(branch, [branch.people[0]], range(6, 11))
    hold(tree.a2, ["general_meeting"], date(2026, 3, 5), backfill_reason="补录", entered=date(2026, 3, 30))
    # A branch dissolved before the window: neither way of refreshing reads it (its backfilled
    # record would be flagged if it did).
    hold(tree.b1, ["theme_day"], date(2026, 5, 29), backfill_reason="补录", entered=date(2026, 6, 30))
    dissolved = tree.b1
    type(dissolved).objects.filter(pk=dissolved.pk).update(dissolved_on=date(2024, 6, 30))

    engine.refresh(as_of=AS_OF)
    everything = _open_flags()
    Flag.objects.all().delete()
    for branch_id in (branch.pk, tree.a2.pk, dissolved.pk):
        engine.refresh(as_of=AS_OF, branch_ids=[branch_id])
    one_by_one = _open_flags()

    assert everything == one_by_one
    assert set(Flag.objects.values_list("rule", flat=True)) >= {"absence_ladder", "backfill"}
    assert not Flag.objects.filter(branch=dissolved).exists()


@pytest.mark.parametrize("how", ["insert", "copy", "streamed"])
def test_a_flag_opened_meanwhile_by_another_refresh_is_not_inserted_again(branch, monkeypatch, how):
    monkeypatch.setattr(engine, "COPY_AT_LEAST", engine.COPY_AT_LEAST if how == "insert" else 1)
    wanted = engine.Wanted(key="theme_day:b1:2026-10-01:overdue", rule="theme_day", state=FlagState.OVERDUE,
                           branch_id=branch.pk, message="2026年10月主题党日未召开", period_start=date(2026, 10, 1),
                           period_end=date(2026, 10, 31))  # fmt: skip
    write = (
        (lambda: engine._insert([wanted], AS_OF))
        if how == "streamed"
        else (lambda: engine._apply([], [wanted], AS_OF))
    )
    write()
    write()  # the racing refresh: dropped, not an error
    flag = Flag.objects.get()
    assert (flag.key, flag.raised_on, flag.period_end, flag.resolved_on) == (
        wanted.key,
        AS_OF,
        date(2026, 10, 31),
        None,
    )


def test_flags_copied_in_bulk_are_stored_as_inserted_ones(branch, tree, monkeypatch):
    tricky = {
        "message": '党员0：补录，"外出"\n返乡\t后补记\\',
        "member_id": branch.people[0].pk,
        "group_id": tree.g1.pk,
    }
    wanted = [
        engine.Wanted(key=f"backfill:m{n}", rule="backfill", state=FlagState.WARNING, branch_id=branch.pk,
                      period_end=date(2026, 3, n), **tricky)
        for n in (1, 2)
    ]  # fmt: skip
    stored = {}
    for copy_at_least in (engine.COPY_AT_LEAST, 1):
        monkeypatch.setattr(engine, "COPY_AT_LEAST", copy_at_least)
        engine._apply([], wanted, AS_OF)
        stored[copy_at_least] = list(
            Flag.objects.order_by("key").values_list("key", "message", "member_id", "group_id", "meeting_id",
                                                     "period_start", "period_end", "raised_on", "resolved_by")
        )  # fmt: skip
        Flag.objects.all().delete()
    assert stored[1] == stored[engine.COPY_AT_LEAST]
    assert stored[1][0][1:4] == (tricky["message"], tricky["member_id"], tricky["group_id"])
    assert stored[1][0][4:6] == (None, None) and stored[1][0][-1] == ""


@pytest.mark.parametrize(
    "as_of",
    [date(2026, 11, 23), date(2026, 11, 24), date(2026, 12, 1), date(2026, 12, 24), date(2026, 12, 25),
     date(2026, 12, 31), date(2027, 1, 1)],
)  # fmt: skip
def test_a_refresh_evaluates_only_what_is_over_or_due_soon_and_flags_the_same(branch, tree, as_of):
    hold(branch, ["general_meeting", "theme_day"], date(2026, 10, 9))
    hold(branch, ["committee_meeting"], date(2026, 11, 6), group=None)
    hold(tree.a2, ["party_lecture"], date(2026, 12, 3))
    since = engine.nightly_since(as_of)
    units = engine.read_units(None, since=since, as_of=as_of)

    def flagged(**kwargs):
        return {
            (branch_id, group_id, rule.code, o.period.start, o.state, o.held)
            for branch_id, group_id, _org, rule, o in engine.obligations(
                units, as_of=as_of, since=since, **kwargs
            )
            if o.state in engine.ATTENTION
        }

    everything = list(engine.obligations(units, as_of=as_of, since=since))
    judged = list(engine.obligations(units, as_of=as_of, since=since, attention_only=True))
    assert flagged(attention_only=True) == flagged()
    assert flagged()  # the monthly meetings of November, at least, are over and missed somewhere
    assert all(o.state in engine.ATTENTION for *_unit, o in judged)  # met and running periods: not built
    running = [o for *_unit, o in everything if (o.period.end - as_of).days >= 7]
    assert running or as_of >= date(2026, 12, 25)  # the year's last week: every period is due soon or over


def test_a_flag_of_a_rule_no_night_would_judge_again_is_refused(branch):
    wanted = engine.Wanted(key="made_up:b1", rule="made_up", state=FlagState.WARNING, branch_id=branch.pk,
                           message="未登记的规则")  # fmt: skip
    with pytest.raises(ValueError, match="made_up"):
        engine._write({wanted.key: wanted}, [], as_of=AS_OF)
    assert not Flag.objects.exists()


def test_a_county_refresh_gives_the_cycle_collector_back_as_it_found_it(branch, monkeypatch):
    assert gc.isenabled()
    engine.refresh(as_of=AS_OF)
    assert gc.isenabled()
    during = []

    def fails(*args, **kwargs):
        during.append(gc.isenabled())
        raise RuntimeError("读取失败")

    monkeypatch.setattr(
        engine, "_read_and_judge" if connection.vendor == "postgresql" else "_read_many", fails
    )
    with pytest.raises(RuntimeError):
        engine.refresh(as_of=AS_OF)
    assert during == [False] and gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(RuntimeError):
            engine.refresh(as_of=AS_OF)
        assert not gc.isenabled()  # left off by whoever turned it off
    finally:
        gc.enable()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the second thread judges on PostgreSQL")
def test_a_judging_stage_on_the_second_thread_may_not_query(branch, monkeypatch):
    def queries(rows, **kwargs):
        return list(Flag.objects.all())

    monkeypatch.setattr(engine, "_judge_roster", queries)
    with pytest.raises(RuntimeError, match="queried the database"):
        engine.refresh(as_of=AS_OF)
    assert not Flag.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's statistics are PostgreSQL's")
def test_many_new_flags_leave_the_planners_statistics_up_to_date(branch, monkeypatch):
    monkeypatch.setattr(engine, "COPY_AT_LEAST", 3)
    wanted = [
        engine.Wanted(key=f"backfill:m{n}", rule="backfill", state=FlagState.WARNING, branch_id=branch.pk,
                      message=f"补录{n}", period_end=date(2026, 3, n))
        for n in range(1, 6)
    ]  # fmt: skip
    engine._apply([], wanted, AS_OF)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'compliance_flag'")
        assert cursor.fetchone()[0] == 5


def test_meetings_by_month_rows_of_either_shape_count_the_same():
    """PostgreSQL sends each unit and type with an array of month numbers (one per meeting), SQLite a row
    per month with its count: year × 12 + month, so December and January are 12 and 1 of adjacent years."""
    december, january = 2025 * 12 + 12, 2026 * 12 + 1
    arrays = [(1, None, "general_meeting", [january, december, january]), (1, 7, "group_meeting", [december])]
    per_month = [(1, None, "general_meeting", january, 2), (1, None, "general_meeting", december, 1),
                 (1, 7, "group_meeting", december, 1)]  # fmt: skip
    expected = {
        (1, None, "general_meeting", date(2026, 1, 1)): 2,
        (1, None, "general_meeting", date(2025, 12, 1)): 1,
        (1, 7, "group_meeting", date(2025, 12, 1)): 1,
    }
    assert engine._counted_by_month(arrays) == expected
    assert engine._counted_by_month(per_month) == expected


def test_meetings_are_counted_by_unit_type_and_month_alone_or_folded_into_a_writes_read(branch, tree):
    hold(branch, ["general_meeting", "party_lecture"], date(2026, 1, 31))  # one record, two types
    hold(branch, ["general_meeting"], date(2026, 1, 1))
    hold(branch, ["group_meeting"], date(2025, 12, 31), group=tree.g1)
    hold(branch, ["group_meeting"], date(2026, 2, 1), group=tree.g1)
    voided = hold(branch, ["committee_meeting"], date(2026, 2, 10))
    voided.void("录错")
    since = date(2025, 1, 1)
    scope = engine.scope_of([branch.pk], since)
    expected = {
        (branch.pk, None, "general_meeting", date(2026, 1, 1)): 2,
        (branch.pk, None, "party_lecture", date(2026, 1, 1)): 1,
        (branch.pk, tree.g1.pk, "group_meeting", date(2025, 12, 1)): 1,
        (branch.pk, tree.g1.pk, "group_meeting", date(2026, 2, 1)): 1,
    }

    alone = engine._by_month_query(scope, months_from=since, as_of=AS_OF)
    folded = engine._read_few(scope, as_of=AS_OF, window=engine.Window(since, unit_from=since))["by_month"]

    assert engine._counted_by_month(list(alone)) == expected
    assert engine._counted_by_month(folded) == expected


def test_a_countys_flags_written_stage_by_stage_are_counted_once_and_renew_the_counts(
    branch, tree, monkeypatch
):
    from compliance import stamps

    monkeypatch.setattr(
        engine, "COPY_AT_LEAST", 1
    )  # every stage's new flags written while the next is judged
    absent_from_theme_days(branch, [branch.people[0]], range(6, 11))
    hold(tree.a2, ["general_meeting"], date(2026, 3, 5), backfill_reason="补录", entered=date(2026, 3, 30))
    token = stamps.flags_token()

    first = engine.refresh(as_of=AS_OF)

    assert first["raised"] == first["open"] == Flag.objects.filter(resolved_on__isnull=True).count() > 0
    assert stamps.flags_token() != token  # the pages' cached counts are read again
    assert engine.refresh(as_of=AS_OF) == {"raised": 0, "resolved": 0, "open": first["open"]}


@pytest.mark.parametrize("first", ["new branch", "old branch"])
def test_a_moved_members_flag_follows_them_when_a_townships_refresh_writes_stage_by_stage(
    branch, tree, monkeypatch, first
):
    from tests.compliance.test_engine import _moved_member_flags

    monkeypatch.setattr(
        engine, "COPY_AT_LEAST", 1
    )  # every stage's new flags written while the next is judged
    monkeypatch.setattr(
        engine, "FEW_BRANCHES", 0
    )  # a township's many branches: read and judged as a county's
    order = [[tree.a2.pk], [tree.a1.pk]] if first == "new branch" else [[tree.a1.pk], [tree.a2.pk]]
    flag = _moved_member_flags(branch, tree, order)
    assert flag.branch == tree.a2 and flag.raised_on == AS_OF
