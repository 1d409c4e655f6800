"""Request guards that apply to every endpoint."""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse


class RequestBodyLimitMiddleware:
    """Answers 413 `{"detail": …}` for a declared body over DATA_UPLOAD_MAX_MEMORY_SIZE (1 MiB), before
    anything reads it; Django would otherwise stop at the first read with a 400 HTML page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length."}, status=400)
        if limit is not None and length > limit:
            return JsonResponse({"detail": f"Body larger than {limit} bytes."}, status=413)
        return self.get_response(request)


class AdminIdleTimeoutMiddleware:
    """Logs an operator out of the admin after ADMIN_IDLE_TIMEOUT_MINUTES without a request to it: the
    admin can refund money, and Django's session otherwise lasts two weeks."""

    LAST_SEEN = "admin_last_seen"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/admin/") and request.user.is_authenticated and request.user.is_staff:
            now = time.time()
            last_seen = request.session.get(self.LAST_SEEN)
            if last_seen is not None and now - last_seen > settings.ADMIN_IDLE_TIMEOUT_MINUTES * 60:
                logout(request)  # the admin then sends the request to its log-in page
            else:
                request.session[self.LAST_SEEN] = now
        return self.get_response(request)
