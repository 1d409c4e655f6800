from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self):
        from core import metrics
        from events.services import event_deletion_guard_register
        from payments.metrics import DatabaseCollector
        from payments.services.event_deletion import event_payments_deletion_guard

        metrics.register_collector(DatabaseCollector())
        event_deletion_guard_register(event_payments_deletion_guard())
