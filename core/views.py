"""Process-level endpoints: liveness, readiness, CSRF cookie, and the React app's shell."""

from django.conf import settings
from django.db import connection
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

READY_TIMEOUT_SECONDS = 2


@require_GET
def health(request):
    return JsonResponse({"status": "ok"})


def _database_ready() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker_ready() -> None:
    from worker.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=READY_TIMEOUT_SECONDS)
        conn.default_channel.client.ping()


@require_GET
def ready(request):
    checks = {"database": _database_ready, "broker": _broker_ready}
    down = []
    for name, check in checks.items():
        try:
            check()
        except Exception as exc:  # any failure means "not ready"; the name and reason are the answer
            down.append(f"{name}: {type(exc).__name__}")
    if down:
        return JsonResponse({"status": "unavailable", "detail": "Not ready: " + ", ".join(down)}, status=503)
    return JsonResponse({"status": "ok"})


@require_GET
@ensure_csrf_cookie
def csrf(request):
    return HttpResponse(status=204)


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
