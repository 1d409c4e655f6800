"""Indexes for an inbox of millions of rows: arrival order, and partial indexes for the unfinished and the
failed rows (as small as the backlog). Built CONCURRENTLY on PostgreSQL, so webhook inserts go on meanwhile;
the new ones exist before the old (status, received_at) index goes."""

from django.conf import settings
from django.db import migrations, models

from core.db import AddIndexConcurrently, RemoveIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("payments", "0003_event_payment_status"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="stripeevent",
            index=models.Index(fields=["received_at", "id"], name="stripe_event_received"),
        ),
        AddIndexConcurrently(
            model_name="stripeevent",
            index=models.Index(
                condition=models.Q(("status__in", ["received", "enqueued"])),
                fields=["received_at", "id"],
                name="stripe_event_unfinished",
            ),
        ),
        AddIndexConcurrently(
            model_name="stripeevent",
            index=models.Index(
                condition=models.Q(("status", "failed")), fields=["received_at", "id"], name="stripe_event_failed"
            ),
        ),
        RemoveIndexConcurrently(model_name="stripeevent", name="payments_st_status_2bb272_idx"),
        AddIndexConcurrently(
            model_name="payment",
            index=models.Index(fields=["created_at", "id"], name="payment_created"),
        ),
        AddIndexConcurrently(
            model_name="payment",
            index=models.Index(fields=["user", "created_at", "id"], name="payment_user_created"),
        ),
    ]
