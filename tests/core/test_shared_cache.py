"""The shared cache while its Redis cannot answer (core/cache.py): answered from the process's memory, Redis
asked again once SHARED_CACHE_RETRY_SECONDS have passed, and a mistake of ours still raised. On a Redis server
process of the test's own, stopped and started again on its AOF."""

import time

import pytest
import redis

from core.cache import SharedCache
from core.metrics import SHARED_CACHE_FALLBACKS
from offline import processes
from offline.net import free_port

RETRY_SECONDS = 1.0


class StoppableRedis:
    def __init__(self, directory):
        self.port, self.directory = free_port(), directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        self.process = processes.start_redis(port=self.port, directory=self.directory, log_path=self.directory / "log")

    def stop(self) -> None:
        processes.stop(self.process)


@pytest.fixture
def server(tmp_path):
    server = StoppableRedis(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture
def cache(server, settings) -> SharedCache:
    settings.SHARED_CACHE_RETRY_SECONDS = RETRY_SECONDS
    return SharedCache(
        server.url, {"KEY_PREFIX": "test", "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}
    )


def _fallbacks(operation: str) -> float:
    return SHARED_CACHE_FALLBACKS.labels(operation=operation)._value.get()


def test_a_count_goes_on_in_memory_while_redis_is_down_and_in_redis_once_it_is_back(server, cache):
    # given: a counter in Redis
    cache.add("failures", 0)
    assert cache.incr("failures") == 1
    fallbacks = _fallbacks("incr")

    # when: Redis stops
    server.stop()

    # then: the counter starts again in memory (an increment does not fail for want of the key), and is counted
    assert cache.incr("failures") == 1
    assert cache.incr("failures") == 2
    assert cache.get("failures") == 2
    assert _fallbacks("incr") > fallbacks

    # when: Redis is back, with its data, and the retry interval has passed
    server.start()
    assert cache.get("failures") == 2, "answered from memory until the interval has passed"
    time.sleep(RETRY_SECONDS + 0.1)

    # then: Redis answers again, with the count it kept
    assert cache.get("failures") == 1
    assert cache.incr("failures") == 2
    assert int(redis.Redis.from_url(server.url).get(cache.make_key("failures"))) == 2


def test_a_mistake_of_ours_is_raised_not_answered_from_memory(cache):
    cache.set("username", "ada")

    with pytest.raises(redis.exceptions.ResponseError):
        cache.incr("username")
