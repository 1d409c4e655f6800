"""The Content-Security-Policy on every HTML page, and the endpoint that counts what browsers report."""

import json
import logging

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.throttling import ScopedRateThrottle

from core.metrics import PROCESS_REGISTRY
from tests.core.test_deploy import production_env, run_python

pytestmark = pytest.mark.django_db

REPORT_URL = "/api/csp-report/"


def _directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def _violations(directive: str) -> float:
    return PROCESS_REGISTRY.get_sample_value("eventpay_csp_violations_total", {"directive": directive}) or 0.0


@pytest.mark.parametrize(
    "path",
    ["/", "/events/1/pay", "/payments/status", "/index.html", "/admin/login/", "/api/docs/"],
    ids=["app-root", "payment-page", "status-page", "index-from-whitenoise", "admin", "api-docs"],
)
def test_every_html_page_carries_the_policy_and_the_security_headers(path):
    # when
    response = Client().get(path)

    # then
    assert response["Content-Type"].startswith("text/html")
    policy = _directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["report-uri"] == [REPORT_URL]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Permissions-Policy"] == 'payment=(self "https://js.stripe.com")'


def test_the_payment_page_admits_stripe_js_and_nothing_else():
    # when
    policy = _directives(Client().get("/events/1/pay")["Content-Security-Policy"])

    # then: Stripe's documented origins for Stripe.js and the PaymentElement
    assert policy["script-src"] == ["'self'", "https://js.stripe.com", "https://*.js.stripe.com"]
    assert policy["frame-src"] == [
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        "https://hooks.stripe.com",
    ]
    assert policy["connect-src"] == ["'self'", "https://api.stripe.com"]
    assert policy["img-src"] == ["'self'", "https://*.stripe.com"]
    assert "style-src" not in policy  # default-src 'self': no inline style either


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/"])
def test_the_admin_and_the_api_docs_allow_their_inline_styles_but_no_inline_script_and_no_stripe(path):
    # when
    policy = _directives(Client().get(path)["Content-Security-Policy"])

    # then
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert not any("stripe" in source for values in policy.values() for source in values)


def test_the_api_docs_load_their_set_up_script_from_this_site():
    # when
    page = Client().get("/api/docs/").content.decode()

    # then: every script has a src (the policy refuses inline ones)
    assert page.count("<script") == page.count("<script src=") == 3


def test_production_error_pages_carry_the_policy(settings, operator_client):
    # given: django-csp leaves DEBUG's own error pages alone, never production's
    settings.DEBUG = False

    # when
    response = operator_client.get("/admin/no-such-page/")

    # then
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert _directives(response["Content-Security-Policy"])["script-src"] == ["'self'"]


def test_report_only_sends_the_same_policy_without_enforcing_it():
    # given
    code = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client().get('/events/1/pay', HTTP_HOST='pay.example.com', secure=True); assert r.status_code == 200, r; "
        "print(json.dumps([r.get('Content-Security-Policy'), r.get('Content-Security-Policy-Report-Only')]))"
    )

    # when
    enforced = run_python(code, production_env())
    report_only = run_python(code, production_env(CSP_REPORT_ONLY="true"))

    # then
    assert enforced.returncode == 0 and report_only.returncode == 0, enforced.stderr + report_only.stderr
    enforced_policy, none = json.loads(enforced.stdout)
    none_again, report_only_policy = json.loads(report_only.stdout)
    assert none is None and none_again is None
    assert _directives(report_only_policy) == _directives(enforced_policy)
    assert _directives(enforced_policy)["default-src"] == ["'self'"]


def test_a_report_uri_report_is_logged_and_counted_by_directive(caplog):
    # given
    report = {
        "csp-report": {
            "document-uri": "http://testserver/events/1/pay",
            "violated-directive": "script-src-elem",
            "effective-directive": "script-src-elem",
            "blocked-uri": "inline",
            "source-file": "http://testserver/events/1/pay",
            "line-number": 12,
            "disposition": "enforce",
        }
    }
    before = _violations("script-src-elem")

    # when
    with caplog.at_level(logging.WARNING, logger="core.csp"):
        response = Client().post(REPORT_URL, json.dumps(report), content_type="application/csp-report")

    # then
    assert response.status_code == 204
    assert _violations("script-src-elem") == before + 1
    [record] = caplog.records
    assert record.csp_directive == "script-src-elem"
    assert record.csp_blocked == "inline"
    assert record.csp_document == "http://testserver/events/1/pay"
    assert record.csp_line == "12"


def test_a_reporting_api_batch_counts_each_csp_violation_and_skips_other_reports():
    # given
    def violation(directive: str) -> dict:
        return {
            "type": "csp-violation",
            "url": "http://testserver/",
            "body": {"documentURL": "http://testserver/", "effectiveDirective": directive, "blockedURL": "eval"},
        }

    batch = [violation("script-src"), violation("connect-src"), {"type": "deprecation", "body": {"id": "x"}}]
    before = {name: _violations(name) for name in ("script-src", "connect-src")}

    # when
    response = Client().post(REPORT_URL, json.dumps(batch), content_type="application/reports+json")

    # then
    assert response.status_code == 204
    assert {name: _violations(name) for name in before} == {name: count + 1 for name, count in before.items()}


def test_an_unknown_directive_is_counted_as_other():
    before = _violations("other")

    report = {"csp-report": {"violated-directive": "made-up-directive-" + "x" * 100}}
    response = Client().post(REPORT_URL, json.dumps(report), content_type="application/csp-report")

    assert response.status_code == 204
    assert _violations("other") == before + 1


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/csp-report", 400),
        ('{"csp-report": "a string"}', "application/csp-report", 400),
        ("[]", "application/reports+json", 400),
        ("[1, 2]", "application/reports+json", 400),
        ('"just a string"', "application/json", 400),
        ("[" * 30_000, "application/reports+json", 400),
        (b"\xff\xfe", "application/csp-report", 400),
        ("csp-report=1", "application/x-www-form-urlencoded", 415),
    ],
    ids=[
        "not-json",
        "report-not-an-object",
        "empty-batch",
        "batch-of-numbers",
        "a-string",
        "nested",
        "not-utf8",
        "form",
    ],
)
def test_malformed_reports_are_refused_with_a_message(body, content_type, status):
    # when
    response = Client().post(REPORT_URL, body, content_type=content_type)

    # then
    assert response.status_code == status
    assert response.json()["detail"]


def test_a_report_over_the_size_bound_is_refused():
    body = json.dumps({"csp-report": {"blocked-uri": "x" * settings.CSP_REPORT_MAX_BYTES}})

    response = Client().post(REPORT_URL, body, content_type="application/csp-report")

    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_reports_are_throttled_per_client(monkeypatch):
    # given: the rate is a setting (THROTTLE_CSP_REPORT) that DRF reads once, at import
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"csp_report": "2/min"})
    report = json.dumps({"csp-report": {"effective-directive": "img-src"}})
    client = Client()

    # when
    answers = [client.post(REPORT_URL, report, content_type="application/csp-report") for _ in range(3)]

    # then
    assert [answer.status_code for answer in answers] == [204, 204, 429]
    assert int(answers[-1]["Retry-After"]) > 0
    assert "try again in" in answers[-1].json()["detail"]


def test_the_report_endpoint_only_takes_post():
    response = Client().get(REPORT_URL)

    assert response.status_code == 405
    assert response.json()["detail"]
