"""Notifications: recorded by fulfilment once per payment and kind, sent through a real SMTP server
process, retried when SMTP fails, retried by operators, never sent twice. Claimed, then sent with no
transaction open and no lock held, then recorded: checked from another PostgreSQL connection while the SMTP
server takes the email, and with the sender's connection cut (pg_terminate_backend) at that moment."""

import email
from collections.abc import Callable
from datetime import timedelta
from email import policy

import psycopg
import pytest
from aiosmtpd.controller import Controller
from django.db import OperationalError, connection
from django.db.models import F
from django.utils import timezone
from freezegun import freeze_time
from psycopg import sql

from offline.net import free_port
from payments import queue
from payments.models import Notification, OperatorAction, Payment
from payments.services import fulfilment, notifications
from payments.services.audit import Actor
from tests.conftest import _test_database_url
from tests.core.test_deploy import production_env, run_python
from tests.factories import (
    EventFactory,
    PaymentFactory,
    UserFactory,
    declined_intent_object,
    payment_intent_object,
    refunded_charge_object,
    stored_stripe_event,
)

pytestmark = pytest.mark.django_db

ADA = Actor(name="ada")
Kind = Notification.Kind


@pytest.fixture
def sent_to_workers(monkeypatch) -> list[int]:
    """Records the notifications handed to the broker instead of sending them."""
    sent: list[int] = []
    monkeypatch.setattr(queue, "notification_send", lambda *, notification_id: sent.append(notification_id))
    return sent


def _apply(event_type: str, data_object: dict) -> str:
    return fulfilment.process_stripe_event(stripe_event_id=stored_stripe_event(event_type, data_object).pk)


def _declined(payment: Payment) -> str:
    return _apply("payment_intent.payment_failed", declined_intent_object(payment))


def _refunded(payment: Payment) -> str:
    return _apply("charge.refunded", refunded_charge_object(payment))


def _notification(**fields) -> Notification:
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED, succeeded_at=timezone.now())
    return Notification.objects.create(
        user=payment.user, payment=payment, kind=Kind.LIVE, **{"to_email": payment.user.email, **fields}
    )


# --- recorded by fulfilment, once per fact -----------------------------------------------------


def test_a_payment_that_succeeds_records_one_live_email_handed_over_after_the_commit(
    sent_to_workers, django_capture_on_commit_callbacks
):
    # given
    payment = PaymentFactory()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        _apply("payment_intent.succeeded", payment_intent_object(payment))
    with django_capture_on_commit_callbacks(execute=True):
        _apply("payment_intent.succeeded", payment_intent_object(payment))  # Stripe's duplicate, under another event id

    # then
    notification = Notification.objects.get()
    assert (notification.kind, notification.to_email, notification.status) == (
        Kind.LIVE, payment.user.email, Notification.Status.PENDING,
    )  # fmt: skip
    assert sent_to_workers == [notification.pk]
    assert notification.enqueued_at is not None


def test_an_email_whose_hand_over_the_broker_refuses_is_left_to_the_sweeper(
    monkeypatch, django_capture_on_commit_callbacks
):
    # given: the broker refuses tasks
    def refuse(**kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(queue, "notification_send", refuse)
    payment = PaymentFactory()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        _apply("payment_intent.succeeded", payment_intent_object(payment))

    # then: recorded, not marked handed over, so the sweeper's next pass sends it
    notification = Notification.objects.get()
    assert notification.status == Notification.Status.PENDING and notification.enqueued_at is None


def test_each_fact_of_a_payment_is_one_email_a_second_decline_is_not_another(sent_to_workers):
    payment = PaymentFactory()

    _declined(payment)
    _declined(payment)
    _apply("payment_intent.succeeded", payment_intent_object(payment))
    _refunded(payment)
    _refunded(payment)

    assert sorted(Notification.objects.filter(payment=payment).values_list("kind", flat=True)) == sorted(
        [Kind.PAYMENT_FAILED, Kind.LIVE, Kind.REFUNDED]
    )


def test_a_success_that_does_not_match_the_payment_records_no_email():
    payment = PaymentFactory()

    _apply("payment_intent.succeeded", payment_intent_object(payment, amount_received=1))

    assert not Notification.objects.exists()


def test_a_late_failure_after_success_records_no_failure_email():
    payment = PaymentFactory()
    _apply("payment_intent.succeeded", payment_intent_object(payment))

    _declined(payment)

    assert list(Notification.objects.values_list("kind", flat=True)) == [Kind.LIVE]


# --- sent through a real SMTP server -------------------------------------------------------------


def test_a_notification_is_sent_as_text_and_html_and_marked_sent(smtp):
    # given
    event = EventFactory(title="Rock & <Roll>", owner=UserFactory(email="ada@example.com"))
    payment = PaymentFactory(event=event, status=Payment.Status.SUCCEEDED, succeeded_at=timezone.now())
    notification = Notification.objects.create(
        user=payment.user, payment=payment, kind=Kind.LIVE, to_email="ada@example.com"
    )

    # when
    status = notifications.notification_send(notification_id=notification.pk)

    # then
    assert status == Notification.Status.SENT
    [message] = smtp.messages(to="ada@example.com")
    assert message["Subject"] == "Your event “Rock & <Roll>” is live"
    assert message["Message-ID"] == notification.message_id
    text, html = (message.get_body((subtype,)).get_content() for subtype in ("plain", "html"))
    assert "Rock & <Roll>" in text and f"/payments/{payment.pk}/receipt" in text
    assert "Rock &amp; &lt;Roll&gt;" in html and "<Roll>" not in html
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.subject) == ("sent", 1, message["Subject"])
    assert notification.sent_at is not None and notification.body_html.startswith("<!doctype html>")


def test_a_sent_notification_is_never_sent_again(smtp):
    notification = _notification()
    notifications.notification_send(notification_id=notification.pk)

    again = notifications.notification_send(notification_id=notification.pk)

    assert again == Notification.Status.SENT
    assert len(smtp.messages(to=notification.to_email)) == 1


def test_nothing_is_sent_to_an_address_its_organiser_has_not_verified(smtp):
    owner = UserFactory(email="stranger@example.com", email_verified=False)
    payment = PaymentFactory(event=EventFactory(owner=owner), status=Payment.Status.FAILED)
    notification = Notification.objects.create(
        user=payment.user, payment=payment, kind=Kind.PAYMENT_FAILED, to_email=owner.email
    )

    status = notifications.notification_send(notification_id=notification.pk)

    notification.refresh_from_db()
    assert status == Notification.Status.FAILED
    assert notification.last_error == "The organiser has not verified this email address."
    assert smtp.messages(to="stranger@example.com") == []


def test_the_failure_email_links_back_to_pay_and_says_why(smtp):
    payment = PaymentFactory(
        event=EventFactory(owner=UserFactory(email="cy@example.com")),
        status=Payment.Status.FAILED,
        last_error="Your card was declined.",
    )
    notification = Notification.objects.create(
        user=payment.user, payment=payment, kind=Kind.PAYMENT_FAILED, to_email="cy@example.com"
    )

    notifications.notification_send(notification_id=notification.pk)

    [message] = smtp.messages(to="cy@example.com")
    text = message.get_body(("plain",)).get_content()
    assert "did not go through: Your card was declined." in text
    assert f"/events/{payment.event_id}/pay" in text


def test_an_smtp_server_that_cannot_be_reached_is_retried_later(settings):
    # given: nothing listens on the SMTP port
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    notification = _notification()

    # when / then
    with pytest.raises(notifications.EmailNotSent, match="ConnectionRefusedError"):
        notifications.notification_send(notification_id=notification.pk)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (Notification.Status.PENDING, 1)
    assert "ConnectionRefusedError" in notification.last_error


class RefusesEveryRecipient:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 No such mailbox"


def test_a_recipient_the_server_refuses_for_good_fails_at_once_for_an_operator(settings):
    # given: a real SMTP server (in a thread) that refuses the address permanently
    controller = Controller(RefusesEveryRecipient(), hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    notification = _notification()

    # when
    try:
        status = notifications.notification_send(notification_id=notification.pk)
    finally:
        controller.stop()

    # then
    assert status == Notification.Status.FAILED
    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert "550" in notification.last_error and notification.attempts == 1


def test_retries_used_up_leave_the_notification_failed_but_never_a_sent_one():
    pending, sent = _notification(), _notification(status=Notification.Status.SENT)

    for row in (pending, sent):
        notifications.notification_mark_failed(notification_id=row.pk, error="EmailNotSent: timed out")

    pending.refresh_from_db()
    sent.refresh_from_db()
    assert (pending.status, pending.last_error) == ("failed", "EmailNotSent: timed out")
    assert sent.status == "sent"


# --- operators and the sweeper -------------------------------------------------------------------


def test_an_operator_retries_a_failed_send_and_it_is_audited(sent_to_workers):
    failed = _notification(status=Notification.Status.FAILED, attempts=9, last_error="SMTPServerDisconnected")

    record = notifications.notification_retry(notification=failed, actor=ADA)

    failed.refresh_from_db()
    assert failed.status == Notification.Status.PENDING and sent_to_workers == [failed.pk]
    assert (record.action, record.outcome, record.notification, record.payment) == (
        OperatorAction.Action.RESEND, OperatorAction.Outcome.DONE, failed, failed.payment,
    )  # fmt: skip
    assert record.detail == "Handed to a worker after 9 attempt(s)."


def test_an_operators_retry_of_a_sent_notification_sends_nothing(sent_to_workers):
    sent = _notification(status=Notification.Status.SENT)

    record = notifications.notification_retry(notification=sent, actor=ADA)

    assert record.outcome == OperatorAction.Outcome.SKIPPED
    assert record.detail == "The notification is sent; nothing to retry."
    assert sent_to_workers == []


def test_a_retry_while_the_broker_is_down_is_left_to_the_sweeper(monkeypatch):
    def refuse(**kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(queue, "notification_send", refuse)
    failed = _notification(status=Notification.Status.FAILED)

    record = notifications.notification_retry(notification=failed, actor=ADA)

    failed.refresh_from_db()
    assert record.outcome == OperatorAction.Outcome.ERROR
    assert failed.status == Notification.Status.PENDING and failed.enqueued_at is None


def test_the_sweeper_hands_over_pending_notifications_whose_hand_over_was_lost(sent_to_workers):
    # given: one lost an hour ago, one handed over a minute ago, one sent
    with freeze_time(timezone.now() - timedelta(hours=1)):
        lost = _notification()
        recent = _notification()
        done = _notification(status=Notification.Status.SENT)
    Notification.objects.filter(pk=recent.pk).update(enqueued_at=timezone.now() - timedelta(minutes=1))

    # when
    count = notifications.notifications_requeue_stale(older_than=timedelta(minutes=10))

    # then
    assert (count, sent_to_workers) == (1, [lost.pk])
    assert done.pk not in sent_to_workers


def test_the_sweeper_hands_over_emails_whose_sender_died_after_claiming_them(sent_to_workers):
    # given: claims older than the timeout (one handed over again a moment ago), and one a worker is sending
    now, timeout = timezone.now(), notifications.claim_timeout()
    an_hour_ago, lapsed = now - timedelta(hours=1), now - timeout - timedelta(seconds=1)
    abandoned = _notification(status=Notification.Status.SENDING, claimed_at=lapsed, enqueued_at=an_hour_ago)
    handed_over_again = _notification(status=Notification.Status.SENDING, claimed_at=lapsed, enqueued_at=now)
    being_sent = _notification(status=Notification.Status.SENDING, claimed_at=now, enqueued_at=an_hour_ago)

    # when
    count = notifications.notifications_requeue_stale(older_than=timedelta(minutes=10))

    # then: only the abandoned one, however recent its creation, and noted as handed over
    assert (count, sent_to_workers) == (1, [abandoned.pk])
    abandoned.refresh_from_db()
    assert abandoned.enqueued_at > an_hour_ago
    assert {handed_over_again.pk, being_sent.pk}.isdisjoint(sent_to_workers)


def test_an_operators_retry_of_an_email_being_sent_sends_nothing(sent_to_workers):
    being_sent = _notification(status=Notification.Status.SENDING, claimed_at=timezone.now())

    record = notifications.notification_retry(notification=being_sent, actor=ADA)

    assert record.outcome == OperatorAction.Outcome.SKIPPED
    assert record.detail == (
        "A worker is sending the notification; if it died, the sweeper sends it again once its claim runs out."
    )
    assert sent_to_workers == []


# --- claimed, sent outside any transaction, recorded ----------------------------------------------


def test_a_task_for_an_email_another_worker_is_sending_sends_nothing(smtp):
    # given: a worker claimed it a moment ago (a redelivered task, the sweeper's copy, a second worker)
    being_sent = _notification(status=Notification.Status.SENDING, claimed_at=timezone.now())

    # when
    status = notifications.notification_send(notification_id=being_sent.pk)

    # then
    assert status == Notification.Status.SENDING
    assert smtp.messages(to=being_sent.to_email) == []
    being_sent.refresh_from_db()
    assert (being_sent.status, being_sent.attempts) == (Notification.Status.SENDING, 0)


def test_an_email_whose_sender_died_after_claiming_it_is_sent_once_the_claim_runs_out(smtp):
    # given: claimed longer ago than the claim timeout, never recorded
    lapsed = timezone.now() - notifications.claim_timeout() - timedelta(seconds=1)
    abandoned = _notification(status=Notification.Status.SENDING, claimed_at=lapsed)

    # when
    status = notifications.notification_send(notification_id=abandoned.pk)

    # then
    assert status == Notification.Status.SENT
    [message] = smtp.messages(to=abandoned.to_email)
    assert message["Message-ID"] == abandoned.message_id
    abandoned.refresh_from_db()
    assert (abandoned.status, abandoned.attempts) == (Notification.Status.SENT, 1) and abandoned.claimed_at > lapsed


class SmtpServerInAThread:
    """A real SMTP server (aiosmtpd, in a thread) that runs `as_the_first_arrives()` when the first message's
    data has come, before it answers 250, and keeps the Message-IDs it accepted."""

    def __init__(self, as_the_first_arrives: Callable[[], object]):
        self.as_the_first_arrives = as_the_first_arrives
        self.accepted: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        if not self.accepted:
            self.as_the_first_arrives()
        self.accepted.append(email.message_from_bytes(envelope.content, policy=policy.default)["Message-ID"])
        return "250 OK"


@pytest.fixture
def smtp_in_a_thread(settings):
    controllers: list[Controller] = []

    def start(as_the_first_arrives: Callable[[], object]) -> SmtpServerInAThread:
        handler = SmtpServerInAThread(as_the_first_arrives)
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append(controller)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
        return handler

    yield start
    for controller in controllers:
        controller.stop()


def _backend_pid() -> int:
    """The PostgreSQL session (server process) of this thread's connection: the sender's."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _elsewhere() -> psycopg.Connection:
    """A connection to the test database of its own, as another worker or web thread has."""
    return psycopg.connect(_test_database_url(), autocommit=True)


def _as_the_operator() -> psycopg.Connection:
    """A connection to the server's maintenance database: it works while the test database refuses new ones."""
    return psycopg.connect(_test_database_url().rsplit("/", 1)[0] + "/postgres", autocommit=True)


def _terminate(pid: int) -> None:
    """Ends a session with `pg_terminate_backend` (as a failover, a proxy's cut or an operator would), and
    waits until its server process is gone."""
    with _as_the_operator() as operator:
        operator.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(100):
            if not operator.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                return
            operator.execute("SELECT pg_sleep(0.05)")
    raise AssertionError(f"session {pid} was not terminated")


def _database_accepts_connections(accept: bool) -> None:
    """PostgreSQL refuses (or accepts again) every new connection to the test database, superusers' too."""
    name = connection.settings_dict["NAME"]
    with _as_the_operator() as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.SQL("true" if accept else "false")
            )
        )


@pytest.mark.django_db(transaction=True)
def test_the_email_is_sent_with_no_transaction_open_and_no_lock_held(smtp_in_a_thread):
    # given: an SMTP server that, as the email arrives, looks at the sender's session from another connection
    # and locks the row there (NOWAIT: a lock the sender held would fail at once)
    notification = _notification()
    sender = _backend_pid()
    seen: dict[str, object] = {}

    def look_at_the_sender() -> None:
        with _elsewhere() as other:
            [seen["session"]] = other.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", [sender]).fetchone()
            with other.transaction():
                [seen["row"]] = other.execute(
                    "SELECT status FROM payments_notification WHERE id = %s FOR UPDATE NOWAIT", [notification.pk]
                ).fetchone()

    server = smtp_in_a_thread(look_at_the_sender)

    # when
    status = notifications.notification_send(notification_id=notification.pk)

    # then: the claim was committed before the send, and the sender's session was idle (not in a transaction)
    assert seen == {"session": "idle", "row": Notification.Status.SENDING}
    assert status == Notification.Status.SENT and server.accepted == [notification.message_id]
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (Notification.Status.SENT, 1)


@pytest.mark.django_db(transaction=True)
def test_a_connection_cut_after_the_smtp_server_took_the_email_still_marks_it_sent_once(smtp_in_a_thread, caplog):
    # given: PostgreSQL ends the sender's session while the SMTP server takes the email
    notification = _notification()
    sender = _backend_pid()
    server = smtp_in_a_thread(lambda: _terminate(sender))

    # when
    status = notifications.notification_send(notification_id=notification.pk)

    # then: marked sent on a new connection, after the first write failed; and a redelivered task sends nothing
    assert status == Notification.Status.SENT
    assert _backend_pid() != sender
    assert "was sent; marking it sent failed, retrying" in caplog.text
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (Notification.Status.SENT, 1)
    assert notifications.notification_send(notification_id=notification.pk) == Notification.Status.SENT
    assert server.accepted == [notification.message_id]


@pytest.mark.django_db(transaction=True)
def test_an_email_that_could_not_be_marked_sent_is_sent_again_with_its_message_id_once_the_claim_runs_out(
    smtp_in_a_thread, sent_to_workers
):
    # given: from the moment the SMTP server takes the email, PostgreSQL refuses every new connection and
    # the sender's is cut (for longer than the sender's retries of its write)
    notification = _notification()
    sender = _backend_pid()
    server = smtp_in_a_thread(lambda: (_database_accepts_connections(False), _terminate(sender)))

    # when
    try:
        with pytest.raises(OperationalError):
            notifications.notification_send(notification_id=notification.pk)
    finally:
        _database_accepts_connections(True)

    # then: the row stays claimed, so a redelivered task sends nothing while the claim lasts
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENDING
    assert notifications.notification_send(notification_id=notification.pk) == Notification.Status.SENDING
    assert server.accepted == [notification.message_id]

    # when: time passes beyond the claim timeout (the claim is made that much older); beat's sweeper runs
    Notification.objects.filter(pk=notification.pk).update(claimed_at=F("claimed_at") - notifications.claim_timeout())
    notifications.notifications_requeue_stale(older_than=timedelta(minutes=10))
    for notification_id in sent_to_workers:
        notifications.notification_send(notification_id=notification_id)

    # then: sent again, with the same Message-ID (at least once: mail clients show one message)
    assert sent_to_workers == [notification.pk]
    assert server.accepted == [notification.message_id] * 2
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT


def test_a_claim_timeout_no_longer_than_the_smtp_timeout_is_refused():
    result = run_python(
        "import django; django.setup()",
        production_env(EMAIL_TIMEOUT="30", NOTIFICATION_CLAIM_TIMEOUT_SECONDS="30"),
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "NOTIFICATION_CLAIM_TIMEOUT_SECONDS" in result.stderr
