"""payments.queue on a real broker: the sweepers send their tasks in batches, one round trip each."""

import base64
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis
import requests
from celery import current_app
from django.conf import settings
from django.utils import timezone
from freezegun import freeze_time
from kombu import Connection
from kombu.exceptions import OperationalError

from payments import queue, stripe_gateway
from payments.models import StripeEvent
from payments.services import inbox
from tests.factories import stored_stripe_event, stripe_event_body

pytestmark = pytest.mark.django_db

IDS = list(range(1, 1201))


def _send(pk: int) -> None:
    queue.stripe_event_process(stripe_event_id=pk)


@pytest.fixture
def broker_messages(monkeypatch):
    """Tasks go to the test Redis under a key prefix of their own, which no worker reads; returns what the
    broker holds there, as (task name, arguments), oldest first."""
    prefix = f"test-{uuid.uuid4().hex}:"
    connection = Connection(settings.CELERY_BROKER_URL, transport_options={"global_keyprefix": prefix})
    producer = current_app.amqp.Producer(connection)
    monkeypatch.setattr(queue, "_producer", lambda: producer)
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    # As in a worker that has sent before: the connection is open and the queue declared.
    _send(0)
    client.delete(f"{prefix}celery")

    def held() -> list[tuple[str, list]]:
        messages = [json.loads(raw) for raw in reversed(client.lrange(f"{prefix}celery", 0, -1))]
        return [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]

    yield held
    client.delete(*client.keys(f"{prefix}*") or [f"{prefix}celery"])
    connection.release()


@pytest.fixture
def round_trips(broker_messages, monkeypatch) -> list[int]:
    """The pipelines written to Redis, by their number of commands."""
    written: list[int] = []
    execute = redis.client.Pipeline.execute

    def counted(self, *args, **kwargs):
        written.append(len(self.command_stack))
        return execute(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counted)
    return written


def test_each_task_reaches_the_broker_once_in_one_round_trip_per_batch(broker_messages, round_trips):
    # when
    batches = list(queue.sent_in_batches(IDS, _send))

    # then: three batches, each yielded once written, each one pipeline
    assert [len(batch) for batch in batches] == [500, 500, 200]
    assert round_trips == [500, 500, 200]
    assert broker_messages() == [(queue.PROCESS_STRIPE_EVENT, [pk]) for pk in IDS]


def test_a_batch_the_broker_refuses_ends_the_sweep_and_none_of_it_is_sent(broker_messages):
    # given: the broker refuses the 700th task, in the second batch
    def send(pk: int) -> None:
        if pk == 700:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        _send(pk)

    # when
    batches = list(queue.sent_in_batches(IDS, send))

    # then: the first batch is sent; the second's tasks, held until its end, are dropped with it
    assert batches == [IDS[:500]]
    assert broker_messages() == [(queue.PROCESS_STRIPE_EVENT, [pk]) for pk in IDS[:500]]


def test_rows_whose_batch_redis_drops_stay_stranded_for_the_next_sweep(broker_messages, monkeypatch):
    # given: rows that never reached a worker, and Redis dropping the connection as their batch is written
    with freeze_time(timezone.now() - timedelta(minutes=10)):
        rows = [stored_stripe_event("customer.created", {"id": f"cus_{i}", "object": "customer"}) for i in range(3)]

    def dropped(self, *args, **kwargs):
        raise redis.ConnectionError("Connection reset by peer")

    monkeypatch.setattr(redis.client.Pipeline, "execute", dropped)

    # when
    count = inbox.stripe_events_requeue_stale(older_than=timedelta(minutes=2))

    # then: nothing counted or marked handed over, so the next sweep sends them again
    assert count == 0 and broker_messages() == []
    assert (
        list(StripeEvent.objects.filter(pk__in=[r.pk for r in rows]).values_list("status", "enqueued_at"))
        == [(StripeEvent.Status.RECEIVED, None)] * 3
    )


def _signed_post(url: str, body: dict) -> int:
    payload = json.dumps(body)
    signature = stripe_gateway.sign_payload(payload, settings.STRIPE_WEBHOOK_SECRETS[0])
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
    return requests.post(f"{url}/api/payments/webhook/", data=payload, headers=headers, timeout=10).status_code


@pytest.mark.django_db(transaction=True)
def test_concurrent_webhooks_leave_in_fewer_messages_than_rows_and_every_row_in_one(live_server, broker_messages):
    # given: 60 deliveries, 8 at a time, to a real server in this process
    bodies = [stripe_event_body("customer.created", {"id": f"cus_{n}", "object": "customer"}) for n in range(60)]

    # when
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda body: _signed_post(live_server.url, body), bodies))
    inbox.stripe_events_hand_over.flush()

    # then: every stored row is in exactly one message, and the messages carry several rows each
    held = broker_messages()
    assert set(statuses) == {200}
    assert {name for name, _ in held} == {queue.PROCESS_STRIPE_EVENTS}
    sent = sorted(pk for _, args in held for pk in args[0])
    assert sent == sorted(StripeEvent.objects.values_list("pk", flat=True))
    assert len(held) < len(bodies)


@pytest.mark.django_db(transaction=True)
def test_a_row_whose_process_died_before_the_hand_over_is_sent_by_the_sweeper(worker_env, broker_messages):
    # given: a web process stores a row, then is killed as its hand-over's group is about to leave
    body = stripe_event_body("customer.created", {"id": "cus_killed", "object": "customer"})
    script = (
        "import json, os, signal, sys, time, django; django.setup()\n"
        "from payments import queue\n"
        "from payments.services import inbox\n"
        "queue.stripe_events_process = lambda **kwargs: os.kill(os.getpid(), signal.SIGKILL)\n"
        "body = json.loads(sys.argv[1])\n"
        "inbox.stripe_event_receive(event=body, payload=sys.argv[1].encode())\n"
        "time.sleep(30)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script, json.dumps(body)], env=worker_env, check=False, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    row = StripeEvent.objects.get(stripe_id=body["id"])
    assert row.status == StripeEvent.Status.ENQUEUED and broker_messages() == []

    # when: the row is older than the sweeper's threshold
    with freeze_time(timezone.now() + timedelta(seconds=settings.STRIPE_EVENT_SWEEP_AFTER_SECONDS + 1)):
        requeued = inbox.stripe_events_requeue_stale(
            older_than=timedelta(seconds=settings.STRIPE_EVENT_SWEEP_AFTER_SECONDS)
        )

    # then
    assert requeued == 1
    assert broker_messages() == [(queue.PROCESS_STRIPE_EVENT, [row.pk])]


def _hand_over(sent: list[list[int]], arrived: threading.Event) -> queue.GroupedHandOver:
    def send(ids: list[int]) -> None:
        sent.append(ids)
        arrived.set()

    return queue.GroupedHandOver(send=send, refused=lambda ids: None)


def test_an_id_added_to_an_idle_hand_over_leaves_at_once(settings):
    # given: a window far longer than the test waits
    settings.HAND_OVER_MAX_WAIT_MS = 60_000
    sent, arrived = [], threading.Event()
    hand_over = _hand_over(sent, arrived)

    # when
    hand_over.add(7)

    # then: no flush needed
    assert arrived.wait(timeout=10) and sent == [[7]]


def test_ids_added_to_a_busy_hand_over_wait_for_the_window_and_leave_together(settings):
    # given: an id just added (and sent at once)
    settings.HAND_OVER_MAX_WAIT_MS = 300
    sent, arrived = [], threading.Event()
    hand_over = _hand_over(sent, arrived)
    hand_over.add(1)
    assert arrived.wait(timeout=10)
    arrived.clear()

    # when: three more come, one at a time, soon after
    for pk in (2, 3, 4):
        hand_over.add(pk)

    # then: the first of them waited for the window (the others came within it), and all left in one message
    assert arrived.wait(timeout=10)
    time.sleep(0.05)  # a second message, if there were one, would be on its way
    assert sent == [[1], [2, 3, 4]]
