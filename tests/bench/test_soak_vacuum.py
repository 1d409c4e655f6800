"""The soak stands in for autovacuum where the server runs without it: its tables vacuumed as autovacuum would."""

from __future__ import annotations

import os
import time
import urllib.parse

import psycopg
import pytest

from bench.soak_stack import vacuum_due_tables

pytestmark = pytest.mark.django_db(transaction=True)  # VACUUM runs outside any transaction


@pytest.fixture
def database_url(django_db_setup) -> str:
    from django.conf import settings

    return (
        urllib.parse.urlparse(os.environ["DATABASE_URL"])
        ._replace(path="/" + settings.DATABASES["default"]["NAME"])
        .geturl()
    )


def _stat(conn: psycopg.Connection, table: str, column: str = "n_dead_tup") -> int:
    conn.execute("SELECT pg_stat_clear_snapshot()")  # a fresh read of the statistics, not this transaction's
    query = f"SELECT {column} FROM pg_stat_user_tables WHERE relname = %s"  # our own names
    return conn.execute(query, [table]).fetchone()[0]


def _flushed(conn: psycopg.Connection, column: str, **at_least: int) -> None:
    """Waits until the server's statistics, as another connection reads them, hold this connection's changes
    (a backend reports them within a second or so, maybe after a VACUUM that then seems to come first)."""
    conn.execute("SELECT pg_stat_force_next_flush()")
    deadline = time.monotonic() + 10
    while any(_stat(conn, table, column) < n for table, n in at_least.items()):
        assert time.monotonic() < deadline, "the statistics were not flushed"
        time.sleep(0.1)


def test_only_the_tables_past_autovacuums_thresholds_are_vacuumed(database_url):
    # given: two tables of 1,000 rows, vacuumed and analysed; every row of one updated, ten of the other
    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in ("soak_vacuum_churned", "soak_vacuum_quiet"):
            conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, n int)")
            conn.execute(f"INSERT INTO {table} SELECT g, 0 FROM generate_series(1, 1000) g")
            _flushed(conn, "n_mod_since_analyze", **{table: 1000})
            conn.execute(f"VACUUM (ANALYZE) {table}")
        try:
            conn.execute("UPDATE soak_vacuum_churned SET n = 1")
            conn.execute("UPDATE soak_vacuum_quiet SET n = 1 WHERE id <= 10")
            _flushed(conn, "n_dead_tup", soak_vacuum_churned=1000, soak_vacuum_quiet=10)

            # when
            done = vacuum_due_tables(database_url)

            # then: 1,000 dead rows pass 50 + 20 % of 1,000; 10 do not (nor the analyze threshold, 50 + 10 %)
            churned, quiet = _stat(conn, "soak_vacuum_churned"), _stat(conn, "soak_vacuum_quiet")
        finally:
            conn.execute("DROP TABLE soak_vacuum_churned, soak_vacuum_quiet")
    assert "VACUUM (ANALYZE) soak_vacuum_churned" in done
    assert not any(line.endswith(" soak_vacuum_quiet") for line in done)
    assert (churned, quiet) == (0, 10)
