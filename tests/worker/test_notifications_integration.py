"""Emails through the real stack: localstripe's signed webhook to the live server, a Celery worker process
on Redis and PostgreSQL, and an SMTP server process (aiosmtpd). Duplicated webhooks send one email; an SMTP
server that is down is retried with back-off until the email is sent, once."""

import json
import re

import pytest
import redis
import requests
from django.utils import timezone

from events.models import Event
from offline import processes
from offline.net import free_port
from offline.smtp import messages
from payments import stripe_gateway
from payments.models import Notification, Payment, StripeEvent
from tests.conftest import paid_payment, wait_until
from tests.factories import PaymentFactory, payment_intent_object, stored_stripe_event
from worker.celery import app
from worker.tasks import process_stripe_events, send_notification, send_notifications

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _deliver(stack, payload: str, secret: str) -> requests.Response:
    headers = {"Stripe-Signature": stripe_gateway.sign_payload(payload, secret), "Content-Type": "application/json"}
    return requests.post(f"{stack.url}/api/payments/webhook/", data=payload, headers=headers, timeout=15)


def test_a_payment_sends_one_live_email_however_often_stripe_repeats_itself(stack, smtp_server, webhook_secret):
    # given: paid at localstripe; its webhook activates the event through the worker
    payment, _ = paid_payment()
    to = payment.user.email
    wait_until(lambda: smtp_server.messages(to=to), message="the live email")
    row = StripeEvent.objects.get(payment_intent_id=payment.payment_intent_id, type="payment_intent.succeeded")

    # when: Stripe delivers the same event again, and the same news under a new event id
    duplicate = _deliver(stack, row.payload, webhook_secret)
    renamed = json.loads(row.payload) | {"id": row.stripe_id + "_again", "created": int(timezone.now().timestamp())}
    _deliver(stack, json.dumps(renamed), webhook_secret)
    wait_until(
        lambda: StripeEvent.objects.filter(stripe_id=renamed["id"], status=StripeEvent.Status.PROCESSED).exists(),
        message="the second event",
    )

    # then: one email, the card read from the charge by the worker
    assert duplicate.json() == {"received": True, "duplicate": True}
    [message] = smtp_server.messages(to=to)
    assert message["Subject"] == f"Your event “{payment.event.title}” is live"
    notification = Notification.objects.get(payment=payment)
    assert (notification.kind, notification.status, notification.attempts) == ("live", "sent", 1)
    payment = wait_until(
        lambda: Payment.objects.filter(pk=payment.pk, card_last4="4242").first(), message="the card details"
    )
    assert payment.card_brand == "visa"


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of this test's own, so that only the worker started here takes its tasks."""
    port = free_port()
    process = processes.start_redis(port=port, directory=tmp_path / "redis", log_path=tmp_path / "redis.log")
    url = f"redis://127.0.0.1:{port}/0"
    yield url
    redis.Redis.from_url(url).close()
    processes.stop(process)


def test_an_smtp_server_that_is_down_is_retried_with_back_off_until_the_email_is_sent_once(
    worker_env, celery_workers, private_redis, tmp_path
):
    # given: a worker whose SMTP server is not running yet, and an email for it to send
    smtp_port = free_port()
    worker = celery_workers(
        {**worker_env, "REDIS_URL": private_redis, "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}"}, "mailer"
    )
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED, succeeded_at=timezone.now())
    notification = Notification.objects.create(
        user=payment.user, payment=payment, kind="live", to_email=payment.event.owner.email
    )

    # when: the task runs and fails; the SMTP server comes up while the task waits for its retry
    with app.connection_for_write(private_redis) as broker:
        send_notification.apply_async((notification.pk,), connection=broker)
    wait_until(lambda: Notification.objects.get(pk=notification.pk).attempts >= 1, message="a failed attempt")
    failed = Notification.objects.get(pk=notification.pk)
    maildir = tmp_path / "mail"
    smtp = processes.start_smtp(port=smtp_port, maildir=maildir, log_path=tmp_path / "smtp.log")
    try:
        sent = wait_until(
            lambda: Notification.objects.filter(pk=notification.pk, status="sent").first(),
            timeout=40,
            message="the retry",
        )
    finally:
        processes.stop(smtp)

    # then
    assert failed.status == "pending" and "ConnectionRefusedError" in failed.last_error
    assert sent.attempts >= 2 and sent.last_error == ""
    assert [m["Message-ID"] for m in messages(maildir)] == [notification.message_id]
    assert "Retry in" in worker.log()


def test_emails_wait_on_a_queue_of_their_own_which_a_worker_consumes_unless_told_otherwise(
    worker_env, celery_workers, private_redis, tmp_path
):
    # given: an email waiting to be sent, and a payment's success stored in the inbox, each handed to the broker
    smtp_port = free_port()
    env = {**worker_env, "REDIS_URL": private_redis, "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}"}
    waiting = PaymentFactory(status=Payment.Status.SUCCEEDED, succeeded_at=timezone.now())
    email = Notification.objects.create(user=waiting.user, payment=waiting, kind="live", to_email=waiting.user.email)
    paid = PaymentFactory()
    row = stored_stripe_event("payment_intent.succeeded", payment_intent_object(paid))
    with app.connection_for_write(private_redis) as broker:
        send_notifications.apply_async(([email.pk],), connection=broker)
        process_stripe_events.apply_async(([row.pk],), connection=broker)
    queues = redis.Redis.from_url(private_redis)
    assert (queues.llen("celery"), queues.llen("notifications")) == (1, 1)
    maildir = tmp_path / "mail"
    smtp = processes.start_smtp(port=smtp_port, maildir=maildir, log_path=tmp_path / "smtp.log")
    try:
        # when: a worker of the fulfilment queue alone runs
        fulfiller = celery_workers(env, "fulfiller", extra_args=("--queues", "celery"))
        wait_until(lambda: Event.objects.filter(pk=paid.event_id, is_active=True).exists(), message="the activation")

        # then: the event is live; both emails, the waiting one and the one fulfilment recorded (handed over
        # once its transaction committed), wait on their queue
        wait_until(lambda: queues.llen("notifications") == 2, message="the recorded email on its queue")
        processes.stop(fulfiller.process)
        assert queues.llen("notifications") == 2
        assert not messages(maildir)

        # when: a worker started without --queues, as `make run` and docker-compose.yml start them
        celery_workers(env, "everything")

        # then: it sends them
        wait_until(lambda: len(messages(maildir)) == 2, message="the two emails")
    finally:
        processes.stop(smtp)
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    assert (queues.llen("celery"), queues.llen("notifications")) == (0, 0)


def _link(message, pattern: str) -> str:
    text = message.get_body(("plain",)).get_content()
    match = re.search(pattern, text)
    assert match, text
    return match[1]


def test_a_new_organisers_account_emails_are_sent_by_the_worker_and_their_links_work(stack, smtp_server):
    # given: an organiser signs up; the verification email leaves through the outbox and a worker
    browser = stack.session()
    # (an address no other test uses: the SMTP server lasts the whole session)
    email = "grace.outbox@example.com"
    body = {"username": "grace_outbox", "email": email, "password": "a-long-enough-passphrase"}
    assert browser.post(f"{stack.url}/api/auth/register/", json=body).status_code == 201
    [verification] = wait_until(lambda: smtp_server.messages(to=email), message="the verification email")

    # when: the link is followed, then a new password is asked for from another browser
    key = _link(verification, r"/verify-email/(\S+)")
    verified = requests.post(f"{stack.url}/api/auth/email/verify/", json={"key": key}, timeout=10)
    stranger = stack.session()
    asked = stranger.post(f"{stack.url}/api/auth/password/reset/", json={"email": email})
    reset = wait_until(
        lambda: [m for m in smtp_server.messages(to=email) if m["Subject"] == "Set a new EventPay password"],
        message="the reset email",
    )[0]
    uid, token = _link(reset, r"/reset-password/([^/\s]+/[^/\s]+)").split("/")
    confirmed = stranger.post(
        f"{stack.url}/api/auth/password/reset/confirm/",
        json={"uid": uid, "token": token, "new_password": "new-pass-phrase-9"},
    )

    # then: the address is verified, the password changed, and the outbox kept both emails without their links
    assert verified.status_code == 204 and asked.status_code == 202 and confirmed.status_code == 204
    assert browser.get(f"{stack.url}/api/auth/me/").json() == {"authenticated": False}
    rows = Notification.objects.filter(user__username="grace_outbox").order_by("id")
    assert [(r.kind, r.status, r.payment_id) for r in rows] == [
        ("email_verification", "sent", None),
        ("password_reset", "sent", None),
    ]
    assert all(key not in r.body_text and token not in r.body_text for r in rows)
    assert [m["Message-ID"] for m in smtp_server.messages(to=email)] == [r.message_id for r in rows]
