"""The webhook inbox's cost per insert on PostgreSQL: the payload compressed with lz4.

`payload` (2–4 KB of JSON per event) is compressed when stored; lz4 takes a fraction of pglz's CPU
(PostgreSQL's default), for a slightly larger row. Rows stored before keep pglz until rewritten.
(The `varchar_pattern_ops` copies of the id indexes, which no query used, went in 0010.)

Other databases (SQLite for `make run`) are left as they are.
"""

from django.db import migrations

TABLE = "payments_stripeevent"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN payload SET COMPRESSION lz4")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN payload SET COMPRESSION DEFAULT")


class Migration(migrations.Migration):
    dependencies = [("payments", "0010_scale_indexes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
