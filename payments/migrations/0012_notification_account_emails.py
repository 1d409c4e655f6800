"""Account emails (verify the address, reset the password) go through the notifications outbox: a row has
a user, and a payment only when it is about one. Existing rows take their payment's organiser."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def user_from_payment(apps, schema_editor):
    Notification = apps.get_model("payments", "Notification")
    Payment = apps.get_model("payments", "Payment")
    Notification.objects.update(
        user_id=models.Subquery(Payment.objects.filter(pk=models.OuterRef("payment_id")).values("user_id")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0011_stripe_event_payload_lz4"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="user",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="notifications",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(user_from_payment, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="notification",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="notifications",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="notification",
            name="payment",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="notifications",
                to="payments.payment",
            ),
        ),
        migrations.AlterField(
            model_name="notification",
            name="kind",
            field=models.CharField(
                choices=[
                    ("live", "Your event is live"),
                    ("payment_failed", "Your payment failed"),
                    ("refunded", "Your payment was refunded"),
                    ("email_verification", "Confirm your email address"),
                    ("password_reset", "Set a new password"),
                ],
                max_length=32,
            ),
        ),
        migrations.AddConstraint(
            model_name="notification",
            constraint=models.CheckConstraint(
                condition=models.Q(("kind__in", ("email_verification", "password_reset")), ("payment__isnull", True))
                | models.Q(
                    models.Q(("kind__in", ("email_verification", "password_reset")), _negated=True),
                    ("payment__isnull", False),
                ),
                name="notification_payment_iff_payment_kind",
            ),
        ),
    ]
