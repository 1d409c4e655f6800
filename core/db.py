"""Database helpers every app may use: index changes that do not block writes, and counts that stay cheap
on tables of millions of rows."""

from __future__ import annotations

import json

from django.contrib.postgres import operations as postgres_operations
from django.db import connections
from django.db.models import QuerySet


class _OnPostgresOnly:
    """PostgreSQL builds and drops the index CONCURRENTLY (writes go on meanwhile); other databases
    (SQLite in development) the ordinary way."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return super(postgres_operations.NotInTransactionMixin, self).database_forwards(
            app_label, schema_editor, from_state, to_state
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return super(postgres_operations.NotInTransactionMixin, self).database_backwards(
            app_label, schema_editor, from_state, to_state
        )


class AddIndexConcurrently(_OnPostgresOnly, postgres_operations.AddIndexConcurrently):
    pass


class RemoveIndexConcurrently(_OnPostgresOnly, postgres_operations.RemoveIndexConcurrently):
    pass


def count_up_to(queryset: QuerySet, limit: int) -> int:
    """The exact count when it is at most `limit`, else `limit + 1`: reads at most `limit + 1` rows."""
    return queryset.order_by().values("pk")[: limit + 1].count()


def estimated_count(queryset: QuerySet) -> int | None:
    """PostgreSQL's planner estimate of the rows the queryset returns (no row is read); None elsewhere."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def count_or_estimate(queryset: QuerySet, *, exact_up_to: int) -> tuple[int, bool]:
    """(count, exact): exact up to `exact_up_to` rows; beyond, PostgreSQL's estimate (at least
    `exact_up_to + 1`). Either way at most `exact_up_to + 1` rows are read."""
    count = count_up_to(queryset, exact_up_to)
    if count <= exact_up_to:
        return count, True
    return max(count, estimated_count(queryset) or 0), False


def distinct_values(model, field_name: str, *, limit: int = 100) -> list:
    """The distinct values of an indexed column, in order, in one index probe per value (a "loose index
    scan") instead of reading every row as `SELECT DISTINCT` does; at most `limit` of them."""
    connection = connections[model.objects.db]
    quote = connection.ops.quote_name
    table, column = quote(model._meta.db_table), quote(model._meta.get_field(field_name).column)
    # Names come from the model, quoted; the limit is a bound parameter.
    sql = f"""
        WITH RECURSIVE found(value) AS (
            SELECT MIN({column}) FROM {table}
            UNION ALL
            SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > found.value) FROM found
            WHERE found.value IS NOT NULL
        )
        SELECT value FROM found WHERE value IS NOT NULL LIMIT %s
    """  # nosec B608
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        return [value for (value,) in cursor.fetchall()]
