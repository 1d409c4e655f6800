"""An operator's second chance for inbox rows: retry, re-fetch from Stripe and rerun, or give up
("Mark ignored"). Each action is recorded in the audit trail; the state guards of the inbox and
of fulfilment make every one of them safe to repeat."""

from __future__ import annotations

import logging
from collections import Counter

from core.exceptions import ApplicationError
from core.logging import log_context
from payments import stripe_gateway
from payments.consts import StripeEventType
from payments.models import OperatorAction, Payment, StripeEvent
from payments.services import fulfilment, inbox, reconciliation
from payments.services.audit import Actor, operator_action_recorder, stripe_event_log_context
from payments.services.inbox import Outcome

logger = logging.getLogger(__name__)

Action = OperatorAction.Action
Result = OperatorAction.Outcome


def stripe_event_retry(*, stripe_event: StripeEvent, actor: Actor) -> OperatorAction:
    """Hands a failed or stuck row back to the workers; its attempt count is kept."""

    record = operator_action_recorder(actor=actor, action=Action.RETRY, stripe_event=stripe_event)

    with stripe_event_log_context(stripe_event):
        reopened = StripeEvent.objects.filter(pk=stripe_event.pk, status__in=StripeEvent.OPEN_STATUSES).update(
            status=StripeEvent.Status.RECEIVED
        )
        if not reopened:
            stripe_event.refresh_from_db(fields=["status"])
            return record(Result.SKIPPED, f"The row is {stripe_event.status}; there is nothing to retry.")
        if not inbox.stripe_event_enqueue(stripe_event_id=stripe_event.pk):
            return record(
                Result.ERROR, "The broker is unavailable; the row is back in the inbox and the sweeper will send it."
            )
        return record(Result.DONE, f"Enqueued for processing after {stripe_event.attempts} attempt(s).")


def stripe_events_retry(*, stripe_event_ids: list[int], actor: Actor) -> dict[str, object]:
    """Retries many rows (an operator's bulk action, run by a worker): the counts of each outcome and the
    errors, kept as the task's result."""
    counts: Counter[str] = Counter()
    errors: list[str] = []
    for row in StripeEvent.objects.filter(pk__in=stripe_event_ids).order_by("received_at", "id"):
        record = stripe_event_retry(stripe_event=row, actor=actor)
        counts[record.outcome] += 1
        if record.outcome == Result.ERROR:
            errors.append(f"{row.stripe_id}: {record.detail}")
    return {
        "actor": actor.name,
        "rows": len(stripe_event_ids),
        **{o: counts[o] for o in Result.values},
        "errors": errors,
    }


def stripe_event_refetch(*, stripe_event: StripeEvent, actor: Actor) -> OperatorAction:
    """Applies the PaymentIntent's current state at Stripe, instead of the stored event, and closes the row."""

    record = operator_action_recorder(actor=actor, action=Action.REFETCH, stripe_event=stripe_event)

    with stripe_event_log_context(stripe_event):
        event_type = stripe_event.type.removeprefix(StripeEventType.THIN_PREFIX)  # a thin event names the same change
        if not (event_type.startswith("payment_intent.") and stripe_event.payment_intent_id):
            return record(Result.SKIPPED, "Only PaymentIntent events can be re-fetched from Stripe.")
        if stripe_event.status not in StripeEvent.OPEN_STATUSES:
            return record(Result.SKIPPED, f"The row is {stripe_event.status}; there is nothing to rerun.")
        payment = Payment.objects.filter(payment_intent_id=stripe_event.payment_intent_id).first()
        if payment is None:
            outcome = Outcome.ignored(f"PaymentIntent {stripe_event.payment_intent_id} was not created by EventPay.")
        else:
            try:
                with log_context(payment_id=payment.pk):
                    outcome = fulfilment.outcome_of(reconciliation.payment_reconcile(payment=payment))
            except stripe_gateway.StripeGatewayError as exc:
                return record(Result.ERROR, f"Stripe could not be asked: {exc}")
        closed = inbox.stripe_event_close(stripe_event_id=stripe_event.pk, outcome=outcome)
        if outcome.status == StripeEvent.Status.FAILED:
            logger.error("stripe event %s failed on re-fetch: %s", stripe_event.stripe_id, outcome.reason)
            return record(Result.ERROR, outcome.reason)
        if not closed:
            return record(Result.DONE, f"{outcome.reason} The row had been processed meanwhile.")
        return record(Result.DONE, outcome.reason or f"The row is {outcome.status}.")


def stripe_event_ignore(*, stripe_event: StripeEvent, actor: Actor, reason: str) -> OperatorAction:
    """Closes a row without processing it; the operator's reason is kept in the audit trail."""
    reason = reason.strip()
    if not reason:
        raise ApplicationError("A reason is required to mark an event ignored.")

    record = operator_action_recorder(actor=actor, action=Action.IGNORE, stripe_event=stripe_event, reason=reason)

    with stripe_event_log_context(stripe_event):
        if not inbox.stripe_event_close(
            stripe_event_id=stripe_event.pk, outcome=Outcome.ignored(reason), attempted=False
        ):
            stripe_event.refresh_from_db(fields=["status"])
            return record(Result.SKIPPED, f"The row is {stripe_event.status}; it was left as it is.")
        return record(Result.DONE, "Marked ignored.")
