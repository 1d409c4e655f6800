"""The operators' console for refunds and notifications, through Django's test client, against localstripe.

Refund: a succeeded payment is refunded at Stripe with a stored idempotency key, applied through
fulfilment (payment refunded, event off the public list, refund email recorded), audited with who, when
and why; a second click does nothing twice. Notifications: listed with status, error and rendered body;
failed sends retried one or many, audited."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from payments import queue, stripe_gateway
from payments.models import Notification, OperatorAction, Payment, RefundRequest
from payments.services import fulfilment, refunds
from payments.services.audit import Actor
from tests.conftest import live_payment, operator_login
from tests.factories import EventFactory, PaymentFactory, UserFactory, refunded_charge_object

pytestmark = pytest.mark.django_db

PAYMENTS = reverse("admin:payments_payment_changelist")
NOTIFICATIONS = reverse("admin:payments_notification_changelist")


@pytest.fixture
def operator(operator_client):
    """The admin's session (password and a verified second factor) of a superuser, olga."""
    return operator_client


@pytest.fixture
def sent_to_workers(monkeypatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(queue, "notification_send", lambda *, notification_id: sent.append(notification_id))
    return sent


def _act(client, url: str, action: str, rows, **extra):
    return client.post(url, {"action": action, "_selected_action": [r.pk for r in rows], **extra}, follow=True)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- refunds ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("webhooks_off")
def test_an_operator_refunds_a_payment_and_the_event_leaves_the_public_list(operator, api_client):
    # given
    payment = live_payment()
    public = reverse("public-event-list")
    assert [e["id"] for e in api_client.get(public).json()["results"]] == [payment.event_id]

    # when
    response = _act(operator, PAYMENTS, "refund", [payment], reason="Organiser asked: duplicate event", confirm="yes")

    # then: Stripe refunded it once, with our stored key, and the ledger follows
    assert _messages(response) == ["Refund: 1 done, 0 skipped, 0 errors."]
    request = RefundRequest.objects.get(payment=payment)
    assert request.status == RefundRequest.Status.SUBMITTED and request.stripe_refund_id.startswith("re_")
    assert request.idempotency_key.startswith(f"eventpay-payment-{payment.pk}-refund-")
    assert (request.actor, request.reason) == ("olga", "Organiser asked: duplicate event")
    charge = stripe_gateway.retrieve_latest_charge(payment.payment_intent_id)
    assert (charge.refunded, charge.amount_refunded) == (True, payment.amount)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED and payment.refunded_at is not None
    assert payment.event.is_active is False and payment.event.payment_status == "refunded"
    assert api_client.get(public).json()["results"] == []
    assert sorted(Notification.objects.filter(payment=payment).values_list("kind", flat=True)) == ["live", "refunded"]
    action = OperatorAction.objects.get(action=OperatorAction.Action.REFUND)
    assert (action.actor, action.reason, action.outcome, action.payment) == (
        "olga", "Organiser asked: duplicate event", "done", payment,
    )  # fmt: skip
    assert action.detail.startswith(f"Refund {request.stripe_refund_id}. Payment {payment.pk} is refunded.")


@pytest.mark.usefixtures("webhooks_off")
def test_a_second_click_and_stripes_late_webhook_do_nothing_twice(operator):
    # given: refunded once
    payment = live_payment()
    _act(operator, PAYMENTS, "refund", [payment], reason="Fraud", confirm="yes")

    # when: the operator clicks again, and Stripe's charge.refunded webhook arrives
    again = _act(operator, PAYMENTS, "refund", [payment], reason="Fraud, again", confirm="yes")
    outcome = fulfilment.handle_charge_refunded(stripe_gateway.StripeCharge.from_dict(refunded_charge_object(payment)))

    # then
    assert _messages(again) == ["Refund: 0 done, 1 skipped, 0 errors."]
    assert outcome.reason == f"Payment {payment.pk} already refunded."
    assert stripe_gateway.retrieve_latest_charge(payment.payment_intent_id).amount_refunded == payment.amount
    assert RefundRequest.objects.count() == 1 and Notification.objects.filter(kind="refunded").count() == 1
    skipped = OperatorAction.objects.get(action=OperatorAction.Action.REFUND, outcome="skipped")
    assert (skipped.reason, skipped.detail) == ("Fraud, again", "Already refunded (requested by olga).")


def test_a_refund_needs_a_reason(operator):
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED)

    response = _act(operator, PAYMENTS, "refund", [payment], reason="   ", confirm="yes")

    assert _messages(response) == ["A reason is required to refund a payment."]
    assert not RefundRequest.objects.exists() and not OperatorAction.objects.exists()


@pytest.mark.parametrize("status", [Payment.Status.PENDING, Payment.Status.FAILED, Payment.Status.CANCELED])
def test_only_a_succeeded_payment_is_refunded(operator, status):
    payment = PaymentFactory(status=status)

    response = _act(operator, PAYMENTS, "refund", [payment], reason="Asked by the organiser", confirm="yes")

    assert _messages(response) == ["Refund: 0 done, 1 skipped, 0 errors."]
    assert not RefundRequest.objects.exists()
    assert OperatorAction.objects.get().detail == f"The payment is {status}; only a succeeded payment is refunded."


@pytest.mark.usefixtures("webhooks_off")
def test_stripe_unreachable_keeps_the_request_and_its_key_for_the_next_click(settings):
    # given
    payment = live_payment()
    reachable = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"

    # when
    failed = refunds.payment_refund(payment=payment, actor=Actor(name="ada"), reason="Duplicate")
    request = RefundRequest.objects.get()
    settings.STRIPE_API_BASE = reachable
    retried = refunds.payment_refund(payment=payment, actor=Actor(name="ada"), reason="Duplicate")

    # then
    assert failed.outcome == "error" and failed.detail.startswith("Stripe could not be reached")
    assert request.status == RefundRequest.Status.REQUESTED and request.last_error
    assert retried.outcome == "done"
    assert RefundRequest.objects.get().idempotency_key == request.idempotency_key
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED


def test_the_payment_page_shows_the_card_and_the_refund(operator):
    payment = PaymentFactory(status=Payment.Status.REFUNDED, card_brand="visa", card_last4="4242")
    RefundRequest.objects.create(
        payment=payment,
        idempotency_key="k-1",
        actor="olga",
        reason="Duplicate",
        status="submitted",
        stripe_refund_id="re_1",
    )

    page = operator.get(reverse("admin:payments_payment_change", args=[payment.pk])).content.decode()

    assert "4242" in page and "submitted (requested by olga" in page and "Duplicate" in page and "re_1" in page


def test_the_refund_action_shows_the_count_and_the_totals_and_refunds_nothing_until_confirmed(operator):
    # given: two succeeded payments in two currencies and a pending one
    payments = [
        PaymentFactory(status=Payment.Status.SUCCEEDED, amount=1500, currency="usd"),
        PaymentFactory(status=Payment.Status.SUCCEEDED, amount=2000, currency="eur"),
        PaymentFactory(status=Payment.Status.PENDING, amount=1500, currency="usd"),
    ]

    # when
    response = _act(operator, PAYMENTS, "refund", payments, reason="Event called off")

    # then
    page = response.content.decode()
    assert "Refund payments: are you sure?" in page
    assert "3 payments selected;\n  2 succeeded and will be refunded in full at Stripe:" in page
    assert "<strong>20.00 EUR, 15.00 USD</strong>" in page and "The others are skipped." in page
    assert 'name="confirm" value="yes"' in page and 'value="Event called off"' in page
    for payment in payments:
        assert f'name="_selected_action" value="{payment.pk}"' in page
    assert not RefundRequest.objects.exists() and not OperatorAction.objects.exists()


def test_refunding_needs_its_own_permission_not_just_the_change_permission(db):
    # given: a staff user who may change payments, not refund them
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_payment", "change_payment"]))
    client = Client()
    operator_login(client, staff)
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED)

    # when
    offered = client.get(PAYMENTS).content.decode()
    response = _act(client, PAYMENTS, "refund", [payment], reason="Duplicate", confirm="yes")

    # then
    assert 'value="reconcile_now"' in offered and 'value="refund"' not in offered
    assert _messages(response) == ["No action selected."]
    assert not RefundRequest.objects.exists()
    staff.user_permissions.add(Permission.objects.get(codename="refund_payment"))
    assert 'value="refund"' in client.get(PAYMENTS).content.decode()


def test_select_all_over_the_cap_refunds_nothing(operator, settings):
    # given: more succeeded payments than one action may refund
    settings.ADMIN_REFUND_MAX_PER_ACTION = 2
    payments = [PaymentFactory(status=Payment.Status.SUCCEEDED) for _ in range(3)]

    # when: "select all", confirmed
    response = _act(operator, PAYMENTS, "refund", payments[:1], reason="Duplicate", select_across="1", confirm="yes")

    # then
    assert _messages(response) == ["At most 2 payments are refunded in one action: select fewer."]
    assert not RefundRequest.objects.exists() and not OperatorAction.objects.exists()


# --- notifications ----------------------------------------------------------------------------


def _notification(status=Notification.Status.PENDING, **fields) -> Notification:
    event = EventFactory(title="Rock & <Roll>")
    payment = PaymentFactory(event=event, status=Payment.Status.SUCCEEDED, succeeded_at=timezone.now())
    return Notification.objects.create(
        user=payment.user, payment=payment, kind="live", to_email="ada@example.com", status=status, **fields
    )


def test_the_list_shows_failed_sends_with_their_error(operator):
    failed = _notification(
        status="failed", attempts=9, last_error="SMTPServerDisconnected: Connection unexpectedly closed"
    )
    sent = _notification(status="sent")

    page = operator.get(NOTIFICATIONS, {"status__exact": "failed"}).content.decode()

    assert "Notifications: 1 failed" in page
    assert "SMTPServerDisconnected: Connection unexpectedly closed" in page
    assert reverse("admin:payments_notification_change", args=[failed.pk]) in page
    assert reverse("admin:payments_notification_change", args=[sent.pk]) not in page


def test_emails_being_sent_are_listed_apart_with_their_claim(operator):
    being_sent = _notification(status="sending", claimed_at=timezone.now())
    pending = _notification()

    listed = operator.get(NOTIFICATIONS, {"status__exact": "sending"}).content.decode()
    page = operator.get(reverse("admin:payments_notification_change", args=[being_sent.pk])).content.decode()

    assert reverse("admin:payments_notification_change", args=[being_sent.pk]) in listed
    assert reverse("admin:payments_notification_change", args=[pending.pk]) not in listed
    assert "Claimed at" in page


def test_a_notification_shows_its_rendered_body_escaped_and_sandboxed(operator):
    pending = _notification()

    page = operator.get(reverse("admin:payments_notification_change", args=[pending.pk])).content.decode()

    assert "Your event “Rock &amp; &lt;Roll&gt;” is live" in page
    assert f"/payments/{pending.payment_id}/receipt" in page
    assert "<iframe sandbox srcdoc=" in page and "<Roll>" not in page


def test_an_operator_retries_many_failed_sends_at_once_and_each_is_audited(operator, sent_to_workers):
    failed = [_notification(status="failed", last_error="timed out") for _ in range(2)]
    sent = _notification(status="sent")
    being_sent = _notification(status="sending", claimed_at=timezone.now())

    response = _act(operator, NOTIFICATIONS, "retry_sending", [*failed, sent, being_sent])

    assert _messages(response) == ["Retry sending: 2 done, 2 skipped, 0 errors."]
    assert sorted(sent_to_workers) == sorted(n.pk for n in failed)
    assert set(Notification.objects.filter(pk__in=[n.pk for n in failed]).values_list("status", flat=True)) == {
        "pending"
    }
    actions = OperatorAction.objects.filter(action=OperatorAction.Action.RESEND)
    assert sorted(actions.values_list("notification_id", "outcome", "actor")) == sorted(
        [
            (failed[0].pk, "done", "olga"),
            (failed[1].pk, "done", "olga"),
            (sent.pk, "skipped", "olga"),
            (being_sent.pk, "skipped", "olga"),
        ]
    )
    page = operator.get(reverse("admin:payments_notification_change", args=[sent.pk])).content.decode()
    assert "Retry sending a notification" in page and "skipped" in page


@pytest.mark.usefixtures("webhooks_off")
def test_beat_applies_a_refund_stripe_took_whose_webhook_never_came():
    # given: Stripe refunded the payment for a stored request, and nothing told our ledger
    payment = live_payment()
    request = RefundRequest.objects.create(payment=payment, idempotency_key="k-beat", actor="olga", reason="Duplicate")
    refund = stripe_gateway.create_refund(
        payment_intent_id=payment.payment_intent_id, metadata={}, idempotency_key=request.idempotency_key
    )
    RefundRequest.objects.filter(pk=request.pk).update(
        status=RefundRequest.Status.SUBMITTED,
        stripe_refund_id=refund.id,
        updated_at=timezone.now() - timedelta(hours=1),
    )

    # when
    counts = refunds.refunds_reconcile_submitted(older_than=timedelta(minutes=10))

    # then
    payment.refresh_from_db()
    assert counts == {"applied": 1, "errors": 0}
    assert payment.status == Payment.Status.REFUNDED and payment.event.is_active is False
    assert refunds.refunds_reconcile_submitted(older_than=timedelta(minutes=10)) == {"applied": 0, "errors": 0}


@pytest.mark.usefixtures("webhooks_off")
def test_beat_applies_at_most_a_batch_of_refunds_per_run_the_oldest_first(settings):
    # given: three refunds Stripe took whose webhooks never came, and a batch of two
    settings.REFUND_RECONCILE_BATCH_SIZE = 2
    payments = [live_payment() for _ in range(3)]
    for age, payment in zip((3, 1, 2), payments, strict=True):
        request = RefundRequest.objects.create(
            payment=payment, idempotency_key=f"k-batch-{payment.pk}", actor="olga", reason="Duplicate"
        )
        stripe_gateway.create_refund(
            payment_intent_id=payment.payment_intent_id, metadata={}, idempotency_key=request.idempotency_key
        )
        RefundRequest.objects.filter(pk=request.pk).update(
            status=RefundRequest.Status.SUBMITTED, updated_at=timezone.now() - timedelta(hours=age)
        )

    # when
    first = refunds.refunds_reconcile_submitted(older_than=timedelta(minutes=10))

    # then: the two oldest now, the last on the next run
    refunded = set(Payment.objects.filter(status=Payment.Status.REFUNDED).values_list("pk", flat=True))
    assert first == {"applied": 2, "errors": 0}
    assert refunded == {payments[0].pk, payments[2].pk}
    assert refunds.refunds_reconcile_submitted(older_than=timedelta(minutes=10)) == {"applied": 1, "errors": 0}
