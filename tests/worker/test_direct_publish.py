"""The webhook's direct publish (worker/celery.py: publish) writes exactly the message Celery would.

Against a private Redis server, so that no worker of the test session consumes the messages
before they are read back. That workers consume these messages is shown end to end by the
integration and chaos tests, which enqueue through the same `delay()`.
"""

import json
import subprocess
import time

import pytest
import redis

from core import offline
from worker import celery
from worker.celery import app
from worker.tasks import process_stripe_event


@pytest.fixture
def private_broker(tmp_path, monkeypatch):
    port = offline.free_port()
    server = offline.start_redis(port=port, directory=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setattr(app.conf, "broker_url", url)
    celery._direct_publishing.cache_clear()
    yield url, server
    celery._direct_publishing.cache_clear()
    server.terminate()
    server.wait(timeout=10)


def _comparable(raw: bytes) -> dict:
    message = json.loads(raw)
    for key in ("id", "root_id", "origin"):
        message["headers"].pop(key)
    for key in ("correlation_id", "delivery_tag"):
        message["properties"].pop(key)
    return message


def test_delay_sends_the_message_apply_async_would(private_broker):
    # given
    url, _ = private_broker
    client = redis.Redis.from_url(url)

    # when
    direct = process_stripe_event.delay(42)
    with app.connection_for_write(url) as connection:
        process_stripe_event.apply_async((42,), connection=connection)

    # then
    regular, fast = client.lrange("celery", 0, -1)  # LPUSH: newest first
    assert _comparable(fast) == _comparable(regular)
    assert json.loads(fast)["headers"]["id"] == direct.id
    assert json.loads(fast)["properties"]["correlation_id"] == direct.id


def test_delay_fails_at_once_when_redis_is_down(private_broker):
    # given
    _, server = private_broker
    server.terminate()
    server.wait(timeout=10)

    # when
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        process_stripe_event.delay(42)

    # then: the webhook answers promptly and leaves the row to the sweeper
    assert time.monotonic() - started < 2
