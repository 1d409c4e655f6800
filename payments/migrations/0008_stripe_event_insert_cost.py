"""The webhook inbox's cost per insert on PostgreSQL: the payload compressed with lz4, and no LIKE indexes.

- `payload` (2–4 KB of JSON per event) is compressed when stored; lz4 takes a fraction of pglz's CPU
  (PostgreSQL's default), for a slightly larger row. Rows stored before keep pglz until rewritten.
- Django gives every indexed or unique varchar a second, `varchar_pattern_ops` index for `LIKE 'x%'`.
  No query on the inbox runs one: ids are looked up exactly (the admin's search of an `evt_…`/`pi_…` id,
  catch-up's `stripe_id IN (…)`, the upsert's `ON CONFLICT (stripe_id)`), and the admin's free-text search
  is `UPPER(…) LIKE '%…%'`, which these indexes cannot serve. Each costs every insert a B-tree insertion.
  The unique constraint and the plain `payment_intent_id` index stay.

Other databases (SQLite for `make run`) are left as they are.
"""

from django.db import migrations

TABLE = "payments_stripeevent"
LIKE_INDEXED = ("stripe_id", "payment_intent_id")


def _like_indexes(schema_editor) -> list[tuple[str, str]]:
    """(column, index name) of the LIKE indexes, named as Django's PostgreSQL schema editor names them."""
    return [
        (column, schema_editor.quote_name(schema_editor._create_index_name(TABLE, [column], suffix="_like")))
        for column in LIKE_INDEXED
    ]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN payload SET COMPRESSION lz4")
    for _column, name in _like_indexes(schema_editor):
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN payload SET COMPRESSION DEFAULT")
    for column, name in _like_indexes(schema_editor):
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} ({column} varchar_pattern_ops)")


class Migration(migrations.Migration):
    dependencies = [("payments", "0003_event_payment_status")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
