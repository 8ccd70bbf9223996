"""Several querysets read in one round trip.

A refresh after a write reads some twenty small sets for its branch (meetings per month, terms,
members, dues, attendance, open flags …). On PostgreSQL they go to the server as one statement: each
queryset's own SQL becomes a subquery folded into a JSON array, so the refresh costs one read
whatever it reads. Elsewhere (SQLite in development), and for big scopes where one statement would
lose PostgreSQL's parallel plans, each queryset is simply evaluated.

The rows come back shaped as iterating the queryset gives them: dicts for `values()`, tuples for
`values_list()`, single values for `values_list(flat=True)`. Model querysets are refused: a refresh
reads plain values. Folded, the values are decoded by the column's field type only (dates, times,
decimals); Django's own conversions are not applied: a field's `from_db_value`, the time zone of a
datetime truncated on the server, an integer typed as such but computed as a decimal. Read plain
columns, and `Cast` what the server computes.
"""

import json
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models.query import FlatValuesListIterable, ValuesIterable, ValuesListIterable

# JSON has no dates or exact decimals: the server writes them as ISO text and numbers.
DECODERS = {
    # A date truncated on the server (TruncMonth) arrives as a midnight timestamp: its date is what counts.
    "DateField": lambda value: date.fromisoformat(value[:10]),
    "DateTimeField": datetime.fromisoformat,
    "TimeField": time.fromisoformat,
    "DecimalField": lambda value: Decimal(str(value)),
    "FloatField": float,
}


def read_together(querysets, *, together=True):
    """The rows of each queryset, in order: one statement on PostgreSQL when `together`."""
    querysets = list(querysets)
    if not querysets:
        return []
    for qs in querysets:
        if qs._iterable_class not in SHAPES:
            raise TypeError("read_together reads values() or values_list() querysets")
    if not together or connections[querysets[0].db].vendor != "postgresql" or len(querysets) == 1:
        return [_rows(qs) for qs in querysets]
    return fold(querysets).run()


def _rows(qs):
    """The queryset's rows, shaped as iterating it gives them. On PostgreSQL they are taken straight
    from the cursor: for the 30,000 members of a county, Django's row-by-row machinery costs more than
    the query. A field's own conversions (`from_db_value`, an aggregate's type) are still applied."""
    connection = connections[qs.db]
    if connection.vendor != "postgresql":
        return list(qs)
    compiler = qs.query.get_compiler(qs.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return []
    if compiler.has_extra_select:  # columns added for a DISTINCT's ordering, which Django cuts off again
        return list(qs)
    converters = compiler.get_converters([expression for expression, _sql, _alias in compiler.select])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if converters:
        rows = compiler.apply_converters(rows, converters)
    return _shape(qs, [None] * len(compiler.select))(rows)


@dataclass(frozen=True)
class Folded:
    """Querysets compiled into one statement. `run` may bind other values of the same types in the
    same places: a caller that reads the same shapes again (a write's refresh, for another branch)
    keeps the statement and skips building and compiling some twenty querysets."""

    alias: str
    sql: str
    params: tuple
    shapes: tuple

    def run(self, params=None):
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.sql, self.params if params is None else params)
            texts = cursor.fetchone()
        return [
            shape(json.loads(text, parse_float=Decimal))
            for shape, text in zip(self.shapes, texts, strict=True)
        ]


def fold(querysets):
    """One PostgreSQL statement returning each queryset's rows as a JSON array (one column each)."""
    alias = querysets[0].db
    parts, params, shapes = [], [], []
    for qs in querysets:
        if qs.db != alias:
            raise ValueError("read_together reads from one database")
        sql, part_params, shape = _folded(qs)
        parts.append(sql)
        params.extend(part_params)
        shapes.append(shape)
    return Folded(alias, "SELECT " + ", ".join(parts), tuple(params), tuple(shapes))


def _folded(qs):
    """(SQL of a scalar subquery giving the queryset's rows as a JSON array of arrays, params, shape)."""
    compiler = qs.query.get_compiler(qs.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # a filter no row can pass (`pk__in=[]`): Django sends no SQL, nor do we
        return "'[]'", [], lambda rows: []
    decoders = [
        DECODERS.get(expression.output_field.get_internal_type())
        for expression, _sql, _alias in compiler.select
    ]
    columns = [f"c{index}" for index in range(len(decoders))]
    # Only Django's own compiled SQL and the column names above go into the text; values stay params.
    folded = (
        f"(SELECT coalesce(json_agg(json_build_array({', '.join('t.' + c for c in columns)})), '[]')::text "  # noqa: S608
        f"FROM ({sql}) AS t({', '.join(columns)}))"
    )
    return folded, params, _shape(qs, decoders)


SHAPES = (ValuesIterable, ValuesListIterable, FlatValuesListIterable)


def _shape(qs, decoders):
    def decode(row):
        return [
            value if value is None or decoder is None else decoder(value)
            for value, decoder in zip(row, decoders, strict=True)
        ]

    if not any(decoders):
        decode = tuple  # nothing to decode: skip a call per value
    iterable = qs._iterable_class
    if iterable is ValuesIterable:
        query = qs.query
        names = list(query.selected) if query.selected else [
            *query.extra_select, *query.values_select, *query.annotation_select,
        ]  # fmt: skip
        return lambda rows: [dict(zip(names, decode(row), strict=True)) for row in rows]
    if iterable is ValuesListIterable:
        return lambda rows: [tuple(decode(row)) for row in rows]
    if iterable is FlatValuesListIterable:
        return lambda rows: [decode(row)[0] for row in rows]
    raise TypeError("read_together reads values() or values_list() querysets")
