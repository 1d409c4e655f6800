"""Emails to organisers, sent exactly once per fact: "your event is live", "your payment failed", "your
payment was refunded"; and the account's emails (confirm the address, set a new password), one per request.

1. Fulfilment records the fact (`notification_record`) in the transaction that changes the payment, under
   its row lock: one row per payment and kind (a unique constraint), so a duplicated or reordered webhook,
   reconciliation or an operator's rerun finds the row there and records nothing new.
2. After that transaction commits, a worker is asked to send it: the emails one transaction recorded leave
   together, in one message (`send_notifications`, by name; `send_notification` for a single one). The
   sweeper re-sends rows whose hand-over was lost (broker down, crash after commit).
3. The worker (`notification_send`) claims the row, then sends, then records, as outbox senders do:
   - the claim is one UPDATE, committed at once: `pending` → `sending` with `claimed_at`. A redelivered
     task, the sweeper's copy and an operator's retry find the row `sending` (or sent) and send nothing;
   - the email goes to the SMTP server with no transaction open and no row locked, so a slow server holds
     neither a lock nor a transaction, only this worker;
   - the outcome is one guarded UPDATE: `sent`; or back to `pending` (a failure worth retrying, with the
     task's back-off); or `failed` (a permanent refusal, for an operator). Recording `sent` survives a cut
     connection: it reconnects and writes again, a few times.
   A group reads its rows in one query (`notifications_read`), then takes the same three steps for each of
   its emails, one after the other, over one SMTP connection (`notifications_email_connection`): connect,
   TLS and login once per group. An email that
   fails goes its own way (a retry alone, with the single task's back-off; or failed), the others go on.

Account emails (`account_email_record`) take the same path from step 2: the account API writes the row
with the request, so the answer does not wait for the SMTP server (nor tells by its timing whether an
address has an account). Their links are made when the email is sent and never stored: the row keeps the
email with the link withheld, and the admin's preview withholds it too.

Delivery is at least once, not exactly once, in one case: a sender that dies (or loses the database for
longer than its retries) after the SMTP server accepted the message and before `sent` is written. Its claim
runs out after NOTIFICATION_CLAIM_TIMEOUT_SECONDS, then the sweeper hands the row over again and it is sent
a second time, with the same Message-ID header, which mail clients show as one message. Losing the email
instead would be worse for "your event is live".
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from core import accounts
from core.models import VerifiedEmail
from payments import metrics, queue, selectors
from payments.models import Notification, NotificationKind, OperatorAction, Payment
from payments.services.audit import Actor, operator_action_recorder
from payments.services.hand_over import MAX_ERROR_LENGTH, HandOver

logger = logging.getLogger(__name__)

KIND_OF_STATUS: dict[str, NotificationKind] = {
    Payment.Status.SUCCEEDED: Notification.Kind.LIVE,
    Payment.Status.FAILED: Notification.Kind.PAYMENT_FAILED,
    Payment.Status.REFUNDED: Notification.Kind.REFUNDED,
}

# Currencies without a minor unit (Stripe's list): their amounts are whole units already.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)

# Recording `sent` after a connection was cut: writes tried, and the pause before the first retry (doubled
# each time): 3 s in all, long enough for a new connection, short enough to hold no worker for long.
RECORD_SENT_ATTEMPTS = 5
RECORD_SENT_FIRST_PAUSE_SECONDS = 0.2


class EmailNotSent(Exception):
    """The SMTP server could not take the message now; the task retries with back-off."""


def notification_record(*, payment: Payment) -> Notification | None:
    """Records the email that the payment's new status calls for, once per payment and kind; the caller
    (fulfilment) holds the payment's row lock. The send is handed to a worker after the commit."""
    recorded = notifications_record(reached=[(payment, payment.status)])
    return recorded[0] if recorded else None


def notifications_record(*, reached: Sequence[tuple[Payment, str]]) -> list[Notification]:
    """`notification_record` for each status a payment reached, in one read and one insert (a batch of
    fulfilment may move a payment more than once); the caller holds the payments' row locks."""
    wanted: dict[tuple[int, str], Payment] = {}
    for payment, status in reached:
        kind = KIND_OF_STATUS.get(status)
        if kind is not None:
            wanted.setdefault((payment.pk, kind), payment)
    if not wanted:
        return []
    # The payments' locks serialise every writer of their notifications: no savepoint for a race that cannot happen.
    recorded = set(
        Notification.objects.filter(payment__in={payment.pk for payment in wanted.values()}).values_list(
            "payment_id", "kind"
        )
    )
    # Recorded as handed over, since the hand-over follows the commit at once; a publish that fails puts
    # `enqueued_at` back to empty, and a process that dies in between leaves a row the sweeper re-sends
    # anyway (it looks at `created_at` and `enqueued_at`, both set here). As the webhook's inbox row.
    created = Notification.objects.bulk_create(
        Notification(
            user=payment.user, payment=payment, kind=kind, to_email=payment.user.email, enqueued_at=timezone.now()
        )
        for (payment_id, kind), payment in wanted.items()
        if (payment_id, kind) not in recorded
    )
    notification_hand_over.on_commit([notification.pk for notification in created])
    return created


def account_email_record(*, user: User, kind: str) -> Notification:
    """Records an account's email (Notification.ACCOUNT_KINDS) to the user's address, handed to a worker
    after the commit; each request is one email."""
    if kind not in Notification.ACCOUNT_KINDS:
        raise ValueError(f"{kind} is not an account email")
    notification = Notification.objects.create(user=user, kind=kind, to_email=user.email, enqueued_at=timezone.now())
    notification_hand_over.on_commit([notification.pk])
    return notification


def _mark_enqueued(notification_ids: Sequence[int]) -> None:
    Notification.objects.filter(
        pk__in=notification_ids, status__in=(Notification.Status.PENDING, Notification.Status.SENDING)
    ).update(enqueued_at=timezone.now())


def claim_timeout() -> timedelta:
    return timedelta(seconds=settings.NOTIFICATION_CLAIM_TIMEOUT_SECONDS)


def _send_group(notification_ids: list[int]) -> None:
    """The emails one transaction recorded, in one message; a single one by the single task."""
    if len(notification_ids) == 1:
        queue.notification_send(notification_id=notification_ids[0])
    else:
        queue.notifications_send(notification_ids=notification_ids)
    metrics.count_hand_over_group(rows="notification", size=len(notification_ids))


def _hand_over_refused(notification_ids: list[int]) -> None:
    """Recorded as handed over, but the publish after their commit failed: the sweeper sends them."""
    Notification.objects.filter(pk__in=notification_ids, status=Notification.Status.PENDING).update(enqueued_at=None)


notification_hand_over = HandOver(
    what="notification",
    send=lambda pk: queue.notification_send(notification_id=pk),
    mark_enqueued=_mark_enqueued,
    stale=lambda older_than: selectors.notifications_stale(older_than=older_than, claim_timeout=claim_timeout()),
    send_group=_send_group,
    refused=_hand_over_refused,
)


def notification_enqueue(*, notification_id: int) -> bool:
    """Hands a notification to the workers; a broker that is down is logged and left to the sweeper."""
    return notification_hand_over.enqueue(notification_id)


def notifications_requeue_stale(*, older_than: timedelta) -> int:
    """Re-enqueues pending notifications created, and last handed over, more than `older_than` ago, and those
    whose sender's claim ran out (beat)."""
    return notification_hand_over.requeue_stale(older_than=older_than)


def _sendable(now: datetime) -> QuerySet[Notification]:
    """Claimable notifications with what sending one needs: its payment and event, its organiser, and
    whether the address is one the organiser verified (`address_verified`)."""
    verified = VerifiedEmail.objects.filter(user=OuterRef("user"), email__iexact=OuterRef("to_email"))
    return (
        Notification.objects.filter(_claimable(now))
        .select_related("payment__event", "user")
        .annotate(address_verified=Exists(verified))
    )


def notifications_read(*, notification_ids: Sequence[int]) -> dict[int, Notification]:
    """The claimable notifications among `notification_ids`, read in one query for a group's
    `notification_send(read=…)`. Only a read: each email's claim still decides whether it is sent."""
    return {notification.pk: notification for notification in _sendable(timezone.now()).filter(pk__in=notification_ids)}


def notification_send(
    *, notification_id: int, email_connection: BaseEmailBackend | None = None, read: Notification | None = None
) -> str:
    """Sends one notification unless it was sent already, failed for good, or another sender holds a claim
    on it that has not run out; returns its resulting status.

    Reads, checks and renders the row first, so that between the claim and the outcome there is only the
    SMTP conversation, with no transaction open and no lock held. Raises EmailNotSent when the SMTP server
    fails in a way worth retrying (connection refused or cut, 4xx answers), the row pending again; a
    permanent refusal (5xx) marks the row failed at once, for an operator.

    With `email_connection` (a group's: `notifications_email_connection`) the email goes over that
    connection, opened by the first email that needs it and kept open for the next; without, over a
    connection of its own. `read` is the row as a group read it (`notifications_read`), spared a query of
    its own."""
    notification = read or _sendable(timezone.now()).filter(pk=notification_id).first()
    if notification is None:
        status = Notification.objects.filter(pk=notification_id).values_list("status", flat=True).first()
        if status is None:
            logger.warning("notification %s does not exist", notification_id)
        return status or ""
    if notification.status == Notification.Status.SENDING:
        logger.warning(
            "notification %s: its sender's claim of %s ran out; sending it again (same Message-ID)",
            notification_id,
            notification.claimed_at,
        )
    error = _undeliverable(notification)
    if error:  # nothing is sent: nothing to claim
        _record_failure(notification_id=notification_id, guard=_claimable(timezone.now()), error=error, permanent=True)
        return Notification.Status.FAILED
    message = notification_message(notification, email_connection=email_connection)
    # What was sent, as the admin shows it; an account email again, with its link withheld.
    if notification.kind in Notification.ACCOUNT_KINDS:
        kept = notification_render(notification)
    else:  # built from rendered strings (`notification_message`): no lazy or binary part
        kept = (str(message.subject), str(message.body), cast(str, message.alternatives[0][0]))

    claimed_at = _claim(notification_id=notification_id)
    if claimed_at is None:  # another sender claimed it since it was read
        return Notification.objects.values_list("status", flat=True).get(pk=notification_id)
    try:
        if email_connection is not None:
            email_connection.open()  # no-op while open; `send` would close a connection it opened itself
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        if email_connection is not None and not _answered(exc):  # cut mid-conversation: the next email reconnects
            _close(email_connection)
        error, permanent = f"{type(exc).__name__}: {exc}", _is_permanent(exc)
        # Unless this sender's claim ran out and another took the row over meanwhile.
        ours = Q(status=Notification.Status.SENDING, claimed_at=claimed_at)
        _record_failure(notification_id=notification_id, guard=ours, error=error, permanent=permanent)
        if permanent:
            return Notification.Status.FAILED
        raise EmailNotSent(error) from exc
    _record_sent(notification_id=notification_id, kept=kept)
    logger.info("notification %s (%s) sent", notification_id, notification.kind)
    return Notification.Status.SENT


@contextlib.contextmanager
def notifications_email_connection() -> Iterator[BaseEmailBackend]:
    """One SMTP connection for a group of emails (`notification_send(email_connection=…)`), closed at the end."""
    email_connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
    try:
        yield email_connection
    finally:
        _close(email_connection)


def _close(email_connection: BaseEmailBackend) -> None:
    # Every email already has its outcome: a server that answers QUIT badly changes none of them.
    with contextlib.suppress(smtplib.SMTPException, OSError):
        email_connection.close()


def _claimable(now: datetime) -> Q:
    """Pending, or claimed by a sender whose claim ran out (it died, or lost the database after sending)."""
    return Q(status=Notification.Status.PENDING) | Q(
        status=Notification.Status.SENDING, claimed_at__lt=now - claim_timeout()
    )


def _claim(*, notification_id: int) -> datetime | None:
    """Takes the notification for this sender: one UPDATE, committed at once, so no lock outlives it. The
    claim's time, or None when the row is no longer claimable (sent, failed, or another sender's)."""
    now = timezone.now()
    claimed = Notification.objects.filter(_claimable(now), pk=notification_id).update(
        status=Notification.Status.SENDING, claimed_at=now
    )
    return now if claimed else None


def _undeliverable(notification: Notification) -> str:
    """Why the notification (as `_sendable` reads it) must not be sent at all, or "" when it may be."""
    if not notification.to_email:
        return "The organiser has no email address."
    verified: bool = notification.address_verified  # type: ignore[attr-defined]  # `_sendable`'s annotation
    if notification.kind != Notification.Kind.EMAIL_VERIFICATION and not verified:
        # Nothing but the question whether the address is theirs goes to an address not verified.
        return "The organiser has not verified this email address."
    return ""


def _record_failure(*, notification_id: int, guard: Q, error: str, permanent: bool) -> None:
    """A failed attempt, if the row still matches `guard`: back to pending for the task's retry, or failed
    for an operator."""
    status = Notification.Status.FAILED if permanent else Notification.Status.PENDING
    # `enqueued_at`: the task's own retry is on its way, the sweeper need not send another.
    Notification.objects.filter(guard, pk=notification_id).update(
        status=status, attempts=F("attempts") + 1, last_error=error[:MAX_ERROR_LENGTH], enqueued_at=timezone.now()
    )
    if permanent:
        logger.error("notification %s could not be sent: %s", notification_id, error)


def _record_sent(*, notification_id: int, kept: tuple[str, str, str]) -> None:
    """Marks the notification sent, whoever holds its claim now (the SMTP server has it). A connection lost
    meanwhile (a restart, a failover, a cut) is replaced and the write tried again; if the database stays
    out of reach, the row stays `sending` and is sent again once its claim runs out."""
    subject, body_text, body_html = kept
    for attempt in range(1, RECORD_SENT_ATTEMPTS + 1):
        try:
            Notification.objects.filter(pk=notification_id).exclude(status=Notification.Status.SENT).update(
                status=Notification.Status.SENT,
                sent_at=timezone.now(),
                attempts=F("attempts") + 1,
                last_error="",
                subject=subject,
                body_text=body_text,
                body_html=body_html,
            )
            return
        except (OperationalError, InterfaceError):
            # Inside a caller's transaction a new connection would not see, nor keep, its writes.
            if connection.in_atomic_block or attempt == RECORD_SENT_ATTEMPTS:
                logger.error(
                    "notification %s was sent but could not be marked sent; it is sent again (same Message-ID) "
                    "once its claim runs out",
                    notification_id,
                )
                raise
            logger.warning("notification %s was sent; marking it sent failed, retrying", notification_id, exc_info=True)
            connection.close()
            time.sleep(RECORD_SENT_FIRST_PAUSE_SECONDS * 2 ** (attempt - 1))


def _answered(exc: Exception) -> bool:
    """The SMTP server refused the email with an answer: smtplib reset the session, which takes the next one."""
    return isinstance(exc, (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused))


def _is_permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def notification_mark_failed(*, notification_id: int, error: str) -> None:
    """Retries are used up: the row waits for an operator (unless it was sent meanwhile)."""
    marked = Notification.objects.filter(pk=notification_id, status=Notification.Status.PENDING).update(
        status=Notification.Status.FAILED, last_error=error[:MAX_ERROR_LENGTH]
    )
    if marked:
        logger.error("notification %s failed after its retries: %s", notification_id, error)


def notification_retry(*, notification: Notification, actor: Actor) -> OperatorAction:
    """An operator's retry of a failed send: back to pending and to the workers. A sent notification is
    never sent again; the retry is recorded either way."""

    record = operator_action_recorder(
        actor=actor, action=OperatorAction.Action.RESEND, payment=notification.payment, notification=notification
    )

    reopened = Notification.objects.filter(pk=notification.pk, status=Notification.Status.FAILED).update(
        status=Notification.Status.PENDING
    )
    if not reopened:
        notification.refresh_from_db(fields=["status"])
        if notification.status == Notification.Status.SENDING:
            return record(
                OperatorAction.Outcome.SKIPPED,
                "A worker is sending the notification; if it died, the sweeper sends it again once its claim runs out.",
            )
        return record(OperatorAction.Outcome.SKIPPED, f"The notification is {notification.status}; nothing to retry.")
    if not notification_enqueue(notification_id=notification.pk):
        return record(
            OperatorAction.Outcome.ERROR,
            "The broker is unavailable; the notification is pending and the sweeper will send it.",
        )
    return record(OperatorAction.Outcome.DONE, f"Handed to a worker after {notification.attempts} attempt(s).")


def notification_message(
    notification: Notification, *, email_connection: BaseEmailBackend | None = None
) -> EmailMultiAlternatives:
    """The email for a notification, plain text and HTML, from templates/payments/email/<kind>.*, with its
    link if it is an account email; sent over `email_connection`, or a connection of its own."""
    subject, text, html = notification_render(notification, with_secret_link=True)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=[notification.to_email],
        headers={"Message-ID": notification.message_id},
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT) if email_connection is None else email_connection,
    )
    message.attach_alternative(html, "text/html")
    return message


WITHHELD_LINK = "(the link is withheld: it works only for the person it was emailed to)"


def notification_render(notification: Notification, *, with_secret_link: bool = False) -> tuple[str, str, str]:
    """Subject, plain text and HTML of a notification, as they would be sent now. An account email's link
    (password reset, address verification) is a credential: only the email itself carries it."""
    site = settings.SITE_URL.rstrip("/")
    context: dict[str, object] = {"organiser": notification.user}
    if notification.kind in Notification.ACCOUNT_KINDS:
        context.update(_account_email_context(notification, with_secret_link=with_secret_link))
    else:
        # A payment's fact always has its payment (the check constraint notification_payment_iff_payment_kind).
        payment = cast(Payment, notification.payment)
        event = payment.event
        context.update(
            event=event,
            payment=payment,
            amount=format_amount(payment.amount, payment.currency),
            receipt_url=f"{site}/payments/{payment.pk}/receipt",
            event_url=f"{site}/events/{event.pk}",
            public_url=f"{site}/e/{event.pk}",
            pay_url=f"{site}/events/{event.pk}/pay",
        )
    template = f"payments/email/{notification.kind}"
    subject = " ".join(render_to_string(f"{template}.subject.txt", context).split())
    return subject, render_to_string(f"{template}.txt", context), render_to_string(f"{template}.html", context)


def _account_email_context(notification: Notification, *, with_secret_link: bool) -> dict[str, object]:
    user = notification.user
    if notification.kind == Notification.Kind.PASSWORD_RESET:
        link = accounts.password_reset_link(user=user) if with_secret_link else WITHHELD_LINK
        return {"reset_url": link, "valid_hours": settings.PASSWORD_RESET_TIMEOUT // 3600}
    link = (
        accounts.email_verification_link(user=user, email=notification.to_email) if with_secret_link else WITHHELD_LINK
    )
    return {"verify_url": link, "valid_hours": settings.EMAIL_VERIFICATION_MAX_AGE_HOURS}


def format_amount(amount: int, currency: str) -> str:
    if currency.lower() in ZERO_DECIMAL_CURRENCIES:
        return f"{amount} {currency.upper()}"
    return f"{amount / 100:.2f} {currency.upper()}"
