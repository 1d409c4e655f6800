"""Failures during webhook traffic: nothing is lost, nothing is applied twice, nobody has to step in.

Each test runs the web app (gunicorn) and Celery workers as processes on a private Redis and
behind a PostgreSQL proxy (tests/chaos/conftest.py), takes one of them away, gives it back,
and checks the ledger: every stored event finished, each payment in its final state, each
event active exactly when its payment succeeded.
"""

import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from events.models import Event
from payments.models import Payment, StripeEvent
from tests.chaos.conftest import RowLock, kill_group, pool_children
from tests.conftest import wait_until
from tests.factories import PaymentFactory, payment_intent_object, stripe_event_body

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

Status = Payment.Status


def _burst(payments: list[Payment], rng: random.Random) -> tuple[list[dict], set[str]]:
    """A decline then a success per payment, a third of them sent twice, shuffled."""
    events = []
    for payment in payments:
        declined = payment_intent_object(
            payment, status="requires_payment_method", amount_received=0, last_payment_error={"message": "Declined."}
        )
        events.append(stripe_event_body("payment_intent.payment_failed", declined))
        events.append(stripe_event_body("payment_intent.succeeded", payment_intent_object(payment)))
    deliveries = events + rng.sample(events, len(events) // 3)
    rng.shuffle(deliveries)
    return deliveries, {event["id"] for event in events}


def _deliver_all(chaos, deliveries: list[dict]) -> list[int]:
    with ThreadPoolExecutor(8) as pool:
        return [response.status_code for response in pool.map(chaos.deliver, deliveries)]


def _all_finished(stripe_ids: set[str]) -> bool:
    rows = StripeEvent.objects.filter(stripe_id__in=stripe_ids)
    return rows.count() == len(stripe_ids) and not rows.exclude(status__in=StripeEvent.FINISHED_STATUSES).exists()


def _assert_ledger(payments: list[Payment], stripe_ids: set[str], expected: str = Status.SUCCEEDED) -> None:
    rows = StripeEvent.objects.filter(stripe_id__in=stripe_ids)
    assert rows.count() == len(stripe_ids)  # one row per event id: nothing lost, nothing stored twice
    assert set(rows.values_list("status", flat=True)) <= set(StripeEvent.FINISHED_STATUSES)
    for payment in payments:
        payment.refresh_from_db()
        event = Event.objects.get(pk=payment.event_id)
        assert payment.status == expected, payment
        assert event.is_active == (payment.status == Status.SUCCEEDED)
        assert not event.is_active or event.activated_at is not None


def test_sigkill_of_pool_processes_during_a_burst_loses_nothing_and_applies_nothing_twice(chaos):
    # given: a burst stored and queued before any worker runs; one payment's event is locked, so
    # the task applying it waits inside a pool process
    chaos.start_web()
    payments = [PaymentFactory() for _ in range(40)]
    deliveries, stripe_ids = _burst(payments, random.Random(1))
    assert set(_deliver_all(chaos, deliveries)) == {200}
    lock = RowLock(payments[0].event_id)

    # when: a worker drains it and its pool processes are SIGKILLed while that task is in flight
    worker, log_path = chaos.start_worker("killed-children")
    try:
        wait_until(lambda: lock.waiters() >= 1, timeout=30, message="a task to wait on the locked event")
        for pid in pool_children(worker):
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: "WorkerLostError" in log_path.read_text(errors="replace"), timeout=20)
    finally:
        lock.release()

    # then: the tasks those processes held are redelivered (acks_late, reject_on_worker_lost)
    wait_until(lambda: _all_finished(stripe_ids), timeout=60, message="every event to be processed")
    _assert_ledger(payments, stripe_ids)


def test_a_worker_killed_outright_with_tasks_in_flight_is_replaced_and_nothing_is_lost(chaos):
    # given: a stored burst, a worker busy draining it, one of its tasks waiting on a locked event
    chaos.start_web()
    payments = [PaymentFactory() for _ in range(40)]
    deliveries, stripe_ids = _burst(payments, random.Random(2))
    assert set(_deliver_all(chaos, deliveries)) == {200}
    lock = RowLock(payments[0].event_id)
    first, _ = chaos.start_worker("first")
    try:
        wait_until(lambda: lock.waiters() >= 1, timeout=30, message="a task to wait on the locked event")

        # when: the whole worker dies (SIGKILL, no chance to hand back what it holds) and a new one starts
        kill_group(first)
    finally:
        lock.release()
    unfinished = StripeEvent.objects.filter(stripe_id__in=stripe_ids).exclude(status__in=StripeEvent.FINISHED_STATUSES)
    assert unfinished.exists()
    chaos.start_worker("replacement")

    # then: what was in flight (its messages unacked in Redis until the visibility timeout) is re-sent
    # by the sweeper, as beat sends it every minute, and processed exactly once in effect
    time.sleep(1.2)  # older than STRIPE_EVENT_SWEEP_AFTER_SECONDS
    chaos.sweep()
    wait_until(lambda: _all_finished(stripe_ids), timeout=60, message="every event to be processed")
    _assert_ledger(payments, stripe_ids)


def test_redis_down_while_webhooks_arrive_then_back_everything_is_processed_by_the_sweeper(chaos):
    # given: the whole stack up, then Redis stops
    chaos.start_web()
    chaos.start_worker("worker")
    payments = [PaymentFactory() for _ in range(10)]
    deliveries, stripe_ids = _burst(payments, random.Random(3))
    chaos.redis.stop()

    # when: Stripe delivers
    started = time.monotonic()
    statuses = _deliver_all(chaos, deliveries)
    elapsed = time.monotonic() - started

    # then: every delivery is acknowledged once stored, promptly, and waits in the inbox
    assert set(statuses) == {200}
    assert elapsed < 15, f"{len(deliveries)} deliveries took {elapsed:.1f} s with Redis down"
    rows = StripeEvent.objects.filter(stripe_id__in=stripe_ids)
    assert rows.count() == len(stripe_ids)
    # the wake-up could not be rung: each request put its group's rows back before it answered
    wait_until(
        lambda: set(rows.values_list("status", flat=True)) == {StripeEvent.Status.RECEIVED},
        timeout=10,
        message="every refused row to be back in received",
    )

    # when: Redis comes back (empty: it never got the messages) and beat's sweeper runs
    chaos.redis.start()
    time.sleep(1.2)
    chaos.sweep()

    # then: the worker reconnected on its own and processed everything
    wait_until(lambda: _all_finished(stripe_ids), timeout=60, message="every event to be processed")
    _assert_ledger(payments, stripe_ids)

    # when: Stripe delivers again
    later = PaymentFactory()
    event = stripe_event_body("payment_intent.succeeded", payment_intent_object(later))
    assert chaos.deliver(event).status_code == 200

    # then: the web process publishes on a new broker connection of its own (the row is handed over, not left
    # for the sweeper), and the event is processed
    assert StripeEvent.objects.get(stripe_id=event["id"]).status != StripeEvent.Status.RECEIVED
    wait_until(lambda: _all_finished({event["id"]}), timeout=30, message="the later event to be processed")


def test_postgres_refusing_connections_answers_503_stores_nothing_and_processing_resumes(chaos):
    # given: one event stored and queued while PostgreSQL is up, no worker yet
    chaos.start_web()
    first, second = PaymentFactory(), PaymentFactory()
    stored = stripe_event_body("payment_intent.succeeded", payment_intent_object(first))
    assert chaos.deliver(stored).status_code == 200

    # when: PostgreSQL refuses connections, Stripe delivers another event and a worker starts on the queue
    chaos.postgres.refuse()
    refused = stripe_event_body("payment_intent.succeeded", payment_intent_object(second))
    response = chaos.deliver(refused)
    worker, log_path = chaos.start_worker("worker")
    wait_until(
        lambda: "OperationalError" in log_path.read_text(errors="replace"), timeout=20, message="a failed attempt"
    )

    # then: the delivery is refused with 503 for Stripe to retry, and nothing of it was written
    assert response.status_code == 503
    assert "detail" in response.json()
    assert not StripeEvent.objects.filter(stripe_id=refused["id"]).exists()
    assert Payment.objects.get(pk=first.pk).status == Status.PENDING

    # when: PostgreSQL is back and Stripe retries, several times at once (every web thread's
    # connection was cut by the outage)
    chaos.postgres.allow()
    with ThreadPoolExecutor(4) as pool:
        retried = [response.status_code for response in pool.map(chaos.deliver, [refused] * 4)]

    # then: the worker's retries and the new deliveries all go through, on new connections
    assert retried == [200] * 4
    stripe_ids = {stored["id"], refused["id"]}
    wait_until(lambda: _all_finished(stripe_ids), timeout=60, message="both events to be processed")
    _assert_ledger([first, second], stripe_ids)
    assert worker.poll() is None


def test_a_worker_holding_a_task_outlives_a_redis_restart_and_its_loading_and_fulfils_what_comes_after(chaos):
    # given: a worker with a task in flight (its event locked) and its next message asked for (a BRPOP pending)
    chaos.start_web()
    worker, log_path = chaos.start_worker("worker", concurrency=2)
    held, while_loading, afterwards = PaymentFactory(), PaymentFactory(), PaymentFactory()
    events = {
        payment.pk: stripe_event_body("payment_intent.succeeded", payment_intent_object(payment))
        for payment in (held, while_loading, afterwards)
    }
    lock = RowLock(held.event_id)
    try:
        assert chaos.deliver(events[held.pk]).status_code == 200
        wait_until(lambda: lock.waiters() >= 1, timeout=30, message="the task to wait on the locked event")

        # when: Redis restarts and loads its AOF (answering LOADING), and Stripe delivers meanwhile
        chaos.redis.restart(loading_seconds=2)
        assert chaos.redis.loading()
        started = time.monotonic()
        assert chaos.deliver(events[while_loading.pk]).status_code == 200
        assert chaos.redis.loading(), (
            f"Redis had loaded before the delivery's answer ({time.monotonic() - started:.1f} s)"
        )
    finally:
        lock.release()
    chaos.redis.wait_loaded()
    # the delivery made while Redis loaded is stored, its wake-up refused: it waits for the sweeper
    assert StripeEvent.objects.get(stripe_id=events[while_loading.pk]["id"]).status == StripeEvent.Status.RECEIVED

    # then: the worker is still there, and fulfils an event delivered now
    assert chaos.deliver(events[afterwards.pk]).status_code == 200
    wait_until(
        lambda: worker.poll() is not None or _all_finished({events[afterwards.pk]["id"]}),
        timeout=30,
        message="the event delivered after the restart",
    )
    assert worker.poll() is None, log_path.read_text(errors="replace")[-3000:]

    # ... and the one stored while Redis loaded once beat's sweeper runs: every event applied once
    chaos.sweep()
    stripe_ids = {event["id"] for event in events.values()}
    wait_until(lambda: _all_finished(stripe_ids), timeout=30, message="every event to be processed")
    _assert_ledger([held, while_loading, afterwards], stripe_ids)
    assert "Unrecoverable error" not in log_path.read_text(errors="replace")
    # Why it lives: it holds no pub/sub channel (remote control and gossip are off). One that failed to close
    # as Redis went away left the task channel to be closed against a torn-down connection, and the worker
    # exited ("Unrecoverable error: AttributeError: 'NoneType' object has no attribute 'hostname'").
    assert chaos.redis.subscribed_clients() == 0
