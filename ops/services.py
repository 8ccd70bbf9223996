"""Backup and restore of the whole instance: the database and the uploaded files, as one archive.

A restore checks the entire archive (every member's path, size and SHA-256, the engine and the migration
state) before it touches anything, restores the database, then the files, and finally re-reads the row
counts and key-table checksums and compares them with the manifest.
"""

import platform
import re
import shutil
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import django
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from ops import archive, dumps, inventory

BACKUP_NAME = re.compile(r"^zhibu-\d{8}-\d{6}\.tar\.gz$")
ENGINE_LABELS = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


class OpsError(Exception):
    """A backup or restore that cannot go on; the message (Chinese) says why and what to do."""


@dataclass
class RestoreResult:
    manifest: dict
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    media_restored: int = 0
    media_kept: int = 0


def default_directory():
    return Path(settings.VAR_DIR) / "backups"


def _target_path(output, now):
    name = f"zhibu-{timezone.localtime(now):%Y%m%d-%H%M%S}.tar.gz"
    if output is None:
        directory = default_directory()
        directory.mkdir(parents=True, exist_ok=True)
        return directory / name
    path = Path(output)
    if path.is_dir() or str(output).endswith(("/", "\\")):
        path.mkdir(parents=True, exist_ok=True)
        return path / name
    if not path.parent.is_dir():
        raise OpsError(f"目录不存在：{path.parent}")
    return path


def _app_version():
    try:
        return metadata.version("zhibu")
    except metadata.PackageNotFoundError:
        return "unknown"


def _base_manifest(connection, engine, now):
    return {
        "format": archive.FORMAT,
        "format_version": archive.FORMAT_VERSION,
        "created_at": timezone.localtime(now).isoformat(timespec="seconds"),
        "engine": engine,
        "database": str(connection.settings_dict["NAME"]),
        "app_version": _app_version(),
        "django_version": django.get_version(),
        "python_version": platform.python_version(),
    }


def _dump_postgresql(connection, target):
    # A read-only REPEATABLE READ transaction exports its snapshot to pg_dump and then counts and hashes
    # inside that same snapshot: a write arriving meanwhile is in neither.
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        dumps.pg_dump(connection, target, snapshot=snapshot)
        return inventory.describe(cursor, connection.introspection.table_names(cursor))


def _dump_sqlite(connection, target):
    dumps.sqlite_backup(connection, target)
    with closing(sqlite3.connect(target)) as copy:
        cursor = copy.cursor()
        return inventory.describe(cursor, dumps.sqlite_tables(cursor))


def create_backup(*, output=None, keep=None, now=None, using=DEFAULT_DB_ALIAS):
    """Write one archive (database + MEDIA_ROOT + manifest.json) and return (path, manifest). With
    `keep`, only the newest `keep` backups named by this command stay in the target's folder."""
    if keep is not None and keep < 1:
        raise OpsError("--keep 至少为 1。")
    now = now or timezone.now()
    connection = connections[using]
    try:
        engine = dumps.engine_of(connection)
    except dumps.DumpError as exc:
        raise OpsError(str(exc)) from exc
    if connection.in_atomic_block:
        # PostgreSQL's snapshot must start its own transaction; SQLite would copy uncommitted rows.
        raise OpsError("不能在数据库事务中备份，请直接运行 manage.py backup。")
    path = _target_path(output, now)
    with tempfile.TemporaryDirectory(prefix="zhibu-backup-") as folder:
        dump = Path(folder) / archive.DATABASE_MEMBERS[engine]
        try:
            described = (_dump_postgresql if engine == "postgresql" else _dump_sqlite)(connection, dump)
        except (dumps.DumpError, sqlite3.Error) as exc:
            raise OpsError(f"备份失败：{exc}") from exc
        files = [(dump.name, dump), *archive.media_files(settings.MEDIA_ROOT, skip=[path])]
        manifest = archive.write(
            path, manifest={**_base_manifest(connection, engine, now), **described}, files=files
        )
    if keep is not None:
        prune(path.parent, keep=keep)
    return path, manifest


def prune(directory, *, keep):
    """Remove all but the newest `keep` archives this command named (zhibu-YYYYmmdd-HHMMSS.tar.gz)."""
    backups = sorted(p for p in Path(directory).iterdir() if p.is_file() and BACKUP_NAME.match(p.name))
    for old in backups[:-keep]:
        old.unlink()
    return backups[:-keep]


def migration_notes(manifest):
    """Refuse an archive whose migrations the code does not have (it comes from a newer version);
    return notes for one the code is ahead of (run migrate after restoring)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = set(loader.disk_migrations)
    for squashed in loader.replacements.values():
        known.update(squashed.replaces)
    archived = {(app, name) for app, names in manifest.get("migrations", {}).items() for name in names}
    ahead = sorted(archived - known)
    if ahead:
        listed = "、".join(f"{app}.{name}" for app, name in ahead[:5])
        raise OpsError(
            f"备份来自较新版本的程序（其数据库结构包含当前程序没有的迁移：{listed}"
            f"{' 等' if len(ahead) > 5 else ''}），不能恢复到当前版本。请先升级程序到备份时的版本"
            f"（{manifest.get('app_version', '未知')}）或更新的版本，再恢复。数据库和上传文件均未改动。"
        )
    behind = sorted(set(loader.disk_migrations) - archived)
    if behind:
        return [f"备份之后程序新增了 {len(behind)} 个数据库迁移：恢复后请运行 python manage.py migrate。"]
    return []


def verify(*, path, staging, using=DEFAULT_DB_ALIAS):
    """Unpack `path` into `staging` and check it can be restored here; nothing is touched. Returns
    (manifest, notes)."""
    try:
        manifest = archive.unpack(path, staging)
    except archive.ArchiveError as exc:
        raise OpsError(f"{exc}数据库和上传文件均未改动。") from exc
    try:
        engine = dumps.engine_of(connections[using])
    except dumps.DumpError as exc:
        raise OpsError(str(exc)) from exc
    archived_engine = manifest.get("engine")
    if archived_engine != engine:
        raise OpsError(
            f"备份来自 {ENGINE_LABELS.get(archived_engine, archived_engine)} 数据库，当前数据库是 "
            f"{ENGINE_LABELS[engine]}，不能直接恢复。数据库和上传文件均未改动。"
        )
    if archive.DATABASE_MEMBERS[engine] not in manifest["files"]:
        raise OpsError("备份文件中没有数据库导出，不能恢复。")
    return manifest, migration_notes(manifest)


def _restore_media(staging):
    """Put every archived file back byte for byte; files uploaded after the backup are left in place
    (their records are gone with the restore, but deleting someone's upload is not a restore's job)."""
    source_root = Path(staging) / archive.MEDIA_DIR
    media_root = Path(settings.MEDIA_ROOT)
    restored = set()
    for name, source in archive.media_files(source_root):
        relative = name.removeprefix(f"{archive.MEDIA_DIR}/")
        target = media_root.joinpath(*relative.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + ".restoring")
        shutil.copyfile(source, temporary)
        temporary.replace(target)
        restored.add(target.resolve())
    kept = sum(1 for _, path in archive.media_files(media_root) if path.resolve() not in restored)
    return len(restored), kept


def restore_backup(*, path, confirm=None, using=DEFAULT_DB_ALIAS):
    """Restore the archive at `path`. `confirm(manifest, notes)` is asked once the archive has been fully
    checked; a False answer returns None with nothing changed."""
    connection = connections[using]
    with tempfile.TemporaryDirectory(prefix="zhibu-restore-") as folder:
        staging = Path(folder)
        manifest, notes = verify(path=path, staging=staging, using=using)
        if confirm is not None and not confirm(manifest, notes):
            return None
        dump = staging / archive.DATABASE_MEMBERS[manifest["engine"]]
        try:
            if manifest["engine"] == "postgresql":
                # pg_restore drops and recreates tables: no connection of ours may hold them meanwhile.
                connections.close_all()
                dumps.pg_restore(connection, dump)
            else:
                dumps.sqlite_restore(connection, dump)
        except dumps.DumpError as exc:
            raise OpsError(str(exc)) from exc
        restored, kept = _restore_media(staging)
    with connection.cursor() as cursor:
        problems = inventory.compare(cursor, manifest)
    return RestoreResult(manifest, problems, notes, restored, kept)
