"""Operators' runs leave their outcome as task results (django-celery-results), written by a real worker."""

import pytest
from celery import current_app
from django_celery_results.models import TaskResult

from payments import queue
from payments.models import StripeEvent
from tests.conftest import wait_until
from tests.factories import UserFactory, stored_stripe_event

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _result(task_id: str) -> TaskResult | None:
    return TaskResult.objects.filter(task_id=task_id, status="SUCCESS").first()


def test_a_bulk_retry_keeps_its_counts_and_errors_as_a_task_result(worker_process):
    # given: an operator retries a failed row and one already processed
    operator = UserFactory(username="olga", is_staff=True)
    failed = stored_stripe_event(
        "customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.FAILED
    )
    done = stored_stripe_event(
        "customer.created", {"id": "cus_2", "object": "customer"}, status=StripeEvent.Status.PROCESSED
    )

    # when
    task_id = queue.stripe_events_retry(stripe_event_ids=[failed.pk, done.pk], operator_id=operator.pk)

    # then: the worker recorded the outcome, and the retried row was processed
    result = wait_until(lambda: _result(task_id), message="the bulk retry's task result")
    assert result.task_name == queue.RETRY_STRIPE_EVENTS
    assert result.result == '{"actor": "olga", "rows": 2, "done": 1, "skipped": 1, "error": 0, "errors": []}'
    wait_until(lambda: StripeEvent.objects.get(pk=failed.pk).status == StripeEvent.Status.IGNORED)


def test_a_beat_run_keeps_its_counts_but_the_hot_task_keeps_none(worker_process):
    # when: beat's sweeper runs, and so does the fulfilment of one row
    sweep = current_app.send_task("worker.tasks.requeue_stale_stripe_events")
    row = stored_stripe_event(
        "customer.created", {"id": "cus_3", "object": "customer"}, status=StripeEvent.Status.RECEIVED
    )
    queue.stripe_event_process(stripe_event_id=row.pk)

    # then
    result = wait_until(lambda: _result(sweep.id), message="the sweeper's task result")
    assert result.result == '{"requeued": 0}'
    wait_until(lambda: StripeEvent.objects.get(pk=row.pk).status == StripeEvent.Status.IGNORED)
    assert not TaskResult.objects.filter(task_name="worker.tasks.process_stripe_event").exists()
