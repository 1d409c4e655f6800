"""The emails one transaction records leave in one message after its commit (`HandOver.on_commit`), and a
worker sends such a group over one SMTP connection (`send_notifications`), each email claimed, sent and
recorded as alone, failing alone. Real PostgreSQL; a real SMTP server (aiosmtpd, in a thread) that keeps
each message's Message-ID and the client connection it came on."""

import contextlib
import email
from email import policy

import pytest
from aiosmtpd.controller import Controller
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import VerifiedEmail
from offline.net import free_port
from payments import queue
from payments.models import Notification, Payment
from payments.services import notifications
from payments.services.fulfilment_batch import stripe_events_fulfil
from tests.factories import PaymentFactory, UserFactory, payment_intent_object, stored_stripe_event
from worker import tasks

pytestmark = pytest.mark.django_db

Status = Notification.Status


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, tuple]]:
    """Every message handed to the broker, as (task name, arguments), instead of sending it."""
    sent: list[tuple[str, tuple]] = []
    monkeypatch.setattr(queue, "_send", lambda task_name, *args, **kwargs: sent.append((task_name, args)))
    return sent


def _succeeded_rows(count: int) -> list[int]:
    return [
        stored_stripe_event("payment_intent.succeeded", payment_intent_object(PaymentFactory())).pk
        for _ in range(count)
    ]


# --- one message per transaction -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_emails_a_batch_records_leave_in_one_message_after_its_commit(published):
    # given: a batch of twelve successes, each a live email
    rows = _succeeded_rows(12)

    # when: applied together, in one transaction that commits
    assert stripe_events_fulfil(stripe_event_ids=rows) == []

    # then: one message names all twelve emails, and nothing else was sent for them
    emails = sorted(Notification.objects.values_list("pk", flat=True))
    assert len(emails) == 12
    email_messages = [(name, args) for name, args in published if name != queue.FETCH_CHARGE_DETAILS]
    assert [(name, sorted(ids)) for name, (ids,) in email_messages] == [(queue.SEND_NOTIFICATIONS, emails)]
    assert not Notification.objects.filter(enqueued_at=None).exists()


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_records_one_email_sends_it_by_the_single_task(published):
    # given
    user = UserFactory()

    # when
    with transaction.atomic():
        notification = notifications.account_email_record(user=user, kind=Notification.Kind.PASSWORD_RESET)
        assert published == []  # not before the commit

    # then
    assert published == [(queue.SEND_NOTIFICATION, (notification.pk,))]


@pytest.mark.django_db(transaction=True)
def test_a_group_the_broker_refuses_is_left_to_the_sweeper(broker_down):
    # given
    rows = _succeeded_rows(3)

    # when
    stripe_events_fulfil(stripe_event_ids=rows)

    # then: recorded, none marked handed over, so the sweeper's next pass sends them
    assert set(Notification.objects.values_list("status", "enqueued_at")) == {(Status.PENDING, None)}
    assert Notification.objects.count() == 3


def test_an_email_rolled_back_with_its_savepoint_is_not_handed_over(published, django_capture_on_commit_callbacks):
    # given
    ada, bob, cy = UserFactory(), UserFactory(), UserFactory()

    # when: three emails in one transaction, the second in a savepoint that rolls back
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        first = notifications.account_email_record(user=ada, kind=Notification.Kind.PASSWORD_RESET)
        with contextlib.suppress(RuntimeError), transaction.atomic():
            notifications.account_email_record(user=bob, kind=Notification.Kind.PASSWORD_RESET)
            raise RuntimeError("the request failed")
        third = notifications.account_email_record(user=cy, kind=Notification.Kind.PASSWORD_RESET)

    # then: each email that exists is handed over, the rolled-back one is not
    assert published == [(queue.SEND_NOTIFICATION, (first.pk,)), (queue.SEND_NOTIFICATION, (third.pk,))]
    assert Notification.objects.count() == 2


# --- one SMTP connection per group -----------------------------------------------------------------

TRY_LATER = "later@example.com"
NO_SUCH_MAILBOX = "nobody@example.com"


class RecordingSmtpServer:
    """Accepts every email, but answers 451 (try later) to TRY_LATER and 550 to NO_SUCH_MAILBOX; keeps the
    Message-ID of each email accepted and the client's address and port (one per connection)."""

    def __init__(self):
        self.accepted: list[str] = []
        self.connections: set[tuple[str, int]] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.connections.add(session.peer)
        if address == TRY_LATER:
            return "451 4.3.0 Try again later"
        if address == NO_SUCH_MAILBOX:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.accepted.append(email.message_from_bytes(envelope.content, policy=policy.default)["Message-ID"])
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    handler = RecordingSmtpServer()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    yield handler
    controller.stop()


@pytest.fixture
def resent_alone(monkeypatch) -> list[tuple[tuple, dict]]:
    resent: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(tasks.send_notification, "apply_async", lambda args, **options: resent.append((args, options)))
    return resent


def _live_email(**fields) -> Notification:
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED, succeeded_at=timezone.now())
    return Notification.objects.create(
        user=payment.user, payment=payment, kind=Notification.Kind.LIVE, **{"to_email": payment.user.email, **fields}
    )


def _statuses(rows: list[Notification]) -> list[tuple[str, int]]:
    return [
        (row.status, row.attempts) for row in Notification.objects.filter(pk__in=[r.pk for r in rows]).order_by("pk")
    ]


def test_a_group_of_emails_is_sent_over_one_smtp_connection_each_once(smtp_server, resent_alone):
    # given
    group = [_live_email() for _ in range(8)]

    # when: the group's message is delivered, then delivered again (a redelivery)
    tasks.send_notifications.apply(args=[[row.pk for row in group]])
    tasks.send_notifications.apply(args=[[row.pk for row in group]])

    # then: eight emails over one connection, each received once and marked sent once
    assert sorted(smtp_server.accepted) == sorted(row.message_id for row in group)
    assert len(smtp_server.connections) == 1
    assert _statuses(group) == [(Status.SENT, 1)] * 8
    assert resent_alone == []


def test_in_a_group_an_email_that_fails_transiently_goes_on_alone_and_the_others_are_sent(smtp_server, resent_alone):
    # given: four emails; the SMTP server asks to try one later, and refuses one for good
    group = [_live_email(), _live_email(to_email=TRY_LATER), _live_email(to_email=NO_SUCH_MAILBOX), _live_email()]
    for row in group[1:3]:  # the addresses are their organisers' own, verified
        VerifiedEmail.objects.filter(user=row.user).update(email=row.to_email)

    # when
    result = tasks.send_notifications.apply(args=[[row.pk for row in group]])

    # then: the others are sent over the same connection; the one to try later is pending with its attempt
    # and goes on alone after the single task's first back-off; the refused one waits for an operator
    assert result.successful()
    assert _statuses(group) == [(Status.SENT, 1), (Status.PENDING, 1), (Status.FAILED, 1), (Status.SENT, 1)]
    assert smtp_server.accepted == [group[0].message_id, group[3].message_id]
    assert len(smtp_server.connections) == 1
    assert resent_alone == [((group[1].pk,), {"countdown": tasks.RETRY_ALONE_AFTER_SECONDS})]
    assert "451" in Notification.objects.get(pk=group[1].pk).last_error


def test_a_group_skips_an_email_another_sender_claimed_and_sends_the_rest(smtp_server, resent_alone):
    # given: a worker claimed the second a moment ago (the sweeper's copy, a redelivered single task)
    group = [_live_email(), _live_email(status=Status.SENDING, claimed_at=timezone.now()), _live_email()]

    # when
    tasks.send_notifications.apply(args=[[row.pk for row in group]])

    # then
    assert _statuses(group) == [(Status.SENT, 1), (Status.SENDING, 0), (Status.SENT, 1)]
    assert smtp_server.accepted == [group[0].message_id, group[2].message_id]
    assert resent_alone == []


def test_a_group_whose_smtp_server_is_down_sends_each_email_on_alone(settings, resent_alone):
    # given: nothing listens on the SMTP port
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    group = [_live_email() for _ in range(3)]

    # when
    tasks.send_notifications.apply(args=[[row.pk for row in group]])

    # then: each pending with its attempt, each on its way alone with the single task's back-off
    assert _statuses(group) == [(Status.PENDING, 1)] * 3
    assert resent_alone == [((row.pk,), {"countdown": tasks.RETRY_ALONE_AFTER_SECONDS}) for row in group]


def test_a_group_that_outlasts_its_time_budget_hands_the_rest_on_in_one_message(smtp_server, monkeypatch):
    # given: a group whose time is up as soon as its first email is sent
    group = [_live_email() for _ in range(3)]
    monkeypatch.setattr(tasks, "SEND_NOTIFICATIONS_TIME_BUDGET_SECONDS", -1)
    handed_on: list[tuple] = []
    monkeypatch.setattr(tasks.send_notifications, "apply_async", lambda args, **options: handed_on.append(args))

    # when
    tasks.send_notifications.apply(args=[[row.pk for row in group]])

    # then
    assert _statuses(group) == [(Status.SENT, 1), (Status.PENDING, 0), (Status.PENDING, 0)]
    assert handed_on == [([group[1].pk, group[2].pk],)]


def test_a_group_reads_its_emails_in_one_query_then_claims_and_records_each(smtp_server, resent_alone):
    # given
    group = [_live_email() for _ in range(5)]

    # when
    with CaptureQueriesContext(connection) as queries:
        tasks.send_notifications.apply(args=[[row.pk for row in group]])

    # then: one read for the group (rows, payments, events, organisers, verified addresses), then per email
    # its claim and its record: two statements each, not four
    kinds = [query["sql"].split(" ", 1)[0] for query in queries.captured_queries]
    assert kinds == ["SELECT"] + ["UPDATE", "UPDATE"] * 5
    assert _statuses(group) == [(Status.SENT, 1)] * 5


def test_an_email_another_sender_sends_after_the_group_read_it_is_not_sent_again(
    smtp_server, resent_alone, monkeypatch
):
    # given: between the group's read and its turn, the sweeper's copy sends the second email
    group = [_live_email() for _ in range(3)]
    read = notifications.notifications_read

    def read_then_another_sender_sends(*, notification_ids):
        rows = read(notification_ids=notification_ids)
        assert notifications.notification_send(notification_id=group[1].pk) == Status.SENT
        return rows

    monkeypatch.setattr(notifications, "notifications_read", read_then_another_sender_sends)

    # when
    tasks.send_notifications.apply(args=[[row.pk for row in group]])

    # then: its claim decided: each email received once
    assert sorted(smtp_server.accepted) == sorted(row.message_id for row in group)
    assert _statuses(group) == [(Status.SENT, 1)] * 3
