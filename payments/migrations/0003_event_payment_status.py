"""Fills `Event.payment_status` (new in events 0002) from each event's latest payment."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def fill_payment_status(apps, schema_editor):
    Event = apps.get_model("events", "Event")
    Payment = apps.get_model("payments", "Payment")
    latest = Payment.objects.filter(event=OuterRef("pk")).order_by("-created_at", "-id").values("status")[:1]
    Event.objects.filter(payments__isnull=False).update(payment_status=Subquery(latest))


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0002_operatoraction"),
        ("events", "0002_payment_status"),
    ]

    operations = [migrations.RunPython(fill_payment_status, migrations.RunPython.noop)]
