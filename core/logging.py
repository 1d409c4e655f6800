"""Structured logs: JSON lines in production, readable lines in development, never a secret.

- `log_context(...)` binds ids (Stripe event, PaymentIntent, payment) to every record logged
  inside it; `ContextFilter` adds them, and the Celery task id, to each record.
- Both formatters redact what must never reach a log: API keys, webhook secrets, PaymentIntent
  client secrets (they arrive in URLs: the return page, the offline proxy) and card numbers.
  Redaction runs on the finished line, so a secret in a message, an argument, an `extra`
  or a traceback is caught alike.
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType

from gunicorn.glogging import Logger as _GunicornLogger
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

CONTEXT_FIELDS = ("stripe_event_id", "payment_intent_id", "payment_id", "task_id")

_context: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar(
    "eventpay_log_context", default=MappingProxyType({})
)

REDACTED = "[redacted]"
_SECRET_PATTERNS = [
    # Stripe API keys (secret, restricted, publishable are harmless but alike) and webhook secrets.
    re.compile(r"\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9_]+"),
    re.compile(r"\bwhsec_[A-Za-z0-9_]+"),
    # A PaymentIntent's (or SetupIntent's) client secret: the id stays, the secret part goes.
    re.compile(r"(?<=_secret_)[A-Za-z0-9]+"),
    # The API token of `Authorization: Token …` (knox: 64 hex characters).
    re.compile(r"(?<=Token )[0-9a-f]{64}\b"),
]
# A card number: 13-19 digits, optionally grouped by spaces or dashes; redacted only if it passes Luhn.
_CARD_NUMBER = re.compile(r"(?<![\d.])[2-6]\d{3}(?:[ -]?\d){9,15}(?![\d.])")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _redact_card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    return REDACTED if 13 <= len(digits) <= 19 and _luhn_valid(digits) else match.group()


def redact(text: str) -> str:
    """Removes secrets, client secrets and card numbers from a formatted log line."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return _CARD_NUMBER.sub(_redact_card, text)


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Adds `fields` (None values left out) to every record logged inside the block, in this thread or task."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v not in (None, "")}})
    try:
        yield
    finally:
        _context.reset(token)


def _current_task_id() -> str | None:
    from celery import current_task

    try:
        request = current_task.request if current_task else None
    except Exception:  # no Celery app configured: not inside a task
        return None
    return getattr(request, "id", None)


class ContextFilter(logging.Filter):
    """Puts the bound ids and the Celery task id on each record; a record's own `extra` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        if not hasattr(record, "task_id"):
            task_id = _current_task_id()
            if task_id:
                record.task_id = task_id
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: timestamp, level, logger, message, the context ids, any `extra`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", ["asctime", "levelname", "name", "message"])
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        kwargs.setdefault("datefmt", "%Y-%m-%dT%H:%M:%S%z")
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class TextFormatter(logging.Formatter):
    """A readable line for development, followed by the context ids that are known."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, **kwargs):
        super().__init__(fmt or "%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt or "%H:%M:%S", **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{key}={getattr(record, key)}" for key in CONTEXT_FIELDS if getattr(record, key, None))
        if ids:
            head, newline, rest = line.partition("\n")
            line = f"{head} [{ids}]{newline}{rest}"
        return redact(line)


class GunicornLogger(_GunicornLogger):
    """Gunicorn's access and error lines through the same formatters (`logger_class = "core.logging.GunicornLogger"`).

    Its access line holds the request line with the query string, where the return page
    carries `payment_intent_client_secret`: without this it would be written as it came.
    """

    def setup(self, cfg):
        super().setup(cfg)
        import os

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
        from django.conf import settings

        formatter = JsonFormatter() if settings.LOG_FORMAT == "json" else TextFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)
                handler.addFilter(ContextFilter())
