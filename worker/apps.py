from django.apps import AppConfig


class WorkerConfig(AppConfig):
    """Installed so that every Django process has the Celery app (worker/celery.py) configured and its
    tasks registered: web processes send them by name (payments/queue.py) without importing them."""

    name = "worker"

    def ready(self) -> None:
        from worker import tasks  # noqa: F401 (registers the tasks with the app)
