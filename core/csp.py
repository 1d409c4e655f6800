"""Content-Security-Policy: the header on every response, and the endpoint browsers report violations to.

The policy itself is in settings (`CONTENT_SECURITY_POLICY`, or `CONTENT_SECURITY_POLICY_REPORT_ONLY` with
`CSP_REPORT_ONLY`), built by django-csp. This module adds what django-csp leaves to the site:

- the pages that are not the React app loosen it for what their templates need, and only that: the
  admin and the API docs have inline `<style>` and `style=` attributes and data: images, and no Stripe;
- the `Permissions-Policy` that lets only this site and Stripe.js ask for a payment;
- `POST /api/csp-report/`: each violation a browser reports (the `report-uri` format,
  `application/csp-report`, and the Reporting API's, `application/reports+json`) is logged as one line
  and counted in `eventpay_csp_violations_total` by directive, so a new script on the payment page is seen.

The middleware comes before WhiteNoise in MIDDLEWARE: WhiteNoise answers the app's own files (index.html
among them) without calling the middleware below it.
"""

from __future__ import annotations

import logging
from typing import Any

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import ApplicationError
from core.limits import ClientRateThrottle
from core.metrics import CSP_VIOLATIONS
from core.parsers import JSONParser

logger = logging.getLogger(__name__)

# Django's admin and drf-spectacular's Swagger UI: their templates' inline styles and data: icons.
# Neither page loads Stripe, and neither gets an inline script.
TEMPLATE_PAGES_POLICY = {
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "script-src": ["'self'"],
    "frame-src": ["'none'"],
    "connect-src": ["'self'"],
}
TEMPLATE_PAGES = ("/admin/", "/api/docs/")

# The directives a violation is counted under; anything else a client sends is counted as "other".
KNOWN_DIRECTIVES = frozenset(
    {
        "default-src", "script-src", "script-src-elem", "script-src-attr", "style-src", "style-src-elem",
        "style-src-attr", "img-src", "font-src", "connect-src", "frame-src", "child-src", "worker-src",
        "manifest-src", "media-src", "object-src", "base-uri", "form-action", "frame-ancestors",
        "require-trusted-types-for", "trusted-types",
    }
)  # fmt: skip


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if parts.replace is None and request.path_info.startswith(TEMPLATE_PAGES):
            parts.replace = TEMPLATE_PAGES_POLICY
        return parts

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        response = super().process_response(request, response)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


class CspReportParser(JSONParser):
    media_type = "application/csp-report"


class ReportsParser(JSONParser):
    media_type = "application/reports+json"


def _text(value: object) -> str:
    return str(value)[:500] if isinstance(value, (str, int)) else ""


def _directive(value: object) -> str:
    # Older browsers send the whole directive ("script-src 'self' …") as violated-directive.
    directive = _text(value).split(" ", 1)[0].lower()
    return directive if directive in KNOWN_DIRECTIVES else "other"


def violations(data: Any) -> list[dict[str, str]]:
    """The violations in a report, in one shape whichever format the browser sent; ParseError otherwise."""
    if isinstance(data, dict) and isinstance(data.get("csp-report"), dict):
        report = data["csp-report"]
        return [
            {
                "directive": _directive(report.get("effective-directive") or report.get("violated-directive")),
                "document": _text(report.get("document-uri")),
                "blocked": _text(report.get("blocked-uri")),
                "source": _text(report.get("source-file")),
                "line": _text(report.get("line-number")),
                "disposition": _text(report.get("disposition")),
            }
        ]
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        found = []
        for item in data:
            body = item.get("body")
            if item.get("type") != "csp-violation" or not isinstance(body, dict):
                continue  # the Reporting API batches other report types to the same endpoint
            found.append(
                {
                    "directive": _directive(body.get("effectiveDirective")),
                    "document": _text(body.get("documentURL")),
                    "blocked": _text(body.get("blockedURL")),
                    "source": _text(body.get("sourceFile")),
                    "line": _text(body.get("lineNumber")),
                    "disposition": _text(body.get("disposition")),
                }
            )
        return found
    raise ParseError('Not a CSP violation report: expected {"csp-report": {…}} or a list of reports.')


@extend_schema(exclude=True)  # the browser's, not a client's
class CspReportView(APIView):
    """Where browsers send violation reports (`report-uri`; the Reporting API's format too). Anyone may call it, hence the
    throttle per client and the body bound; it only logs and counts."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [CspReportParser, ReportsParser, JSONParser]
    throttle_classes = [ClientRateThrottle]
    throttle_scope = "csp_report"

    def post(self, request: Request) -> Response:
        limit = settings.CSP_REPORT_MAX_BYTES
        if len(request.body) > limit:
            raise ApplicationError(f"Report larger than {limit} bytes.", status_code=413)
        found = violations(request.data)
        for violation in found:
            CSP_VIOLATIONS.labels(directive=violation["directive"]).inc()
            extra = {f"csp_{key}": value for key, value in violation.items()}
            logger.warning("CSP violation: %s blocked %s", violation["directive"], violation["blocked"], extra=extra)
        return Response(status=status.HTTP_204_NO_CONTENT)
