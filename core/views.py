"""Process-level endpoints: liveness, readiness, CSRF cookie, and the React app's shell."""

import copy
import functools
import logging
import threading
import time

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie
from django.views.decorators.http import require_GET
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

# Each dependency gets this long to answer (libpq rounds a connect timeout below 2 s up to 2 s).
READY_TIMEOUT_SECONDS = 2
# The endpoint is anonymous: each process checks at most this often, whatever the number of callers.
READY_ANSWER_SECONDS = 1.0


def probe(view):
    """GET or HEAD only, answered in JSON like the rest of the API; probes carry no CSRF token."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            response = JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405)
            response["Allow"] = "GET, HEAD"
            return response
        return view(request, *args, **kwargs)

    return wrapper


@probe
def health(request):
    return JsonResponse({"status": "ok"})


def _database_ready(settings_dict: dict) -> None:
    # A connection of its own with a connect timeout: the request's persistent connection may still
    # work while new ones fail, and libpq would otherwise wait for an unreachable server indefinitely.
    settings_dict = copy.deepcopy(settings_dict)
    if settings_dict["ENGINE"].endswith("postgresql"):
        settings_dict["OPTIONS"] = {**settings_dict.get("OPTIONS", {}), "connect_timeout": READY_TIMEOUT_SECONDS}
    probe = connections[DEFAULT_DB_ALIAS].__class__(settings_dict, alias="ready-probe")
    try:
        with probe.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        probe.close()


def _broker_ready(broker_url: str) -> None:
    # No retries: redis-py's default policy backs off for seconds before admitting the broker is down.
    client = redis.Redis.from_url(
        broker_url,
        socket_connect_timeout=READY_TIMEOUT_SECONDS,
        socket_timeout=READY_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
    finally:
        client.close()


def _run_checks(checks: dict, timeout: float) -> dict[str, str]:
    """Runs the checks side by side; one that has not answered by the deadline is "timed out"."""
    results = dict.fromkeys(checks, "timed out")

    def run(name, check, *args):
        try:
            check(*args)
            results[name] = "ok"
        except Exception as exc:  # any failure means "down"; its type is the answer, never its message
            results[name] = type(exc).__name__

    # Daemon threads: a check stuck on a frozen server must not hold up the process's exit.
    threads = [threading.Thread(target=run, args=(name, *check), daemon=True) for name, check in checks.items()]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return dict(results)


class _LatestAnswer:
    """This process's last readiness answer, reused for READY_ANSWER_SECONDS. Callers arriving while a
    check runs wait for it instead of starting their own: a flood of anonymous calls opens one set of
    connections and threads per process per second, not one per call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: dict[str, str] | None = None
        self._at = 0.0

    def results(self, check) -> dict[str, str]:
        with self._lock:
            if self._results is None or time.monotonic() - self._at >= READY_ANSWER_SECONDS:
                self._results = check()
                self._at = time.monotonic()
            return self._results

    def forget(self) -> None:
        with self._lock:
            self._results = None


latest_ready_answer = _LatestAnswer()


def _check_dependencies() -> dict[str, str]:
    checks = {
        "database": (_database_ready, connections[DEFAULT_DB_ALIAS].settings_dict),
        "broker": (_broker_ready, settings.CELERY_BROKER_URL),
    }
    return _run_checks(checks, timeout=READY_TIMEOUT_SECONDS + 1)


@probe
def ready(request):
    results = latest_ready_answer.results(_check_dependencies)
    down = [f"{name}: {result}" for name, result in results.items() if result != "ok"]
    if down:
        logger.warning("not ready: %s", ", ".join(down))
        return JsonResponse(
            {"status": "unavailable", "detail": "Not ready: " + ", ".join(down), "checks": results}, status=503
        )
    return JsonResponse({"status": "ok", "checks": results})


@require_GET
@ensure_csrf_cookie
def csrf(request):
    return HttpResponse(status=204)


@csrf_exempt  # it changes nothing: an unsafe method on an unknown API path is a JSON 404, not an HTML 403
def api_not_found(request):
    return JsonResponse({"detail": "Not found."}, status=404)


@require_GET
def frontend_app(request):
    """Client-side routes fall back to the built app's index.html (assets come from whitenoise)."""
    index = settings.FRONTEND_DIST / "index.html"
    if not index.exists():
        raise Http404("The frontend is not built: run `make run` (or `npm run build` in frontend/).")
    response = FileResponse(index.open("rb"), content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response
