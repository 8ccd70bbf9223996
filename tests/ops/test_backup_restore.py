"""`manage.py backup` and `restore`: a database and its uploaded files come back as they were, and an archive
that is damaged, hostile, from newer code or from another engine is refused before anything changes.

Runs on whichever engine DATABASE_URL names (SQLite's backup API, or pg_dump / pg_restore)."""

import io
import json
import tarfile
import tempfile
import uuid
from datetime import date, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from branches.models import Organisation
from compliance import engine
from compliance.models import Flag
from meetings import services as meeting_services
from meetings.models import Attachment, Attendance, Meeting
from members.idcard import check_character
from members.models import Member
from tests.conftest import make_meeting, make_member

pytestmark = pytest.mark.django_db(transaction=True)

KEY_MODELS = [Organisation, Member, Meeting, Attendance, Flag, Attachment]


def idn(serial):
    body = f"32010219800722{serial:03d}"
    return body + check_character(body)


def snapshot():
    """Every row of the key tables, read through the ORM (independently of what the backup computes)."""
    return {model._meta.label: list(model.objects.order_by("pk").values_list()) for model in KEY_MODELS}


def media():
    root = Path(settings.MEDIA_ROOT)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def estate(tree):
    """Two branches with members, meetings (each with an uploaded sign-in sheet), attendance and flags."""
    people = [make_member(tree.a1, tree.g1, idn(i), name=f"党员{i}") for i in range(4)]
    people.append(make_member(tree.a2, None, idn(9), name="村党员"))
    for month in (9, 10, 11):
        make_meeting(tree.a1, tree.g1, people[:3], held_on=date(2026, month, 20))
    make_meeting(tree.a2, None, people[4:], types=("general_meeting",), held_on=date(2026, 10, 9))
    engine.refresh(as_of=date(2026, 12, 1))
    assert Flag.objects.exists() and Attendance.objects.exists() and len(media()) == 4
    return tree


@pytest.fixture
def backed_up(estate, tmp_path):
    """A backup of the estate, with the data and files as they were when it was made."""
    out = io.StringIO()
    call_command("backup", "--output", str(tmp_path / "backups") + "/", stdout=out)
    [archive] = (tmp_path / "backups").glob("zhibu-*.tar.gz")
    assert "备份完成" in out.getvalue()
    return archive, snapshot(), media()


def damage(tree):
    """What a bad day looks like: a record voided, attendance and a flag lost, a name overwritten, a
    record added after the backup, one upload deleted and another overwritten."""
    first, second, *_ = Meeting.objects.order_by("pk")
    meeting_services.void_meeting(meeting=first, reason="误删")
    Attendance.objects.filter(meeting=second).delete()
    Flag.objects.order_by("pk").first().delete()
    Member.objects.filter(name="党员1").update(name="被改坏的名字")
    make_member(tree.a1, tree.g2, idn(20), name="备份后新增")
    uploads = sorted(Path(settings.MEDIA_ROOT).rglob("*.pdf"))
    uploads[0].unlink()
    uploads[1].write_bytes(b"%PDF-1.4 overwritten")


def restore(archive, *args):
    out = io.StringIO()
    call_command("restore", str(archive), *args, stdout=out)
    return out.getvalue()


def rewrite(source, target, *, manifest=None, replace=None, extra=()):
    """Copy an archive member by member, editing the manifest, replacing members' bytes or adding members."""
    with tarfile.open(source) as old, tarfile.open(target, "w:gz") as new:
        for info, data in extra:
            new.addfile(info, io.BytesIO(data) if data is not None else None)
        for member in old.getmembers():
            data = old.extractfile(member).read()
            if member.name == "manifest.json" and manifest is not None:
                data = json.dumps(manifest(json.loads(data))).encode()
            data = (replace or {}).get(member.name, data)
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))
    return target


def test_a_restore_brings_back_every_row_and_every_uploaded_file(backed_up, tree):
    archive, rows_before, files_before = backed_up
    damage(tree)
    assert snapshot() != rows_before and media() != files_before

    output = restore(archive, "--yes")

    assert snapshot() == rows_before
    assert media() == files_before
    assert "核对完成" in output and "校验和一致" in output
    # The restored database takes new records (PostgreSQL's sequences came back with the tables).
    again = make_meeting(tree.a1, tree.g1, [], held_on=date(2026, 11, 27))
    assert again.pk > max(row[0] for row in rows_before["meetings.Meeting"])


def test_the_manifest_records_date_engine_migrations_counts_and_checksums(backed_up):
    archive, rows_before, files_before = backed_up
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        names = set(tar.getnames())
    assert manifest["engine"] == (
        "postgresql" if "postgresql" in settings.DATABASES["default"]["ENGINE"] else "sqlite"
    )
    assert datetime.fromisoformat(manifest["created_at"]).utcoffset() is not None
    assert "0001_initial" in manifest["migrations"]["meetings"]
    assert manifest["row_counts"]["meetings_attendance"] == len(rows_before["meetings.Attendance"])
    assert manifest["row_counts"]["compliance_flag"] == len(rows_before["compliance.Flag"])
    assert {"branches_organisation", "members_member", "meetings_meeting", "compliance_flag"} <= set(
        manifest["checksums"]
    )
    assert {f"media/{name}" for name in files_before} <= names


def test_a_restore_that_does_not_match_its_manifest_says_so(backed_up, tmp_path):
    archive, rows_before, _ = backed_up
    meetings = len(rows_before["meetings.Meeting"])

    def claim_one_more_meeting(manifest):
        manifest["row_counts"]["meetings_meeting"] += 1
        return manifest

    lying = rewrite(archive, tmp_path / "lying.tar.gz", manifest=claim_one_more_meeting)
    with pytest.raises(
        CommandError,
        match=f"(?s)恢复后核对不一致.*meetings_meeting：备份中 {meetings + 1} 行，恢复后 {meetings} 行",
    ):
        restore(lying, "--yes")


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="cut-in-half"),
        pytest.param(
            lambda data: (
                data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1 :]
            ),
            id="byte-flipped",
        ),
    ],
)
def test_a_damaged_archive_is_refused_and_nothing_changes(backed_up, tree, tmp_path, spoil):
    archive, rows_before, _ = backed_up
    damage(tree)
    rows_damaged, files_damaged = snapshot(), media()
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(spoil(archive.read_bytes()))

    with pytest.raises(CommandError, match="已损坏.*数据库和上传文件均未改动"):
        restore(broken, "--yes")

    assert snapshot() == rows_damaged != rows_before
    assert media() == files_damaged


def test_an_archive_member_that_could_land_outside_is_refused(backed_up, tree, tmp_path):
    archive, *_ = backed_up
    damage(tree)
    rows_damaged, files_damaged = snapshot(), media()
    token = f"escape-{uuid.uuid4().hex}"
    escape = tarfile.TarInfo(f"media/../../{token}.txt")
    escape.size = 5
    hostile = rewrite(archive, tmp_path / "hostile.tar.gz", extra=[(escape, b"owned")])

    with pytest.raises(CommandError, match="不安全的路径"):
        restore(hostile, "--yes")

    assert snapshot() == rows_damaged and media() == files_damaged
    assert not list(Path(tempfile.gettempdir()).glob(f"{token}*"))


def test_an_archive_from_newer_code_is_refused_with_the_migrations_it_lacks(backed_up, tree, tmp_path):
    archive, *_ = backed_up
    damage(tree)
    rows_damaged = snapshot()

    def from_the_future(manifest):
        manifest["migrations"]["meetings"].append("0099_from_a_later_release")
        return manifest

    newer = rewrite(archive, tmp_path / "newer.tar.gz", manifest=from_the_future)
    with pytest.raises(
        CommandError, match="较新版本的程序.*meetings.0099_from_a_later_release.*请先升级程序"
    ):
        restore(newer, "--yes")
    assert snapshot() == rows_damaged


def test_restore_asks_first_and_only_yes_goes_ahead(backed_up, tree, monkeypatch):
    archive, rows_before, _ = backed_up
    damage(tree)
    rows_damaged = snapshot()
    for answer in ("n", "", "YES please"):
        monkeypatch.setattr("builtins.input", lambda prompt, answer=answer: answer)
        output = restore(archive)
        assert "已取消" in output and "备份之后的修改将丢失" in output
        assert snapshot() == rows_damaged

    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    restore(archive)
    assert snapshot() == rows_before


def test_keep_leaves_the_newest_backups_and_nothing_else_is_removed(estate, tmp_path):
    folder = tmp_path / "nightly"
    folder.mkdir()
    for stamp in ("20240101-013000", "20250101-013000", "20250102-013000"):
        (folder / f"zhibu-{stamp}.tar.gz").write_bytes(b"old")
    (folder / "notes.txt").write_text("keep me")

    call_command("backup", "--output", str(folder), "--keep", "2", stdout=io.StringIO())

    remaining = {p.name for p in folder.iterdir()}
    [new] = remaining - {"notes.txt", "zhibu-20250102-013000.tar.gz"}
    assert new.startswith("zhibu-") and new not in {
        "zhibu-20240101-013000.tar.gz",
        "zhibu-20250101-013000.tar.gz",
    }
    with tarfile.open(folder / new) as tar:
        assert tar.getmember("manifest.json")


@pytest.mark.django_db
def test_a_backup_inside_an_open_transaction_is_refused(estate):
    # The snapshot (PostgreSQL) needs a transaction of its own; SQLite would copy rows not yet committed.
    with pytest.raises(CommandError, match="不能在数据库事务中备份"):
        call_command("backup", stdout=io.StringIO())
