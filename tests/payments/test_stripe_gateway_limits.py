"""The gateway's answers to a Stripe that rate-limits us: a distinct error, so background jobs can stop."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from payments import metrics, stripe_gateway


class _RateLimited(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}}'
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def rate_limiting_stripe():
    """An HTTP server answering every call with Stripe's 429 (localstripe never rate-limits)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RateLimited)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_429_is_a_rate_limit_error_and_still_a_transient_one(settings, rate_limiting_stripe):
    # given
    settings.STRIPE_API_BASE = rate_limiting_stripe

    # when / then
    with pytest.raises(stripe_gateway.StripeRateLimited) as raised:
        stripe_gateway.retrieve_payment_intent("pi_any")
    assert isinstance(raised.value, stripe_gateway.TransientStripeError)


def test_every_429_is_counted_by_call(settings, rate_limiting_stripe):
    # given
    settings.STRIPE_API_BASE = rate_limiting_stripe
    counted = metrics.STRIPE_RATE_LIMITED.labels(call="PaymentIntentService.retrieve")
    before = counted._value.get()

    # when
    for _ in range(2):
        with pytest.raises(stripe_gateway.StripeRateLimited):
            stripe_gateway.retrieve_payment_intent("pi_any")

    # then
    assert counted._value.get() - before == 2
