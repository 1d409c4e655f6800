"""The shared cache (Redis), answered from this process's memory while Redis cannot answer.

Everything the cache holds is a counter or a mark that expires: DRF's throttle counts, django-axes's login
failures and lockouts (core/login_lockout.py), the Stripe back-off mark of the background jobs. While Redis
is down, loading its data after a restart (`BusyLoadingError`), out of memory or read-only, each operation
is answered by a cache in this process's memory instead (Django's LocMemCache), and Redis is asked again
`SHARED_CACHE_RETRY_SECONDS` (5) after the last failure: an unreachable server costs one connect timeout per
process per interval, not one per operation.

Limits and lockouts so keep holding, counted per process: with N web processes a budget is at most N times
looser for the length of the outage, never gone, and sign-up and log-in keep working. Each operation
answered from memory is counted (`eventpay_shared_cache_fallbacks_total`, alert
`EventPaySharedCacheUnavailable`); the start and the end of an outage are logged once per process.
docs/SECURITY.md says why this, and not failing open or closed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis import exceptions

from core.metrics import SHARED_CACHE_FALLBACKS

logger = logging.getLogger(__name__)

# What Redis answers when it cannot serve (the broken connection, the loading dataset, a full `noeviction`
# server, a replica after a failover), as against a mistake of ours (a wrong type), which still raises.
UNAVAILABLE = (
    exceptions.ConnectionError,  # BusyLoadingError among them
    exceptions.TimeoutError,
    exceptions.OutOfMemoryError,
    exceptions.ReadOnlyError,
)
# The process-local stand-in's size: the counters of a few minutes of traffic.
LOCAL_MAX_ENTRIES = 10_000


class _Outage:
    """Whether this process answers from memory, and since when: one per server, shared by every thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: float | None = None
        self.retry_at = 0.0

    def ongoing(self) -> bool:
        return self.since is not None and time.monotonic() < self.retry_at

    def failed(self, exc: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            started, self.since = self.since is None, self.since or now
            self.retry_at = now + settings.SHARED_CACHE_RETRY_SECONDS
        if started:  # the server's address is left out: the URL carries its password
            logger.warning(
                "the shared cache (Redis) cannot answer (%s): throttles and login lockouts are counted in this "
                "process until it does",
                type(exc).__name__,
            )

    def answered(self) -> None:
        with self._lock:
            since, self.since = self.since, None
        if since is not None:
            logger.info(
                "the shared cache (Redis) answers again, after %.0f s counted in this process", time.monotonic() - since
            )


_outages: dict[str, _Outage] = {}
_outages_lock = threading.Lock()


def _outage(server: str) -> _Outage:
    with _outages_lock:
        return _outages.setdefault(server, _Outage())


class SharedCache(RedisCache):
    """Django's Redis cache, each operation answered from this process's memory while Redis cannot (see the
    module's docstring). Django makes one per thread; the outage and the memory are the process's."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._outage = _outage(server)
        local = {key: value for key, value in params.items() if key != "OPTIONS"}
        self._local = LocMemCache(f"shared-cache:{server}", local | {"OPTIONS": {"MAX_ENTRIES": LOCAL_MAX_ENTRIES}})

    def _either(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        if not self._outage.ongoing():
            try:
                result = getattr(super(), operation)(*args, **kwargs)
            except UNAVAILABLE as exc:
                self._outage.failed(exc)
            else:
                if self._outage.since is not None:
                    self._outage.answered()
                return result
        SHARED_CACHE_FALLBACKS.labels(operation=operation).inc()
        return getattr(self._local, operation)(*args, **kwargs)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("add", key, value, timeout=timeout, version=version)

    def get(self, key, default=None, version=None):
        return self._either("get", key, default=default, version=version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("set", key, value, timeout=timeout, version=version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("touch", key, timeout=timeout, version=version)

    def delete(self, key, version=None):
        return self._either("delete", key, version=version)

    def get_many(self, keys, version=None):
        return self._either("get_many", keys, version=version)

    def has_key(self, key, version=None):
        return self._either("has_key", key, version=version)

    def incr(self, key, delta=1, version=None):
        try:
            return self._either("incr", key, delta=delta, version=version)
        except ValueError:
            # Added on the other side of an outage's start or end (axes and the username limit add, then
            # increment): the count starts again on this side rather than fail the login.
            self._either("add", key, 0, version=version)
            return self._either("incr", key, delta=delta, version=version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("set_many", data, timeout=timeout, version=version)

    def delete_many(self, keys, version=None):
        return self._either("delete_many", keys, version=version)

    def clear(self):
        return self._either("clear")
