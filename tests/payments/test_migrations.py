"""Migrations that change how PostgreSQL stores the inbox, applied and reverted on the real database."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOAD_LZ4 = ("payments", "0011_stripe_event_payload_lz4")
TABLE = "payments_stripeevent"


def _storage() -> tuple[str, set[str]]:
    """The payload column's compression method and the columns that have a LIKE (`varchar_pattern_ops`) index."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'payload'", [TABLE]
        )
        compression = cursor.fetchone()[0]
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [TABLE])
        like = {d.split("(")[1].split()[0] for (d,) in cursor.fetchall() if "varchar_pattern_ops" in d}
    return {"l": "lz4", "p": "pglz", "": "default"}[compression], like


def _migrate(target: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(target)


def test_the_inbox_stores_payloads_with_lz4_without_like_indexes_and_reverting_restores_the_default():
    # given: the database as migrations leave it
    migration = importlib.import_module(f"{PAYLOAD_LZ4[0]}.migrations.{PAYLOAD_LZ4[1]}").Migration
    before = list(migration.dependencies)
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes(PAYLOAD_LZ4[0])

    # then
    assert _storage() == ("lz4", set())

    # when: reverted
    try:
        _migrate(before)

        # then: PostgreSQL's default compression again
        assert _storage() == ("default", set())
    finally:
        _migrate(latest)

    # and applied again
    assert _storage() == ("lz4", set())
