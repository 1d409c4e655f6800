"""payments.queue on a real broker: the sweepers send their tasks in batches, one round trip each."""

import base64
import json
import signal
import subprocess
import sys
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
from worker import tasks

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
def test_concurrent_webhooks_wake_one_worker_whose_claim_takes_every_row(live_server, broker_messages, settings):
    # given: 60 deliveries, 8 at a time, to a real server in this process, while no worker takes a message
    bodies = [stripe_event_body("customer.created", {"id": f"cus_{n}", "object": "customer"}) for n in range(60)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda body: _signed_post(live_server.url, body), bodies))
    assert set(statuses) == {200}

    # then: one wake-up, for the first rows committed; the others found it waiting
    held = broker_messages()
    assert [name for name, _ in held] == [queue.PROCESS_STRIPE_EVENTS]
    assert 1 <= len(held[0][1][0]) < len(bodies)

    # when: a worker takes it
    tasks.process_stripe_events(*held[0][1])

    # then: its claim took every row, and left none for another wake-up
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {StripeEvent.Status.IGNORED}
    assert len(broker_messages()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_backlog_larger_than_a_batch_is_worked_off_by_wake_ups_chained_from_full_claims(broker_messages, settings):
    # given: 25 rows waiting, batches of 10, and one wake-up
    settings.FULFILMENT_BATCH_MAX_ROWS = 10
    rows = [stored_stripe_event("customer.created", {"id": f"cus_{n}", "object": "customer"}) for n in range(25)]
    inbox.stripe_events_wake_workers([rows[0].pk])

    # when: each wake-up is taken by a worker in turn, until none is left
    taken = 0
    while taken < len(messages := broker_messages()):
        tasks.process_stripe_events(*messages[taken][1])
        taken += 1

    # then: two full claims each woke a worker for the rest; the third claim was not full
    assert taken == 3
    assert StripeEvent.objects.filter(status__in=StripeEvent.UNFINISHED_STATUSES).count() == 0


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


def _doorbell(sent: list[list[int]], refused: list[list[int]] | None = None, fails: bool = False) -> queue.Doorbell:
    def send(ids: list[int]) -> None:
        if fails:
            raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")
        sent.append(ids)

    noted = refused if refused is not None else []
    return queue.Doorbell(key=f"test-doorbell-{uuid.uuid4().hex}", send=send, refused=noted.append)


def test_a_ring_sends_a_wake_up_only_while_none_is_waiting():
    sent: list[list[int]] = []
    doorbell = _doorbell(sent)

    # when / then: the first ring sends; rings before a worker answers find it waiting
    assert doorbell.ring([1]) == "sent"
    assert doorbell.ring([2]) == "already waiting"
    assert doorbell.ring([3]) == "already waiting"
    assert sent == [[1]]

    # when / then: a worker answered; the next ring sends again
    doorbell.answer()
    assert doorbell.ring([4]) == "sent"
    assert sent == [[1], [4]]
    doorbell.answer()


def test_a_wake_up_the_broker_refused_leaves_the_bell_unrung_and_its_rows_to_the_sweeper():
    sent: list[list[int]] = []
    refused: list[list[int]] = []
    broken = _doorbell(sent, refused, fails=True)

    # when
    assert broken.ring([1, 2]) == "refused"

    # then: the rows go back to waiting, and the next ring tries the broker again
    assert refused == [[1, 2]] and sent == []
    assert broken.ring([3]) == "refused"
    assert refused == [[1, 2], [3]]


def test_with_redis_unreachable_a_ring_sends_nothing_and_leaves_its_rows_to_the_sweeper(monkeypatch, settings):
    # given: the broker's Redis refuses connections (port 1), the doorbell's client made for it as in production
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setattr(queue._redis, "client", None)
    sent: list[list[int]] = []
    refused: list[list[int]] = []
    doorbell = _doorbell(sent, refused)

    # when
    started = time.monotonic()
    results = [doorbell.ring([1]), doorbell.ring([2])]
    doorbell.answer()  # logged, not raised
    elapsed = time.monotonic() - started

    # then: at once (a webhook's request waits for it), no message tried, the rows back to waiting
    assert results == ["refused", "refused"] and sent == [] and refused == [[1], [2]]
    assert elapsed < 2


def test_a_wake_up_nobody_answered_is_presumed_lost_after_a_while(monkeypatch):
    # given: a wake-up sent whose worker never answers (its sender was killed before sending, say)
    monkeypatch.setattr(queue, "WAKE_UP_LOST_AFTER_SECONDS", 1)
    sent: list[list[int]] = []
    doorbell = _doorbell(sent)
    assert doorbell.ring([1]) == "sent"
    assert doorbell.ring([2]) == "already waiting"

    # when
    time.sleep(1.2)

    # then: the next ring sends another
    assert doorbell.ring([3]) == "sent"
    assert sent == [[1], [3]]
    doorbell.answer()
