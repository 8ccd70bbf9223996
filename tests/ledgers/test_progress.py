"""The progress of an export moves from the start: reading the records is a step of it, reported before and
after, and the page shows the wait for the first step as a moving bar, not an empty 0 %."""

import pytest
from django.urls import reverse
from django.utils import timezone

from branches.models import Role
from ledgers import exports, services
from ledgers.models import ExportKind, ExportStatus
from tests.ledgers.conftest import AS_OF, YEAR

pytestmark = pytest.mark.django_db


def _watch_reads(monkeypatch, seen):
    """Record, at each read of the records, how many progress reports came before it."""
    reads_at = []
    real = exports.Reads.__init__

    def reading(self, branches, **kwargs):
        reads_at.append((len(seen), [b.name for b in branches]))
        real(self, branches, **kwargs)

    monkeypatch.setattr(exports.Reads, "__init__", reading)
    return reads_at


def _export(user, kind, organisation):
    export, _ = services.request_export(user=user, kind=kind, organisation=organisation, year=YEAR)
    return export


def test_a_branch_export_reports_the_reading_before_the_first_sheet(
    ledger_branch, personas, monkeypatch, tmp_path
):
    seen = []
    reads_at = _watch_reads(monkeypatch, seen)
    export = _export(personas[Role.SECRETARY], ExportKind.BRANCH, ledger_branch)
    services.build(export, tmp_path / "out", progress=lambda d, t: seen.append((d, t)), as_of=AS_OF)
    total = seen[-1][1]
    sheets = len(exports.BRANCH_SHEETS)
    assert reads_at == [(1, [ledger_branch.name])] and seen[0] == (0, total)  # reported before reading
    read = seen[1][0]  # the read done: a share of the bar before any sheet is written
    assert 0 < read < total - sheets + 1 and seen[1] == (read, total)
    assert seen[2] == (read + 1, total) and seen[-1] == (total, total) == (read + sheets, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_the_zip_reports_each_chunk_it_reads(ledger_branch, tree, personas, monkeypatch, tmp_path):
    monkeypatch.setattr(services, "ZIP_CHUNK", 1)  # a chunk a branch: two reads
    seen = []
    reads_at = _watch_reads(monkeypatch, seen)
    services.write_zip(tree.township, year=YEAR, user=personas[Role.TOWNSHIP_ADMIN], path=tmp_path / "all.zip",
                       progress=lambda d, t: seen.append((d, t)), as_of=AS_OF)  # fmt: skip
    total = seen[-1][1]
    sheets = len(exports.BRANCH_SHEETS)
    assert [names for _at, names in reads_at] == [[tree.a1.name], [tree.a2.name]]
    first, second = (at for at, _names in reads_at)
    assert first == 1 and seen[0] == (0, total)  # the bar has its total before the first read
    # The second read comes after the first branch's sheets, and moves the bar when done.
    before, after = seen[second - 1][0], seen[second][0]
    assert before >= services._read_steps(sheets) + sheets and after > before
    assert total == 2 * (services._read_steps(sheets) + sheets) and seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_summary_export_reports_the_reading_too(ledger_branch, tree, personas, tmp_path):
    seen = []
    export = _export(personas[Role.TOWNSHIP_ADMIN], ExportKind.SUMMARY, tree.township)
    services.build(export, tmp_path / "out", progress=lambda d, t: seen.append((d, t)), as_of=AS_OF)
    assert seen[0][0] == 0 and seen[1][0] > 0 and seen[-1][0] == seen[-1][1]


def _status(client, export):
    return client.get(reverse("ledgers:status", args=[export.pk])).json()


def test_the_page_shows_the_wait_for_the_first_step_as_a_moving_bar(client, ledger_branch, personas):
    secretary = personas[Role.SECRETARY]
    client.force_login(secretary)
    export = _export(secretary, ExportKind.BRANCH, ledger_branch)  # queued: no worker yet
    state = _status(client, export)
    assert state["indeterminate"] and state["label"] == "排队中"
    export.status, export.started_at, export.total = ExportStatus.RUNNING, timezone.now(), 18
    export.save()
    state = _status(client, export)
    assert state["indeterminate"] and state["label"] == "正在读取数据" and state["percent"] == 0
    page = client.get(reverse("ledgers:detail", args=[export.pk])).content.decode()
    assert "正在读取数据" in page and "请稍候" in page and ">0%<" not in page
    assert 'style="width: 100%"' in page and "progress-bar-animated bg-secondary" in page
    assert "aria-valuenow" not in page  # an indeterminate progressbar has no value
    export.done = 9
    export.save()
    state = _status(client, export)
    assert not state["indeterminate"] and state["label"] == "生成中" and state["percent"] == 50
    page = client.get(reverse("ledgers:detail", args=[export.pk])).content.decode()
    assert 'style="width: 50%"' in page and 'aria-valuenow="50"' in page and "bg-secondary" not in page


def test_a_finished_export_is_not_indeterminate(client, ledger_branch, personas):
    secretary = personas[Role.SECRETARY]
    client.force_login(secretary)
    client.post(reverse("ledgers:branch_export", args=[ledger_branch.pk]), {"year": YEAR})  # runs eagerly
    export = services.LedgerExport.objects.get()
    state = _status(client, export)
    assert state["status"] == "done" and not state["indeterminate"] and state["percent"] == 100
