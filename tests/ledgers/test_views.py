"""Asking for a ledger from the pages: the background task, its progress, the download, the log."""

import zipfile
from io import BytesIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from kombu.exceptions import OperationalError
from openpyxl import load_workbook

from branches.models import Role
from ledgers import exports, services, tasks
from ledgers.models import ExportStatus, LedgerExport
from tests.ledgers.conftest import INJECTION, YEAR


@pytest.fixture
def secretary(client, personas):
    client.force_login(personas[Role.SECRETARY])
    return client


def _content(response):
    return b"".join(response.streaming_content)


def test_branch_page_offers_the_export_with_a_year(secretary, ledger_branch):
    page = secretary.get(reverse("branches:detail", args=[ledger_branch.pk])).content.decode()
    assert reverse("ledgers:branch_export", args=[ledger_branch.pk]) in page
    assert '<option value="2026">2026年</option>' in page and "导出台账" in page


def test_committee_member_sees_no_export_button(client, personas, ledger_branch):
    client.force_login(personas[Role.COMMITTEE_MEMBER])
    page = client.get(reverse("branches:detail", args=[ledger_branch.pk])).content.decode()
    assert "导出台账" not in page


def test_export_runs_in_the_background_and_the_file_downloads(secretary, ledger_branch, personas):
    response = secretary.post(reverse("ledgers:branch_export", args=[ledger_branch.pk]), {"year": YEAR})
    export = LedgerExport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("ledgers:detail", args=[export.pk])
    assert (export.created_by, export.kind, export.organisation, export.year) == (
        personas[Role.SECRETARY], "branch", ledger_branch, YEAR)  # fmt: skip
    assert export.status == ExportStatus.DONE and export.done == export.total > 0 and export.rows > 0
    assert export.full_id_numbers and export.finished_at is not None
    status = secretary.get(reverse("ledgers:status", args=[export.pk])).json()
    assert status["percent"] == 100 and status["download_url"] == reverse(
        "ledgers:download", args=[export.pk]
    )
    page = secretary.get(reverse("ledgers:detail", args=[export.pk])).content.decode()
    assert "js/ledger_export.js" in page and "下载" in page
    download = secretary.get(status["download_url"])
    assert (
        "attachment" in download["Content-Disposition"] and download["Cache-Control"] == "private, no-store"
    )
    book = load_workbook(BytesIO(_content(download)))
    assert "合规情况" in book.sheetnames
    assert any(r[1] == INJECTION for r in book["党员名册"].iter_rows(min_row=2, values_only=True))
    # The file is not under a public URL: the model keeps a system-chosen name, served only by the view.
    assert export.file.name.startswith("ledgers/") and ledger_branch.name not in export.file.name


def test_a_double_click_gives_one_export(secretary, ledger_branch, monkeypatch):
    monkeypatch.setattr(tasks.run_export_task, "delay", lambda pk: None)  # queued, no worker yet
    url = reverse("ledgers:branch_export", args=[ledger_branch.pk])
    first = secretary.post(url, {"year": YEAR})
    second = secretary.post(url, {"year": YEAR}, follow=True)
    assert LedgerExport.objects.count() == 1
    assert first["Location"] == second.redirect_chain[0][0]
    page = second.content.decode()
    assert "正在生成中" in page and "已加入后台队列" in page
    assert (
        secretary.get(reverse("ledgers:status", args=[LedgerExport.objects.get().pk])).json()["status"]
        == "queued"
    )


def test_when_the_broker_is_down_the_export_runs_here(secretary, ledger_branch, monkeypatch):
    def down(pk):
        raise OperationalError("Connection refused")

    monkeypatch.setattr(tasks.run_export_task, "delay", down)
    response = secretary.post(
        reverse("ledgers:branch_export", args=[ledger_branch.pk]), {"year": YEAR}, follow=True
    )
    export = LedgerExport.objects.get()
    assert export.status == ExportStatus.DONE and export.ran_inline
    assert "已在本机直接生成" in response.content.decode()


def test_the_task_writes_progress_while_it_runs(ledger_branch, personas, monkeypatch):
    export, _ = services.request_export(user=personas[Role.SECRETARY], kind="branch", organisation=ledger_branch,
                                        year=YEAR)  # fmt: skip
    seen = []
    real = services.xlsx.render

    def watching(book, target, *, progress=None):
        def spy(done, total):
            progress(done, total)
            row = LedgerExport.objects.get(pk=export.pk)
            seen.append((row.status, row.done, row.total))

        return real(book, target, progress=spy)

    monkeypatch.setattr(services.xlsx, "render", watching)
    tasks.run_export_task.delay(export.pk)
    sheets = len(exports.BRANCH_SHEETS)
    read = seen[-1][2] - sheets  # the reads before the sheets count as steps too (test_progress.py)
    assert read > 0 and seen[0] == ("running", read + 1, read + sheets)
    assert seen[-1] == ("running", read + sheets, read + sheets)
    export.refresh_from_db()
    assert export.status == ExportStatus.DONE and export.percent == 100
    assert tasks.run_export_task.run(export.pk) is None  # a redelivered task builds nothing twice


def test_a_failed_export_says_so(ledger_branch, personas, monkeypatch):
    export, _ = services.request_export(user=personas[Role.SECRETARY], kind="branch", organisation=ledger_branch,
                                        year=YEAR)  # fmt: skip

    def broken(*args, **kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(services.xlsx, "render", broken)
    services.run_export(export_id=export.pk)
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED and export.error.startswith("生成失败")
    again, created = services.request_export(user=personas[Role.SECRETARY], kind="branch",
                                             organisation=ledger_branch, year=YEAR)  # fmt: skip
    assert created and again.pk != export.pk


def test_township_office_gets_the_summary_and_the_zip(client, personas, tree, ledger_branch):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    page = client.get(reverse("branches:detail", args=[tree.township.pk])).content.decode()
    assert reverse("ledgers:township_export", args=[tree.township.pk]) in page
    url = reverse("ledgers:township_export", args=[tree.township.pk])
    client.post(url, {"year": YEAR, "kind": "summary"})
    client.post(url, {"year": YEAR, "kind": "zip"})
    summary, bundle = LedgerExport.objects.order_by("pk")
    assert not summary.full_id_numbers
    book = load_workbook(BytesIO(_content(client.get(reverse("ledgers:download", args=[summary.pk])))))
    assert book.sheetnames[1:] == ["完成率汇总", "合规明细", "逾期清单", "重点关注党员"]
    response = client.get(reverse("ledgers:download", args=[bundle.pk]))
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(BytesIO(_content(response))) as archive:
        assert len(archive.namelist()) == 2


def test_the_log_shows_who_exported_what_to_the_office_but_not_the_file(
    client, secretary, personas, ledger_branch
):
    secretary.post(reverse("ledgers:branch_export", args=[ledger_branch.pk]), {"year": YEAR})
    export = LedgerExport.objects.get()
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    log = client.get(reverse("ledgers:list")).content.decode()
    assert "secretary" in log and ledger_branch.name in log
    assert reverse("ledgers:detail", args=[export.pk]) not in log
    assert client.get(reverse("ledgers:download", args=[export.pk])).status_code == 404


def test_command_exports_a_branch_a_summary_and_a_zip(ledger_branch, tree, tmp_path):
    out = tmp_path / "b.xlsx"
    call_command("export_ledger", "--branch", ledger_branch.name, "--year", str(YEAR), "--output", str(out))
    roster = load_workbook(out)["党员名册"]
    assert all("*" in r[5] for r in roster.iter_rows(min_row=2, values_only=True))  # masked without --user
    call_command("export_ledger", "--township", str(tree.township.pk), "--year", str(YEAR),
                 "--output", str(tmp_path / "s.xlsx"))  # fmt: skip
    assert "完成率汇总" in load_workbook(tmp_path / "s.xlsx").sheetnames
    call_command("export_ledger", "--township", tree.township.name, "--zip", "--year", str(YEAR),
                 "--output", str(tmp_path / "all.zip"))  # fmt: skip
    assert len(zipfile.ZipFile(tmp_path / "all.zip").namelist()) == 2
    with pytest.raises(CommandError, match="没有找到党组织"):
        call_command("export_ledger", "--branch", "不存在的支部", "--output", str(out))


def test_the_log_reads_on_a_phone_as_one_card_an_export(client, secretary, personas, ledger_branch, tree):
    """At 390px the table's 党组织 and 年度 columns wrapped one character a line: a phone gets a card a line
    (the table is for md and wider), and the short columns never wrap."""
    import re

    secretary.post(reverse("ledgers:branch_export", args=[ledger_branch.pk]), {"year": YEAR})
    office = personas[Role.TOWNSHIP_ADMIN]
    office.first_name = "周敏"
    office.save()
    client.force_login(office)
    client.post(reverse("ledgers:township_export", args=[tree.township.pk]),
                {"year": YEAR, "kind": "summary"})  # fmt: skip
    log = client.get(reverse("ledgers:list")).content.decode()
    cards = re.search(r'<ul class="list-group d-md-none[^"]*">(.*?)</ul>', log, re.S).group(1)
    assert cards.count('<li class="list-group-item">') == 2
    assert ledger_branch.name in cards and "2026年度" in cards and "周敏" in cards and "secretary" in cards
    assert '<div class="table-responsive bg-white border rounded d-none d-md-block">' in log
    assert f'<td class="text-nowrap">{YEAR}</td>' in log


def test_an_empty_log_says_where_ledgers_are_exported(secretary):
    html = secretary.get(reverse("ledgers:list")).content.decode()
    assert "暂无导出记录" in html and "选择年度后点“导出台账”" in html
    assert f'href="{reverse("branches:tree")}"' in html
