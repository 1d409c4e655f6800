"""The worker's side of the drain, in-process: the same kind of `payment_intent.succeeded` rows fulfilled one
at a time (`fulfilment.process_stripe_event`, the design before) and in batches (`process_stripe_events`,
which hands each message to `fulfilment_batch`), in one run.

Each path gets rows of its own, for payments of its own, stored as the webhook stores them. Measured over
the whole drain: the statements sent (counted by a wrapper on Django's connection; BEGIN and COMMIT are
transactions, counted apart), this process's CPU (Python: the worker's share), the CPU of the PostgreSQL
backend serving its connection (read from /proc: the database on this machine), and the wall time.
The broker is not involved: the task body runs in this process, as a worker's pool process runs it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from unittest import mock

from bench.cpu import process_cpu
from bench.events import succeeded_body
from bench.stack import seed_payments

WARM_UP = 50


@dataclass(frozen=True)
class DrainCost:
    path: str
    events: int
    transactions: int
    statements: int
    wall: float  # seconds
    python_cpu: float  # seconds
    postgres_cpu: float | None  # seconds; None when the database runs elsewhere

    def per_event_ms(self, seconds: float | None) -> float | None:
        return None if seconds is None else seconds / self.events * 1000

    @property
    def cpu(self) -> float | None:
        return None if self.postgres_cpu is None else self.python_cpu + self.postgres_cpu


def _stored_rows(count: int, prefix: str) -> list[int]:
    from payments.services import inbox

    rows = []
    for payment_id, event_id, payment_intent_id in seed_payments(count, prefix):
        body = succeeded_body(payment_intent_id=payment_intent_id, payment_id=payment_id, event_id=event_id)
        row = inbox.stripe_event_store(event=json.loads(body), payload=body.encode())
        assert row is not None
        rows.append(row.pk)
    return rows


def _one_at_a_time(ids: list[int]) -> int:
    from payments.services import fulfilment

    for stripe_event_id in ids:
        fulfilment.process_stripe_event(stripe_event_id=stripe_event_id)
    return len(ids)


def _batched(size: int) -> Callable[[list[int]], int]:
    def drain(ids: list[int]) -> int:
        from payments.services import inbox
        from worker.tasks import process_stripe_events

        # A message's claim tops its batch up with the path's other waiting rows, and a full claim wakes
        # another worker: here none is sent, so that the stack's workers take no row from under the measure.
        with mock.patch.object(inbox, "stripe_events_wake_workers", return_value=None):
            for start in range(0, len(ids), size):
                process_stripe_events(ids[start : start + size])
        return -(-len(ids) // size)

    return drain


def _measured(path: str, drain: Callable[[list[int]], int], ids: list[int]) -> DrainCost:
    from django.db import connection

    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    backend_before = process_cpu(backend)
    wall, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(count):
        transactions = drain(ids)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    backend_after = process_cpu(backend)
    postgres = backend_after[0] - backend_before[0] if backend_before and backend_after else None
    return DrainCost(path, len(ids), transactions, statements, wall, cpu, postgres)


def drain_costs(*, events: int, batch_sizes: tuple[int, ...] | None = None) -> list[DrainCost]:
    """One at a time, then each batch size (the web's largest hand-over by default), on `events` rows each."""
    from django.conf import settings

    from payments.models import StripeEvent

    paths: list[tuple[str, Callable[[list[int]], int]]] = [("one at a time (before)", _one_at_a_time)]
    paths += [
        (f"batches of {size}", _batched(size)) for size in batch_sizes or (10, settings.FULFILMENT_BATCH_MAX_ROWS)
    ]
    costs = []
    for n, (path, drain) in enumerate(paths):
        drain(_stored_rows(WARM_UP, f"drainwarm{n}_"))  # imports, caches, prepared plans
        costs.append(_measured(path, drain, _stored_rows(events, f"drain{n}_")))
    StripeEvent.objects.all().delete()
    return costs


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def markdown(costs: list[DrainCost]) -> list[str]:
    """The report's section: figures per event, and each path's ratio to one at a time."""
    before = costs[0]
    lines = [f"## Drain in-process: one at a time vs batched ({before.events:,} `succeeded` events per path)", ""]
    lines += [
        "The worker's side alone, in one process (bench/drain.py): each path fulfils its own rows, stored as the "
        "webhook stores them. *Statements* are those sent on Django's connection (BEGIN and COMMIT are the "
        "transactions); *Python* is this process's CPU, *PostgreSQL* the CPU of the backend serving it (/proc). "
        "The after-commit work (the emails' and card details' hand-over to the broker, the metrics) is included.",
        "",
        "| path | transactions | statements / event | Python CPU ms / event | PostgreSQL CPU ms / event "
        "| wall ms / event | CPU ÷ one at a time | wall ÷ one at a time |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for cost in costs:
        cpu_ratio = f"{cost.cpu / before.cpu:.2f}×" if cost.cpu is not None and before.cpu else "n/a"
        lines.append(
            f"| {cost.path} | {cost.transactions:,} | {cost.statements / cost.events:.2f} "
            f"| {_ms(cost.per_event_ms(cost.python_cpu))} | {_ms(cost.per_event_ms(cost.postgres_cpu))} "
            f"| {_ms(cost.per_event_ms(cost.wall))} | {cpu_ratio} | {cost.wall / before.wall:.2f}× |"
        )
    lines += [""]
    return lines


@dataclass(frozen=True)
class EmailCost:
    path: str
    emails: int
    messages: int  # Celery messages the path takes
    connections: int  # SMTP connections opened
    wall: float  # seconds
    python_cpu: float  # seconds: the worker's share
    postgres_cpu: float | None  # seconds; None when the database runs elsewhere
    smtp_cpu: float | None  # seconds: the SMTP server process's

    def per_email_ms(self, seconds: float | None) -> float | None:
        return None if seconds is None else seconds / self.emails * 1000


def _emails_pending(count: int, prefix: str) -> list[int]:
    """`count` live emails to the benchmark's organiser, at a verified address, pending."""
    from core.models import VerifiedEmail
    from payments.models import Notification, Payment

    payments = Payment.objects.filter(pk__in=[payment_id for payment_id, _, _ in seed_payments(count, prefix)])
    user = payments[0].user
    user.email = "organiser@bench.localhost"
    user.save(update_fields=["email"])
    VerifiedEmail.objects.update_or_create(user=user, defaults={"email": user.email})
    rows = Notification.objects.bulk_create(
        Notification(user=user, payment=payment, kind=Notification.Kind.LIVE, to_email=user.email)
        for payment in payments
    )
    return [row.pk for row in rows]


def _one_task_each(ids: list[int]) -> int:
    from worker.tasks import send_notification

    for notification_id in ids:
        send_notification(notification_id)
    return len(ids)


def _in_groups(size: int) -> Callable[[list[int]], int]:
    def send(ids: list[int]) -> int:
        from worker.tasks import send_notifications

        for start in range(0, len(ids), size):
            send_notifications(ids[start : start + size])
        return -(-len(ids) // size)

    return send


def email_costs(*, emails: int) -> list[EmailCost]:
    """`emails` emails sent to a real SMTP server process (aiosmtpd, offline/smtp.py), one task each as
    before, then in groups of the largest a batch of fulfilment hands over, each path on rows of its own."""
    import tempfile
    from pathlib import Path
    from unittest import mock

    from django.conf import settings
    from django.core.mail.backends.smtp import EmailBackend
    from django.db import connection
    from django.test import override_settings

    from offline import processes
    from offline.net import free_port
    from payments.models import Notification

    paths: list[tuple[str, Callable[[list[int]], int]]] = [
        ("one `send_notification` task each (before)", _one_task_each)
    ]
    paths += [(f"`send_notifications`, groups of {settings.FULFILMENT_BATCH_MAX_ROWS}",
               _in_groups(settings.FULFILMENT_BATCH_MAX_ROWS))]  # fmt: skip
    real_open = EmailBackend.open
    opened = 0

    def counting_open(backend: EmailBackend) -> bool | None:
        nonlocal opened
        new = real_open(backend)
        opened += bool(new)
        return new

    costs = []
    with tempfile.TemporaryDirectory() as directory:
        port = free_port()
        smtp = processes.start_smtp(port=port, maildir=Path(directory) / "mail", log_path=Path(directory) / "smtp.log")
        try:
            with (
                override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
                                  EMAIL_PORT=port, EMAIL_USE_TLS=False, EMAIL_HOST_USER="", EMAIL_HOST_PASSWORD=""),
                mock.patch.object(EmailBackend, "open", counting_open),
            ):  # fmt: skip
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    backend = cursor.fetchone()[0]
                for n, (path, send) in enumerate(paths):
                    send(_emails_pending(20, f"emailwarm{n}_"))  # imports, templates, prepared plans
                    ids = _emails_pending(emails, f"email{n}_")
                    opened = 0
                    before = process_cpu(backend), process_cpu(smtp.pid)
                    wall, cpu = time.perf_counter(), time.process_time()
                    messages = send(ids)
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    after = process_cpu(backend), process_cpu(smtp.pid)
                    postgres, server = (b[0] - a[0] if a and b else None for a, b in zip(before, after, strict=True))
                    if Notification.objects.filter(pk__in=ids, status=Notification.Status.SENT).count() != len(ids):
                        raise RuntimeError(f"{path}: not every email was sent")
                    costs.append(EmailCost(path, len(ids), messages, opened, wall, cpu, postgres, server))
        finally:
            processes.stop(smtp)
    Notification.objects.all().delete()
    return costs


def email_markdown(costs: list[EmailCost]) -> list[str]:
    """The report's section: per email, one task each against groups."""
    before = costs[0]
    lines = [f"## Emails in-process: one task each vs groups ({before.emails:,} emails per path)", ""]
    lines += [
        "The worker's side of sending the emails fulfilment records (bench/drain.py): each path's own rows, sent "
        "by the task bodies in this process to a real SMTP server process (aiosmtpd, offline/smtp.py), one "
        "`send_notification` each as before, or `send_notifications` for the group one transaction of fulfilment "
        "hands over (claim, send, record for each email, over one SMTP connection). *Python* is this process's CPU "
        "(the worker's share, the Celery message's own cost excepted), *PostgreSQL* the backend's serving it, "
        "*SMTP server* aiosmtpd's.",
        "",
        "| path | Celery messages | SMTP connections | Python CPU ms / email | PostgreSQL CPU ms / email "
        "| SMTP server CPU ms / email | wall ms / email | Python CPU ÷ one task each | wall ÷ one task each |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for cost in costs:
        lines.append(
            f"| {cost.path} | {cost.messages:,} | {cost.connections:,} | {_ms(cost.per_email_ms(cost.python_cpu))} "
            f"| {_ms(cost.per_email_ms(cost.postgres_cpu))} | {_ms(cost.per_email_ms(cost.smtp_cpu))} "
            f"| {_ms(cost.per_email_ms(cost.wall))} | {cost.python_cpu / before.python_cpu:.2f}× "
            f"| {cost.wall / before.wall:.2f}× |"
        )
    lines += [""]
    return lines
