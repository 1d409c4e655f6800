"""Emails to organisers, sent exactly once per fact: "your event is live", "your payment failed", "your
payment was refunded"; and the account's emails (confirm the address, set a new password), one per request.

1. Fulfilment records the fact (`notification_record`) in the transaction that changes the payment, under
   its row lock: one row per payment and kind (a unique constraint), so a duplicated or reordered webhook,
   reconciliation or an operator's rerun finds the row there and records nothing new.
2. After that transaction commits, a worker is asked to send it (`send_notification`, by name); the
   sweeper re-sends rows whose hand-over was lost (broker down, crash after commit).
3. The worker (`notification_send`) locks the row, does nothing if it is already sent, else sends it
   through Django's email API and marks it sent in the same transaction. A redelivered task, the sweeper's
   copy and an operator's retry wait for that lock, then find the row sent.

Account emails (`account_email_record`) take the same path from step 2: the account API writes the row
with the request, so the answer does not wait for the SMTP server (nor tells by its timing whether an
address has an account). Their links are made when the email is sent and never stored: the row keeps the
email with the link withheld, and the admin's preview withholds it too.

The one window left is a worker that dies after the SMTP server accepted the message and before the
commit: the row is still pending and is sent again, with the same Message-ID header, which mail clients
show as one message. Losing the email instead would be worse for "your event is live".
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from typing import cast

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from core import accounts
from core.models import VerifiedEmail
from payments import queue, selectors
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


# What sending writes to the row.
SENT_FIELDS = ["status", "sent_at", "attempts", "last_error", "subject", "body_text", "body_html"]


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
    for notification in created:
        transaction.on_commit(partial(_hand_over, notification_id=notification.pk), robust=True)
    return created


def account_email_record(*, user: User, kind: str) -> Notification:
    """Records an account's email (Notification.ACCOUNT_KINDS) to the user's address, handed to a worker
    after the commit; each request is one email."""
    if kind not in Notification.ACCOUNT_KINDS:
        raise ValueError(f"{kind} is not an account email")
    notification = Notification.objects.create(user=user, kind=kind, to_email=user.email, enqueued_at=timezone.now())
    transaction.on_commit(partial(_hand_over, notification_id=notification.pk), robust=True)
    return notification


def _mark_enqueued(notification_ids: Sequence[int]) -> None:
    Notification.objects.filter(pk__in=notification_ids, status=Notification.Status.PENDING).update(
        enqueued_at=timezone.now()
    )


notification_hand_over = HandOver(
    what="notification",
    send=lambda pk: queue.notification_send(notification_id=pk),
    mark_enqueued=_mark_enqueued,
    stale=lambda older_than: selectors.notifications_stale(older_than=older_than),
)


def _hand_over(*, notification_id: int) -> None:
    """After the recording commit: the row already says it was handed over, unless the publish fails."""
    if not notification_hand_over.publish(notification_id):
        Notification.objects.filter(pk=notification_id, status=Notification.Status.PENDING).update(enqueued_at=None)


def notification_enqueue(*, notification_id: int) -> bool:
    """Hands a notification to the workers; a broker that is down is logged and left to the sweeper."""
    return notification_hand_over.enqueue(notification_id)


def notifications_requeue_stale(*, older_than: timedelta) -> int:
    """Re-enqueues pending notifications created, and last handed over, more than `older_than` ago (beat)."""
    return notification_hand_over.requeue_stale(older_than=older_than)


def notification_send(*, notification_id: int) -> str:
    """Sends one notification unless it was sent already; returns its resulting status.

    Raises EmailNotSent when the SMTP server fails in a way worth retrying (connection refused or cut,
    4xx answers); a permanent refusal (5xx) marks the row failed at once, for an operator."""
    with transaction.atomic():
        try:
            notification = (
                Notification.objects.select_for_update(of=("self",))
                .select_related("payment__event", "user")
                .get(pk=notification_id)
            )
        except Notification.DoesNotExist:
            logger.warning("notification %s does not exist", notification_id)
            return ""
        if notification.status == Notification.Status.SENT:
            return notification.status
        if not notification.to_email:
            error, permanent = "The organiser has no email address.", True
        elif (
            notification.kind != Notification.Kind.EMAIL_VERIFICATION
            and not VerifiedEmail.objects.filter(user=notification.user, email__iexact=notification.to_email).exists()
        ):
            # Someone may have signed up with another person's address: nothing but the question whether it
            # is theirs goes there unverified.
            error, permanent = "The organiser has not verified this email address.", True
        else:
            message = notification_message(notification)
            try:
                message.send()
            except (smtplib.SMTPException, OSError) as exc:
                error, permanent = f"{type(exc).__name__}: {exc}", _is_permanent(exc)
            else:
                notification.status = Notification.Status.SENT
                notification.sent_at = timezone.now()
                notification.attempts += 1
                notification.last_error = ""
                # What was sent, as the admin shows it; an account email again, with its link withheld.
                if notification.kind in Notification.ACCOUNT_KINDS:
                    kept = notification_render(notification)
                else:  # built from rendered strings (`notification_message`): no lazy or binary part
                    kept = (str(message.subject), str(message.body), cast(str, message.alternatives[0][0]))
                notification.subject, notification.body_text, notification.body_html = kept
                notification.save(update_fields=SENT_FIELDS)
                logger.info("notification %s (%s) sent", notification.pk, notification.kind)
                return notification.status
    # Nothing was written above: the failed attempt is recorded on its own, outside the lock.
    fields = {"attempts": F("attempts") + 1, "last_error": error[:MAX_ERROR_LENGTH], "enqueued_at": timezone.now()}
    if permanent:
        fields["status"] = Notification.Status.FAILED
    Notification.objects.filter(pk=notification_id).exclude(status=Notification.Status.SENT).update(**fields)
    if permanent:
        logger.error("notification %s could not be sent: %s", notification_id, error)
        return Notification.Status.FAILED
    raise EmailNotSent(error)


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
        return record(OperatorAction.Outcome.SKIPPED, f"The notification is {notification.status}; nothing to retry.")
    if not notification_enqueue(notification_id=notification.pk):
        return record(
            OperatorAction.Outcome.ERROR,
            "The broker is unavailable; the notification is pending and the sweeper will send it.",
        )
    return record(OperatorAction.Outcome.DONE, f"Handed to a worker after {notification.attempts} attempt(s).")


def notification_message(notification: Notification) -> EmailMultiAlternatives:
    """The email for a notification, plain text and HTML, from templates/payments/email/<kind>.*, with its
    link if it is an account email."""
    subject, text, html = notification_render(notification, with_secret_link=True)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=[notification.to_email],
        headers={"Message-ID": notification.message_id},
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
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
