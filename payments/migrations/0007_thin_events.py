"""Thin events in the inbox: which of Stripe's payloads a row holds, and a thin event's related object."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0003_event_payment_status'),
    ]

    operations = [
        migrations.AddField(
            model_name='stripeevent',
            name='kind',
            field=models.CharField(choices=[('snapshot', 'Snapshot'), ('thin', 'Thin')], default='snapshot', max_length=8),
        ),
        migrations.AddField(
            model_name='stripeevent',
            name='related_object_id',
            field=models.CharField(blank=True, default='', max_length=255),
        ),
        migrations.AddField(
            model_name='stripeevent',
            name='related_object_type',
            field=models.CharField(blank=True, default='', max_length=100),
        ),
        migrations.AddConstraint(
            model_name='stripeevent',
            constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['snapshot', 'thin'])), name='stripe_event_kind_valid'),
        ),
    ]
