"""The admin lists every organiser's events newest first: an index in that order (built CONCURRENTLY on
PostgreSQL, so writes go on meanwhile)."""

from django.db import migrations, models

from core.db import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("events", "0004_deleted_at_eventaction"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="event",
            index=models.Index(fields=["created_at", "id"], name="event_created"),
        ),
    ]
