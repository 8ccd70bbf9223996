"""The backup archive on its own (no database): every way an archive can be cut, altered or made hostile
is refused while it is unpacked into the staging folder, with a Chinese message, before a restore could
use any of it. Also the migration check that refuses a backup from newer code."""

import io
import tarfile
import tempfile
import uuid
from pathlib import Path

import pytest

from ops import archive, services


def manifest(engine="sqlite", **extra):
    return {"format": archive.FORMAT, "format_version": archive.FORMAT_VERSION, "engine": engine, **extra}


@pytest.fixture
def sources(tmp_path):
    folder = tmp_path / "sources"
    (folder / "media" / "meetings").mkdir(parents=True)
    (folder / "database.sqlite3").write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 64)
    (folder / "media" / "meetings" / "签到表.pdf").write_bytes(b"%PDF-1.4 " + b"x" * 5000)
    return folder


@pytest.fixture
def made(sources, tmp_path):
    """A well-formed archive and the manifest written into it."""
    path = tmp_path / "zhibu-20261201-023000.tar.gz"
    files = [("database.sqlite3", sources / "database.sqlite3"), *archive.media_files(sources / "media")]
    written = archive.write(path, manifest=manifest(), files=files)
    return path, written


def test_a_well_formed_archive_unpacks_byte_for_byte(made, sources, tmp_path):
    path, written = made
    staging = tmp_path / "staging"
    staging.mkdir()

    unpacked = archive.unpack(path, staging)

    assert unpacked == written and set(written["files"]) == {"database.sqlite3", "media/meetings/签到表.pdf"}
    for name in written["files"]:
        assert (staging / name).read_bytes() == (sources / name).read_bytes()
    assert not list(tmp_path.glob("*.partial"))


def _spoiled(path, spoil):
    data = path.read_bytes()
    path.write_bytes(spoil(data))
    return path


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="cut-in-half"),
        pytest.param(lambda data: data[:-12], id="tail-missing"),
        pytest.param(lambda data: data[:-1], id="last-byte-missing"),
        pytest.param(lambda data: data[:100], id="header-only"),
        pytest.param(lambda data: data[:200] + bytes([data[200] ^ 0x01]) + data[201:], id="one-bit-flipped"),
        pytest.param(lambda data: data[:-8] + b"\x00" * 8, id="trailer-zeroed"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: b"PK\x03\x04 a zip file, not ours", id="not-gzip"),
    ],
)
def test_a_cut_or_altered_archive_is_refused(made, tmp_path, spoil):
    path, _ = made
    staging = tmp_path / "staging"
    staging.mkdir()
    # A flipped bit is usually caught by gzip's CRC, in rare draws by a member's SHA-256: both say 已损坏.
    with pytest.raises(archive.ArchiveError, match="已损坏"):
        archive.unpack(_spoiled(path, spoil), staging)


def _rebuild(path, target, *, replace=None, extra=(), drop=()):
    with tarfile.open(path) as old, tarfile.open(target, "w:gz") as new:
        for info, data in extra:
            new.addfile(info, io.BytesIO(data) if data is not None else None)
        for member in old.getmembers():
            if member.name in drop:
                continue
            data = (replace or {}).get(member.name, old.extractfile(member).read())
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))
    return target


def _unpack(path, tmp_path):
    staging = tmp_path / f"staging-{uuid.uuid4().hex}"
    staging.mkdir()
    return archive.unpack(path, staging)


def test_a_file_swapped_inside_a_well_formed_archive_is_refused(made, tmp_path):
    path, _ = made
    swapped = _rebuild(
        path, tmp_path / "swapped.tar.gz", replace={"media/meetings/签到表.pdf": b"%PDF-1.4 other"}
    )
    with pytest.raises(archive.ArchiveError, match="media/meetings/签到表.pdf 校验和不符"):
        _unpack(swapped, tmp_path)


@pytest.mark.parametrize(
    "drop, replace, message",
    [
        ({"manifest.json"}, {}, "没有 manifest.json"),
        ({"media/meetings/签到表.pdf"}, {}, "内容与清单不符"),
        (set(), {"manifest.json": b"{not json"}, "manifest.json 已损坏"),
        (set(), {"manifest.json": b'{"format": "other"}'}, "不是本系统的格式"),
        (set(), {"manifest.json": b'{"format": "zhibu-backup", "format_version": 99}'}, "格式版本 99"),
    ],
)
def test_a_missing_or_foreign_manifest_is_refused(made, tmp_path, drop, replace, message):
    path, _ = made
    with pytest.raises(archive.ArchiveError, match=message):
        _unpack(_rebuild(path, tmp_path / "edited.tar.gz", drop=drop, replace=replace), tmp_path)


def _member(name, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    data = b"owned" if kind == tarfile.REGTYPE else None
    info.size = len(data or b"")
    return info, data


@pytest.mark.parametrize(
    "name, kind, linkname, message",
    [
        ("../{token}.txt", tarfile.REGTYPE, "", "不安全的路径"),
        ("media/../../{token}.txt", tarfile.REGTYPE, "", "不安全的路径"),
        ("./../{token}.txt", tarfile.REGTYPE, "", "不安全的路径"),
        ("{tmp}/{token}.txt", tarfile.REGTYPE, "", "不安全的路径"),
        ("media\\..\\..\\{token}.txt", tarfile.REGTYPE, "", "不安全的文件名"),
        ("media/{token}", tarfile.SYMTYPE, "/etc/passwd", "链接或特殊文件"),
        ("media/{token}", tarfile.LNKTYPE, "database.sqlite3", "链接或特殊文件"),
        ("media/{token}", tarfile.FIFOTYPE, "", "链接或特殊文件"),
        ("config/{token}.py", tarfile.REGTYPE, "", "不属于备份的内容"),
        ("database.sqlite3/{token}", tarfile.REGTYPE, "", "不属于备份的内容"),
        ("database.sqlite3", tarfile.REGTYPE, "", "同一文件出现两次"),
    ],
)
def test_members_that_could_land_outside_or_do_not_belong_are_refused(
    made, tmp_path, name, kind, linkname, message
):
    path, _ = made
    token = f"escape-{uuid.uuid4().hex}"
    hostile = _rebuild(
        path,
        tmp_path / "hostile.tar.gz",
        extra=[_member(name.format(token=token, tmp=tempfile.gettempdir()), kind, linkname)],
    )
    with pytest.raises(archive.ArchiveError, match=message):
        _unpack(hostile, tmp_path)
    assert not list(Path(tempfile.gettempdir()).glob(f"{token}*")) and not list(tmp_path.rglob(f"{token}*"))


def test_media_files_leave_out_links_and_the_backup_being_written(tmp_path):
    media = tmp_path / "media"
    (media / "ledgers").mkdir(parents=True)
    (media / "ledgers" / "台账.xlsx").write_bytes(b"PK")
    (media / "link.pdf").symlink_to("/etc/hostname")
    (media / "zhibu-20261201-023000.tar.gz").write_bytes(b"in progress")

    names = [name for name, _ in archive.media_files(media, skip=[media / "zhibu-20261201-023000.tar.gz"])]

    assert names == ["media/ledgers/台账.xlsx"]


def test_a_backup_from_newer_code_is_refused_and_an_older_one_asks_for_migrate():
    current = services.migration_notes(manifest(migrations={}))  # nothing applied: every migration is new
    assert current and "python manage.py migrate" in current[0]

    with pytest.raises(services.OpsError, match=r"较新版本的程序.*meetings\.0099_later.*0\.9\.0"):
        services.migration_notes(
            manifest(migrations={"meetings": ["0001_initial", "0099_later"]}, app_version="0.9.0")
        )


def test_an_archive_from_the_other_engine_is_refused(sources, tmp_path):
    from django.db import connection

    other = "sqlite" if connection.vendor == "postgresql" else "postgresql"
    path = tmp_path / "other.tar.gz"
    archive.write(
        path, manifest=manifest(engine=other), files=[("database.dump", sources / "database.sqlite3")]
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(services.OpsError, match="不能直接恢复.*均未改动"):
        services.verify(path=path, staging=staging)
