"""The soak stands in for autovacuum where the server runs without it: its database vacuumed as it would be."""

from __future__ import annotations

import os
import urllib.parse

import psycopg
import pytest

from bench.soak_stack import vacuum_database

pytestmark = pytest.mark.django_db(transaction=True)  # VACUUM runs outside any transaction


def test_a_vacuum_reclaims_the_dead_rows_updates_left(django_db_setup):
    # given: a table of the test database whose every row was updated once (one dead row each)
    from django.conf import settings

    url = (
        urllib.parse.urlparse(os.environ["DATABASE_URL"])
        ._replace(path="/" + settings.DATABASES["default"]["NAME"])
        .geturl()
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE soak_vacuum_probe (id int PRIMARY KEY, n int)")
        try:
            conn.execute("INSERT INTO soak_vacuum_probe SELECT g, 0 FROM generate_series(1, 1000) g")
            conn.execute("UPDATE soak_vacuum_probe SET n = 1")
            conn.execute("SELECT pg_stat_force_next_flush()")

            # when
            vacuum_database(url)

            # then
            dead, vacuumed = conn.execute(
                "SELECT n_dead_tup, last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'soak_vacuum_probe'"
            ).fetchone()
        finally:
            conn.execute("DROP TABLE soak_vacuum_probe")
    assert (dead, vacuumed) == (0, True)
