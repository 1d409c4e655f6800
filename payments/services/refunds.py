"""An operator's full refund of a succeeded payment, and how it reaches our ledger.

The request is stored first (`RefundRequest`, one per payment, with the idempotency key every call to
Stripe for it carries), then Stripe is asked under the request's row lock: a second click, or a second
operator, waits for the first and finds the refund submitted. Stripe's refund is applied to the payment by
fulfilment's own guarded code, from the `charge.refunded` webhook or, at once, from the charge read back
after the refund (localstripe sends no `charge.*` events); whichever comes second changes nothing. The
payment becomes refunded, its event leaves the public list, and the refund email is recorded.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from core.logging import log_context
from payments import stripe_gateway
from payments.models import OperatorAction, Payment, RefundRequest
from payments.services.audit import Actor, operator_action_recorder
from payments.services.receipts import payment_record_charge
from payments.services.transitions import payment_transition

logger = logging.getLogger(__name__)

Result = OperatorAction.Outcome


def _new_idempotency_key(payment: Payment) -> str:
    return f"eventpay-payment-{payment.pk}-refund-{uuid.uuid4().hex[:12]}"


def payment_refund(*, payment: Payment, actor: Actor, reason: str) -> OperatorAction:
    """Refunds a succeeded payment in full at Stripe and applies it; recorded in the audit trail with the
    operator's reason. Safe to repeat: a refund already submitted is never asked for again."""
    reason = reason.strip()
    if not reason:
        raise ApplicationError("A reason is required to refund a payment.")

    record = operator_action_recorder(actor=actor, action=OperatorAction.Action.REFUND, payment=payment, reason=reason)

    with log_context(payment_id=payment.pk, payment_intent_id=payment.payment_intent_id):
        with transaction.atomic():
            locked = Payment.objects.select_for_update().get(pk=payment.pk)
            request = RefundRequest.objects.filter(payment=locked).first()
            if request is not None and locked.status == Payment.Status.REFUNDED:
                return record(Result.SKIPPED, f"Already refunded (requested by {request.actor}).")
            if request is None:
                if locked.status != Payment.Status.SUCCEEDED:
                    return record(
                        Result.SKIPPED, f"The payment is {locked.status}; only a succeeded payment is refunded."
                    )
                request = RefundRequest.objects.create(
                    payment=locked,
                    idempotency_key=_new_idempotency_key(locked),
                    operator=actor.user,
                    actor=actor.name,
                    reason=reason,
                )
            elif request.status == RefundRequest.Status.FAILED:
                # Stripe refused the last request; a new one gets a key of its own.
                request.idempotency_key = _new_idempotency_key(locked)
                request.status = RefundRequest.Status.REQUESTED
                request.save(update_fields=["idempotency_key", "status", "updated_at"])
        # The key is stored (committed) before Stripe hears of it.
        try:
            request = _submit(request_id=request.pk)
        except stripe_gateway.TransientStripeError as exc:
            return record(Result.ERROR, f"Stripe could not be reached; refund again to retry the same request: {exc}")
        except stripe_gateway.StripeGatewayError as exc:
            return record(Result.ERROR, f"Stripe refused the refund: {exc}")
        if request.status == RefundRequest.Status.SUBMITTING:
            return record(Result.SKIPPED, f"A refund is being submitted to Stripe (requested by {request.actor}).")
        try:
            applied = refund_apply(payment=payment)
        except stripe_gateway.StripeGatewayError as exc:
            return record(
                Result.DONE,
                f"Stripe refunded it ({request.stripe_refund_id}); the payment follows with Stripe's webhook "
                f"(the charge could not be read back: {exc}).",
            )
        return record(Result.DONE, f"Refund {request.stripe_refund_id}. {applied}")


def _submit(*, request_id: int) -> RefundRequest:
    """Asks Stripe for the refund unless it was submitted already or is being submitted by someone else
    (the request is returned `submitting` then); no transaction is open meanwhile. A refusal is kept on
    the row (and raised once the row is saved)."""
    request, claimed = _claim(request_id=request_id)
    if not claimed:
        return request
    payment = Payment.objects.get(pk=request.payment_id)
    try:
        refund = stripe_gateway.create_refund(
            payment_intent_id=payment.recorded_intent_id,
            metadata={"payment_id": str(payment.pk), "refund_request_id": str(request.pk)},
            idempotency_key=request.idempotency_key,
        )
    except stripe_gateway.StripeGatewayError as exc:
        transient = isinstance(exc, stripe_gateway.TransientStripeError)
        # A request Stripe may have received keeps its key, so that retrying it cannot refund twice.
        status = RefundRequest.Status.REQUESTED if transient else RefundRequest.Status.FAILED
        _record_answer(request_id=request_id, status=status, last_error=str(exc)[:2000])
        logger.warning("refund of payment %s not submitted: %s", request.payment_id, exc)
        raise
    request = _record_answer(request_id=request_id, status=RefundRequest.Status.SUBMITTED, stripe_refund_id=refund.id)
    logger.info("refund %s of payment %s submitted", request.stripe_refund_id, request.payment_id)
    return request


def _lease_expired(request: RefundRequest) -> bool:
    lease = timedelta(seconds=stripe_gateway.longest_call_seconds() + 5)
    return request.updated_at < timezone.now() - lease


@transaction.atomic
def _claim(*, request_id: int) -> tuple[RefundRequest, bool]:
    """The request, and whether this caller took its lease (and so asks Stripe). Locks the request's row
    only: the payment's stays free for fulfilment and checkout."""
    request = RefundRequest.objects.select_for_update().get(pk=request_id)
    if request.status == RefundRequest.Status.SUBMITTED:
        return request, False
    if request.status == RefundRequest.Status.SUBMITTING and not _lease_expired(request):
        return request, False
    request.status = RefundRequest.Status.SUBMITTING
    request.save(update_fields=["status", "updated_at"])
    return request, True


@transaction.atomic
def _record_answer(*, request_id: int, status: str, stripe_refund_id: str = "", last_error: str = "") -> RefundRequest:
    """Records Stripe's answer, unless a submitter that took the lease over recorded the refund already
    (with the same key, Stripe made one refund for both)."""
    request = RefundRequest.objects.select_for_update().get(pk=request_id)
    if request.status == RefundRequest.Status.SUBMITTED:
        return request
    request.status = status
    request.stripe_refund_id = stripe_refund_id
    request.last_error = last_error
    request.save(update_fields=["status", "stripe_refund_id", "last_error", "updated_at"])
    return request


def refund_apply(*, payment: Payment) -> str:
    """Reads the payment's charge back from Stripe and, once it is fully refunded, applies the refund
    through the transition service (the same guarded path as the `charge.refunded` webhook)."""
    charge = stripe_gateway.retrieve_latest_charge(payment.recorded_intent_id)
    if charge is None:
        return "Stripe shows no charge for this payment."
    payment_record_charge(payment_id=payment.pk, charge=charge)
    if not charge.refunded:
        return "Stripe has not completed the refund yet; its webhook will apply it."
    with transaction.atomic():
        return payment_transition(payment_intent_id=payment.recorded_intent_id, target=Payment.Status.REFUNDED).reason


def refunds_reconcile_submitted(*, older_than: timedelta) -> dict[str, int]:
    """Applies refunds Stripe took whose payment is still succeeded `older_than` later (beat): the webhook
    was lost, or Stripe finished the refund after the operator's click. At most REFUND_RECONCILE_BATCH_SIZE
    of them per run, the oldest first: Stripe's rate limits are shared."""
    counts = {"applied": 0, "errors": 0}
    cutoff = timezone.now() - older_than
    requests = (
        RefundRequest.objects.filter(
            status=RefundRequest.Status.SUBMITTED, payment__status=Payment.Status.SUCCEEDED, updated_at__lt=cutoff
        )
        .select_related("payment")
        .order_by("updated_at", "id")[: settings.REFUND_RECONCILE_BATCH_SIZE]
    )
    for request in requests:
        try:
            refund_apply(payment=request.payment)
            counts["applied"] += 1
        except stripe_gateway.StripeGatewayError:
            counts["errors"] += 1
            logger.warning("could not reconcile the refund of payment %s", request.payment_id, exc_info=True)
    return counts
