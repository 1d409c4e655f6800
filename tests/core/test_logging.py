"""Structured logs: the context ids on each record, JSON in production, readable in development, no secrets."""

import io
import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from core.logging import ContextFilter, GunicornLogger, JsonFormatter, TextFormatter, log_context, redact
from tests.conftest import ROOT


@pytest.fixture
def capture():
    """A logger writing through the project's filter and both formatters."""
    streams = {"json": io.StringIO(), "text": io.StringIO()}
    logger = logging.getLogger("tests.structured")
    handlers = []
    for name, formatter in (("json", JsonFormatter()), ("text", TextFormatter())):
        handler = logging.StreamHandler(streams[name])
        handler.setFormatter(formatter)
        handler.addFilter(ContextFilter())
        logger.addHandler(handler)
        handlers.append(handler)
    logger.setLevel(logging.DEBUG)
    yield logger, streams
    for handler in handlers:
        logger.removeHandler(handler)


@pytest.mark.parametrize(
    "secret",
    [
        "sk_test_51Hx0aQ2eZvKYlo2C0123456789abcdef",
        "sk_live_51Hx0aQ2eZvKYlo2C0123456789abcdef",
        "rk_live_51Hx0aQ2eZvKYlo2C01234",
        "whsec_test_current",
        "4242424242424242",
        "4242 4242 4242 4242",
        "4000-0000-0000-0341",
        "378282246310005",
    ],
)
def test_secrets_and_card_numbers_are_redacted(secret):
    assert secret not in redact(f"calling Stripe with {secret}, then more")
    assert "[redacted]" in redact(f"calling Stripe with {secret}, then more")


def test_a_client_secret_keeps_its_intent_id_and_loses_its_secret():
    line = redact(
        "GET /payments/status?payment_intent_client_secret=pi_3Ab9Q_secret_Zx81kLmN0p&redirect_status=succeeded"
    )
    assert "Zx81kLmN0p" not in line and "pi_3Ab9Q_secret_[redacted]" in line


@pytest.mark.parametrize(
    "harmless", ["1795663807123", "payment 4242", "order 12345678901234567890", "pi_3Ab9Q", "evt_1Nq"]
)
def test_ids_and_timestamps_are_kept(harmless):
    assert redact(f"value {harmless} end") == f"value {harmless} end"


def test_json_line_carries_level_logger_message_and_context_ids(capture):
    # given
    logger, streams = capture

    # when
    with log_context(payment_id=42, payment_intent_id="pi_123"):
        logger.warning("payment %s reconciled", 42, extra={"stripe_event_id": "evt_9"})
    logger.info("outside")

    # then
    inside, outside = [json.loads(line) for line in streams["json"].getvalue().splitlines()]
    assert inside["level"] == "WARNING" and inside["logger"] == "tests.structured"
    assert inside["message"] == "payment 42 reconciled"
    assert (inside["payment_id"], inside["payment_intent_id"], inside["stripe_event_id"]) == (42, "pi_123", "evt_9")
    assert "time" in inside
    assert "payment_id" not in outside


def test_text_line_is_readable_with_the_ids_appended(capture):
    # given
    logger, streams = capture

    # when
    with log_context(stripe_event_id="evt_1", payment_id=None):
        logger.error("stripe event failed")

    # then
    line = streams["text"].getvalue().strip()
    assert line.endswith("ERROR   tests.structured: stripe event failed [stripe_event_id=evt_1]")


def test_secrets_in_arguments_extras_and_tracebacks_are_redacted(capture):
    # given
    logger, streams = capture

    # when
    try:
        raise ValueError("bad key sk_test_abcdefghijklmnop")
    except ValueError:
        logger.exception("card %s failed", "4242424242424242", extra={"header": "whsec_abc123"})

    # then
    for output in streams.values():
        text = output.getvalue()
        assert "sk_test_abcdefghijklmnop" not in text and "4242424242424242" not in text and "whsec_abc123" not in text
        assert "ValueError" in text
    json.loads(streams["json"].getvalue())


def test_celery_task_id_is_on_records_logged_inside_a_task(capture, db):
    # given
    from django.utils import timezone
    from freezegun import freeze_time

    from payments.models import StripeEvent
    from tests.factories import stored_stripe_event
    from worker.tasks import check_stripe_event_backlog

    logger, streams = capture
    operations_logger = logging.getLogger("payments.services.inbox")
    for handler in logger.handlers:
        operations_logger.addHandler(handler)
    with freeze_time(timezone.now() - timedelta(minutes=9)):
        stored_stripe_event(
            "customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.RECEIVED
        )

    # when
    try:
        result = check_stripe_event_backlog.apply()
    finally:
        for handler in logger.handlers:
            operations_logger.removeHandler(handler)

    # then
    [record] = [json.loads(line) for line in streams["json"].getvalue().splitlines()]
    assert record["level"] == "ERROR" and record["alert"] == "stripe_event_backlog"
    assert record["task_id"] == result.id


def test_production_settings_write_json_lines():
    # given
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "x9" * 30 + "-abcdefghij",
        "DJANGO_ALLOWED_HOSTS": "eventpay.example",
        "LOG_FORMAT": "",
    }
    env.pop("LOG_FORMAT")
    code = (
        "import django; django.setup(); import logging\n"
        "logging.getLogger('payments').warning('intent pi_1_secret_abc for sk_live_zzz', extra={'payment_id': 7})"
    )

    # when
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    # then
    assert result.returncode == 0, result.stderr
    [line] = result.stderr.strip().splitlines()
    record = json.loads(line)
    assert record["message"] == "intent pi_1_secret_[redacted] for [redacted]"
    assert (record["level"], record["logger"], record["payment_id"]) == ("WARNING", "payments", 7)


def test_gunicorn_access_lines_are_redacted(settings):
    # given
    settings.LOG_FORMAT = "json"
    config = Config()
    config.set("accesslog", "-")
    gunicorn_logger = GunicornLogger(config)
    stream = io.StringIO()
    for handler in gunicorn_logger.access_log.handlers:
        handler.setStream(stream)
    query = "payment_intent=pi_3Ab9Q&payment_intent_client_secret=pi_3Ab9Q_secret_Zx81kLmN0p"
    request = SimpleNamespace(method="GET", path="/payments/status", query=query, version=(1, 1), headers=[], uri="")
    response = SimpleNamespace(status="200 OK", status_code=200, headers=[], sent=10, response_length=10)
    environ = {
        "RAW_URI": f"/payments/status?{query}",
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.1",
    }

    # when
    gunicorn_logger.access(response, request, environ, timedelta(milliseconds=5))

    # then
    record = json.loads(stream.getvalue())
    assert record["logger"] == "gunicorn.access"
    assert "Zx81kLmN0p" not in record["message"] and "pi_3Ab9Q_secret_[redacted]" in record["message"]
