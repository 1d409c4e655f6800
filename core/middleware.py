"""Request guards that apply to every endpoint."""

from django.conf import settings
from django.http import JsonResponse


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
