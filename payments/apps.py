from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self):
        from core import metrics
        from payments.metrics import DatabaseCollector

        metrics.register_collector(DatabaseCollector())
