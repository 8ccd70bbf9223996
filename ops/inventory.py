"""What a database holds, read the same way when a backup is made and after it is restored: the row count
of every table, a checksum of the key tables and the applied migrations.

Everything goes through a plain DB-API cursor and plain SQL, so the backup can read exactly what it
saved: its own SQLite copy, or PostgreSQL inside the snapshot pg_dump used. Columns are cast to text in
SQL, so no driver or Django converter changes a value between the two readings.
"""

import hashlib
import json

from django.apps import apps
from django.db import DatabaseError

# The records people would miss first; each is hashed row by row in primary-key order.
KEY_MODELS = (
    "branches.Organisation",
    "members.Member",
    "members.Membership",
    "meetings.Meeting",
    "meetings.MeetingTypeTag",
    "meetings.Attendance",
    "meetings.Attachment",
    "compliance.Flag",
)
_BATCH = 5000


def quote(identifier):
    # Standard SQL quoting, understood by SQLite and PostgreSQL alike; names may come from a manifest.
    return '"' + str(identifier).replace('"', '""') + '"'


def key_tables():
    """{table: [primary-key column, other columns…]} of the key models as the code defines them."""
    tables = {}
    for label in KEY_MODELS:
        meta = apps.get_model(label)._meta
        columns = [field.column for field in meta.concrete_fields if field.column != meta.pk.column]
        tables[meta.db_table] = [meta.pk.column, *columns]
    return tables


def row_counts(cursor, tables):
    counts = {}
    for table in sorted(tables):
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - quoted identifier
        counts[table] = cursor.fetchone()[0]
    return counts


def table_checksum(cursor, table, columns):
    """SHA-256 over every row of `table` (columns as text, in primary-key order), read in batches by
    key so that millions of attendance rows never sit in memory at once."""
    pk, *_ = columns
    # Qualified with an alias: PostgreSQL names CAST(x AS TEXT) "x", which would make ORDER BY x ambiguous.
    key = f"t.{quote(pk)}"
    select = ", ".join([key, *(f"CAST(t.{quote(c)} AS TEXT)" for c in columns)])
    digest = hashlib.sha256()
    last = None
    while True:
        after = "" if last is None else f" WHERE {key} > {int(last)}"
        cursor.execute(
            f"SELECT {select} FROM {quote(table)} AS t{after} ORDER BY {key} LIMIT {_BATCH}"  # noqa: S608
        )
        rows = cursor.fetchall()
        for row in rows:
            digest.update(json.dumps(row[1:], ensure_ascii=False).encode())
            digest.update(b"\n")
        if len(rows) < _BATCH:
            return digest.hexdigest()
        last = rows[-1][0]


def checksums(cursor, tables):
    """{table: {"columns": [...], "sha256": ...}}; the columns are kept so that a later check reads the
    same columns even if the code has added some since."""
    return {
        table: {"columns": list(columns), "sha256": table_checksum(cursor, table, columns)}
        for table, columns in tables.items()
    }


def applied_migrations(cursor):
    cursor.execute("SELECT app, name FROM django_migrations")
    applied = {}
    for app, name in cursor.fetchall():
        applied.setdefault(app, []).append(name)
    return {app: sorted(names) for app, names in sorted(applied.items())}


def describe(cursor, tables):
    """The manifest's picture of a database: row counts, key-table checksums, applied migrations."""
    return {
        "row_counts": row_counts(cursor, tables),
        "checksums": checksums(cursor, key_tables()),
        "migrations": applied_migrations(cursor),
    }


def compare(cursor, manifest):
    """Differences between the database behind `cursor` (Django's, in autocommit) and the manifest: a list of Chinese lines,
    empty when every row count and checksum matches."""
    problems = []
    for table, expected in sorted(manifest.get("row_counts", {}).items()):
        try:
            actual = row_counts(cursor, [table])[table]
        except DatabaseError:  # a missing table is a finding, not a crash
            problems.append(f"表 {table} 不存在（备份中有 {expected} 行）")
            continue
        if actual != expected:
            problems.append(f"表 {table}：备份中 {expected} 行，恢复后 {actual} 行")
    for table, entry in sorted(manifest.get("checksums", {}).items()):
        try:
            actual = table_checksum(cursor, table, entry["columns"])
        except DatabaseError:
            problems.append(f"表 {table} 无法读取，无法核对校验和")
            continue
        if actual != entry["sha256"]:
            problems.append(f"表 {table} 的校验和与备份不一致")
    return problems
