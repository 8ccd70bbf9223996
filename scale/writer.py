"""Bulk writes straight to the tables: COPY on PostgreSQL, executemany INSERTs on SQLite.

Rows are plain tuples in a declared column order with explicit primary keys, so the generator
can point foreign keys at rows it has not written yet. Sequences are reset at the end.
"""

import io
from datetime import UTC, date, datetime, time
from decimal import Decimal

from django.core.management.color import no_style
from django.db import connection, models, transaction

BATCH = {"postgresql": 100_000, "sqlite": 20_000}


def _pg_text(value):
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _sqlite_value(value):
    if isinstance(value, datetime):
        # Django keeps aware datetimes in SQLite as naive UTC text.
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class Table:
    def __init__(self, writer, model, fields):
        self.writer = writer
        self.model = model
        self.fields = fields
        self.columns = [model._meta.get_field(name).column for name in fields]
        self.rows = []
        self.written = 0
        self.next_id = writer.next_id(model)

    def new_id(self):
        value = self.next_id
        self.next_id += 1
        return value

    def add(self, row):
        self.rows.append(row)
        if len(self.rows) >= self.writer.batch:
            self.flush()

    def flush(self):
        if not self.rows:
            return
        # Tables are declared parents first: write those rows before any row that points at them.
        for table in self.writer.tables.values():
            if table is self:
                break
            table.flush()
        self.writer.write(self, self.rows)
        self.written += len(self.rows)
        self.rows = []


class Writer:
    def __init__(self):
        self.vendor = connection.vendor
        self.batch = BATCH.get(self.vendor, 5_000)
        self.tables = {}

    def table(self, model, fields):
        table = Table(self, model, fields)
        self.tables[model] = table
        return table

    @staticmethod
    def next_id(model):
        top = model.objects.aggregate(top=models.Max("pk"))["top"]
        return (top or 0) + 1

    def write(self, table, rows):
        name = connection.ops.quote_name(table.model._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(c) for c in table.columns)
        with transaction.atomic(), connection.cursor() as cursor:
            if self.vendor == "postgresql":
                buffer = io.StringIO()
                buffer.writelines("\t".join(_pg_text(v) for v in row) + "\n" for row in rows)
                buffer.seek(0)
                cursor.cursor.copy_expert(f"COPY {name} ({columns}) FROM STDIN", buffer)
            else:
                marks = ", ".join(["%s"] * len(table.columns))
                cursor.executemany(
                    f"INSERT INTO {name} ({columns}) VALUES ({marks})",  # noqa: S608 -- our own names
                    [tuple(_sqlite_value(v) for v in row) for row in rows],
                )

    def finish(self):
        for table in self.tables.values():
            table.flush()
        statements = connection.ops.sequence_reset_sql(no_style(), list(self.tables))
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
            if self.vendor == "postgresql":
                # As autovacuum would leave freshly loaded tables on a server: statistics for the planner,
                # and (outside a transaction: VACUUM cannot run in one) the visibility map that index-only
                # scans need and the hint bits that the first reader would otherwise write.
                command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
                for model in self.tables:
                    cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
        return {model._meta.label: table.written for model, table in self.tables.items()}
