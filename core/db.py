"""Database helpers every app may use: index changes that do not block writes, and counts that stay cheap
on tables of millions of rows."""

from __future__ import annotations

import json
from typing import Any

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


def counts_up_to(querysets: dict[str, QuerySet], limit: int) -> dict[str, int]:
    """Each queryset's exact count when it is at most `limit`, else `limit + 1`, in one statement (one
    round trip, whatever their number); each count reads at most `limit + 1` rows."""
    selects: list[str] = []
    params: list[Any] = []
    using = "default"
    for queryset in querysets.values():
        using = queryset.db
        sql, query_params = queryset.order_by().values("pk")[: limit + 1].query.sql_with_params()
        # The ORM's own SQL, every value a bound parameter.
        selects.append(f"(SELECT COUNT(*) FROM ({sql}) AS counted)")  # nosec B608
        params.extend(query_params)
    if not selects:
        return {}
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(selects)}", params)
        return dict(zip(querysets, cursor.fetchone(), strict=True))


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


def counts_or_estimates(querysets: dict[str, QuerySet], *, exact_up_to: int) -> dict[str, tuple[int, bool]]:
    """(count, exact) of each queryset: exact up to `exact_up_to` rows; beyond, PostgreSQL's estimate (at
    least `exact_up_to + 1`). Either way each count reads at most `exact_up_to + 1` rows."""
    counts = counts_up_to(querysets, exact_up_to)
    return {
        name: (count, True) if count <= exact_up_to else (max(count, estimated_count(querysets[name]) or 0), False)
        for name, count in counts.items()
    }


def count_or_estimate(queryset: QuerySet, *, exact_up_to: int) -> tuple[int, bool]:
    return counts_or_estimates({"rows": queryset}, exact_up_to=exact_up_to)["rows"]


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


def on_postgresql(*statements: str):
    """A RunPython function running SQL on PostgreSQL only: for a migration whose PostgreSQL side is cheaper
    by hand (a rename instead of a rebuild) while SQLite rebuilds its tables from the migration state."""

    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run
