"""Indexes for an inbox of millions of rows: arrival order, and partial indexes for the unfinished and the
failed rows (as small as the backlog). Built CONCURRENTLY on PostgreSQL, so webhook inserts go on meanwhile;
the new ones exist before the old (status, received_at) index goes.

The Stripe event id keeps its unique B-tree (renamed, not rebuilt); the `varchar_pattern_ops` copies that
only prefix LIKE queries used go, and the PaymentIntent index is replaced by one without the rows still
`enqueued`: each cost every webhook insert a write to a cold page."""

from django.conf import settings
from django.db import migrations, models

from core.db import AddIndexConcurrently, RemoveIndexConcurrently, on_postgresql

INBOX = "payments_stripeevent"
STRIPE_ID_LIKE = "payments_stripeevent_stripe_id_50471ac2_like"
PAYMENT_INTENT = "payments_stripeevent_payment_intent_id_4f4c6a1c"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("payments", "0009_lifecycle"),
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
        # The PaymentIntent index leaves out the rows a webhook inserts (`enqueued`): built before the
        # full one goes.
        AddIndexConcurrently(
            model_name="stripeevent",
            index=models.Index(
                condition=models.Q(("status", "enqueued"), _negated=True),
                fields=["payment_intent_id"],
                name="stripe_event_payment_intent",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="stripeevent",
                    name="payment_intent_id",
                    field=models.CharField(blank=True, default="", max_length=255),
                ),
                migrations.AlterField(
                    model_name="stripeevent", name="stripe_id", field=models.CharField(max_length=255)
                ),
                migrations.AddConstraint(
                    model_name="stripeevent",
                    constraint=models.UniqueConstraint(fields=("stripe_id",), name="stripe_event_stripe_id_unique"),
                ),
            ],
            database_operations=[
                migrations.RunPython(
                    on_postgresql(
                        f"ALTER TABLE {INBOX} RENAME CONSTRAINT {INBOX}_stripe_id_key TO stripe_event_stripe_id_unique",
                        f"DROP INDEX CONCURRENTLY IF EXISTS {STRIPE_ID_LIKE}",
                        f"DROP INDEX CONCURRENTLY IF EXISTS {PAYMENT_INTENT}",
                        f"DROP INDEX CONCURRENTLY IF EXISTS {PAYMENT_INTENT}_like",
                    ),
                    on_postgresql(
                        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {PAYMENT_INTENT}_like "
                        f"ON {INBOX} (payment_intent_id varchar_pattern_ops)",
                        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {PAYMENT_INTENT} ON {INBOX} (payment_intent_id)",
                        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {STRIPE_ID_LIKE} ON {INBOX} (stripe_id varchar_pattern_ops)",
                        f"ALTER TABLE {INBOX} RENAME CONSTRAINT stripe_event_stripe_id_unique TO {INBOX}_stripe_id_key",
                    ),
                ),
            ],
        ),
        AddIndexConcurrently(
            model_name="payment",
            index=models.Index(fields=["created_at", "id"], name="payment_created"),
        ),
        AddIndexConcurrently(
            model_name="payment",
            index=models.Index(fields=["user", "created_at", "id"], name="payment_user_created"),
        ),
    ]
