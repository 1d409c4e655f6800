"""One UPDATE for many rows, each with values of its own: how a batch of fulfilment writes its payments,
events and inbox rows.

Django's `bulk_update` writes `SET field = CASE WHEN id = … THEN … END` for every field: building that
expression costs Python about a millisecond per row at a hundred rows, and PostgreSQL tests each row
against every branch. On PostgreSQL the rows' values travel as one array per column instead, joined by
primary key (`UPDATE … FROM unnest(…)`): linear on both sides. Other databases keep `bulk_update`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def rows_update(objs: Sequence[Model], fields: Sequence[str]) -> None:
    """Writes `fields` of each instance to its row, in one statement (none when there is no instance)."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objs, fields)
        return
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    arrays = [
        [column.get_db_prep_save(getattr(obj, column.attname), connection) for obj in objs]  # type: ignore[union-attr]
        for column in columns
    ]
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(model, tuple(fields)), arrays)


@functools.cache
def _update_sql(model: type[Model], fields: tuple[str, ...]) -> str:
    meta, quote = model._meta, connection.ops.quote_name
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    names = [quote(column.column) for column in columns]  # type: ignore[union-attr, arg-type]
    arrays = ", ".join(f"%s::{column.db_type(connection)}[]" for column in columns)
    table, key = quote(meta.db_table), names[0]
    assignments = ", ".join(f"{name} = v.{name}" for name in names[1:])
    # Names and types come from the model, quoted; every value is a bound parameter.
    return (
        f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v({', '.join(names)}) "  # nosec B608
        f"WHERE {table}.{key} = v.{key}"
    )
