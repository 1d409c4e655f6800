"""The OpenAPI schema at /api/schema/ (drf-spectacular), its docs page, and schemathesis against it:
no 5xx, and every answer matches what the schema documents (status, content type, body)."""

import re

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.test.client import ClientHandler
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.accounts import api_token_create
from tests.factories import EventFactory, PaymentFactory

pytestmark = pytest.mark.django_db

API_PATHS = {
    "/api/auth/register/", "/api/auth/login/", "/api/auth/logout/", "/api/auth/me/", "/api/auth/token/",
    "/api/events/", "/api/events/{event_id}/", "/api/public/events/", "/api/public/events/{event_id}/",
    "/api/events/{event_id}/cancel/", "/api/payments/config/", "/api/payments/create-payment-intent/", "/api/payments/",
    "/api/payments/{payment_id}/", "/api/payments/{payment_id}/receipt/", "/api/payments/webhook/",
    "/api/payments/webhook/thin/",
    "/api/auth/logout-everywhere/", "/api/auth/password/change/", "/api/auth/password/reset/",
    "/api/auth/password/reset/confirm/", "/api/auth/email/verify/", "/api/auth/email/resend/",
}  # fmt: skip


def test_the_schema_is_served_and_documents_the_api(client):
    # when
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    # then
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == API_PATHS
    assert "offline-stripe" not in str(schema["paths"])
    checkout = schema["paths"]["/api/payments/create-payment-intent/"]["post"]
    assert {"200", "201", "4XX", "503"} <= set(checkout["responses"])
    for webhook in ("/api/payments/webhook/", "/api/payments/webhook/thin/"):
        operation = schema["paths"][webhook]["post"]
        assert {"200", "4XX", "503"} <= set(operation["responses"])
        assert [p["name"] for p in operation["parameters"]] == ["Stripe-Signature"]
    assert "STRIPE_THIN_WEBHOOK_SECRET" in schema["paths"]["/api/payments/webhook/thin/"]["post"]["description"]
    throttled = {
        (path, method)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if "429" in op["responses"]
    }
    assert ("/api/events/", "post") in throttled and ("/api/events/", "get") not in throttled
    assert ("/api/payments/create-payment-intent/", "post") in throttled and ("/api/auth/login/", "post") in throttled
    retry_after = checkout["responses"]["429"]["headers"]["Retry-After"]
    assert retry_after["required"] is True and retry_after["schema"]["type"] == "integer"
    assert all(
        op["responses"]["503"]["headers"]["Retry-After"]["required"]
        for ops in schema["paths"].values()
        for op in ops.values()
    )
    for name in ("EventCreate", "PatchedEventUpdate"):  # the rules the serializers enforce, stated
        fields = schema["components"]["schemas"][name]["properties"]
        assert fields["title"]["minLength"] == 1
        assert fields["starts_at"]["description"] == "Must be in the future."


def test_the_docs_page_loads_nothing_from_the_internet(client):
    # when
    page = client.get("/api/docs/")

    # then
    assert page.status_code == 200
    html = page.content.decode()
    # Swagger UI's set-up script is a file of its own (the Content-Security-Policy admits no inline script)
    [script_url] = re.findall(r"""<script src=["'](/api/docs/[^"']+)""", html)
    assert "/api/schema/" in client.get(script_url.replace("&amp;", "&")).content.decode()
    external = re.findall(r"""(?:src|href)=["'](https?:)?//""", html)
    assert not external, external
    assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", html)
    assert assets, "the page should load its own copies of Swagger UI"
    for asset in assets:  # shipped by drf-spectacular-sidecar, collected with the other static files
        assert finders.find(asset.removeprefix("/static/")), asset


def _wsgi_app():
    """Django's own WSGI handler for tests: the whole middleware stack, CSRF enforced, and the test's
    transaction kept open across requests (the production handler would close the connection)."""
    handler = ClientHandler(enforce_csrf_checks=True)

    def app(environ, start_response):
        response = handler(environ)
        headers = [*response.items(), *(("Set-Cookie", c.output(header="")) for c in response.cookies.values())]
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        return response

    return app


schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", _wsgi_app())


@pytest.fixture
def token(user, webhooks_off):
    """A token for a user with an event and a payment, so that some generated ids exist."""
    EventFactory(owner=user)
    PaymentFactory(event=EventFactory(owner=user))
    return api_token_create(user=user)


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_keeps_to_its_schema(case, token):
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
