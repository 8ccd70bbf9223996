"""Dumping and restoring the database itself, per engine.

PostgreSQL: pg_dump (custom format) inside a snapshot the caller exported, so the manifest's counts
describe exactly what was dumped; pg_restore in one transaction, so a failure leaves the database as it
was. Connection settings come from Django's DATABASES; the password travels in PGPASSWORD, never on a
command line that `ps` would show.
SQLite: the backup API, page by page under SQLite's own locking, never a copy of a live file (a copy can
catch a write half done, or miss what still sits in the WAL).
"""

import os
import sqlite3
import subprocess
from contextlib import closing

ENGINES = {"postgresql": "postgresql", "sqlite": "sqlite"}


class DumpError(Exception):
    """The dump or restore failed; the message is for the operator."""


def engine_of(connection):
    engine = ENGINES.get(connection.vendor)
    if engine is None:
        raise DumpError(f"不支持备份 {connection.vendor} 数据库，只支持 PostgreSQL 和 SQLite。")
    return engine


def _pg_environment(settings_dict):
    env = os.environ.copy()
    options = settings_dict.get("OPTIONS") or {}
    values = {
        "PGHOST": settings_dict.get("HOST"),
        "PGPORT": settings_dict.get("PORT"),
        "PGUSER": settings_dict.get("USER"),
        "PGPASSWORD": settings_dict.get("PASSWORD"),
        "PGDATABASE": settings_dict.get("NAME"),
        "PGSSLMODE": options.get("sslmode"),
        "PGSSLROOTCERT": options.get("sslrootcert"),
    }
    env.update({key: str(value) for key, value in values.items() if value})
    return env


def _run(arguments, settings_dict, failure):
    try:
        result = subprocess.run(  # noqa: S603 - an argument list, no shell
            arguments, env=_pg_environment(settings_dict), capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise DumpError(
            f"找不到 {arguments[0]}：请安装与数据库服务器主版本相同的 PostgreSQL 客户端（postgresql-client）。"
        ) from exc
    if result.returncode != 0:
        raise DumpError(f"{failure}（{arguments[0]} 退出码 {result.returncode}）：{result.stderr.strip()}")
    return result


def pg_dump(connection, path, *, snapshot):
    _run(
        ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={path}"],
        connection.settings_dict,
        "导出数据库失败",
    )


def pg_restore(connection, path):
    # --clean --if-exists drops what the dump recreates; --no-owner / --no-privileges let another role
    # restore it; --single-transaction makes it all or nothing.
    _run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            f"--dbname={connection.settings_dict['NAME']}",
            str(path),
        ],
        connection.settings_dict,
        "恢复数据库失败，数据库未改动（pg_restore 在一个事务中执行，出错即全部撤销）",
    )


def sqlite_backup(connection, path):
    """Copy the live database (Django's own connection, so an in-memory test database works too)."""
    connection.ensure_connection()
    with closing(sqlite3.connect(path)) as target:
        connection.connection.backup(target)


def sqlite_restore(connection, path):
    """Replace the live database's pages with the archive's in one step: SQLite commits the whole copy or
    nothing."""
    connection.ensure_connection()
    if connection.in_atomic_block:
        raise DumpError("不能在事务中恢复数据库。")
    with closing(sqlite3.connect(path)) as source:
        try:
            source.backup(connection.connection)
        except sqlite3.Error as exc:
            raise DumpError(f"恢复数据库失败：{exc}") from exc


def sqlite_tables(cursor):
    cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return sorted(name for (name,) in cursor.fetchall())
