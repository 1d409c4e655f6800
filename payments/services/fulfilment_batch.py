"""Fulfilment of a batch of inbox rows at once: the same outcome as `fulfilment.process_stripe_event` applied
to each row in the order they were stored, in a constant number of statements per batch.

One transaction reads the batch's open rows under lock (SKIP LOCKED: rows another worker holds are its
own to close), moves their payments through `transitions.payment_transitions_bulk`, and closes the rows
in one UPDATE. It applies the hot events (snapshot `payment_intent.*` events) and closes `ignored` the
rows fulfilment does not act on (a type without a handler, the other Stripe mode's: they change nothing
but themselves). Every other row (a thin event, a refund, a dispute, a charge's card details, a payload
it cannot read, a payment another transaction holds) is returned for the one-at-a-time path, together with every other row of its PaymentIntent in the batch, so that a
payment's events still apply in the order they were stored. Those rows follow the batch's commit, one
transaction each: one of them failing, or the batch failing whole, holds back no other row.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.db import transaction

from payments.models import StripeEvent
from payments.services import fulfilment, inbox
from payments.services.fulfilment import INTENT_TARGETS, outcome_log, outcome_of
from payments.services.transitions import IntentFact, payment_transitions_bulk
from payments.stripe_gateway import StripeIntent


def stripe_events_fulfil(
    *, stripe_event_ids: list[int], claim_waiting: int = 0, more_waiting: Callable[[], object] = lambda: None
) -> list[int]:
    """Applies the batch's hot rows in one transaction; returns, in stored order, the rows left for
    `fulfilment.process_stripe_event`. Only rows still waiting (received or enqueued) are taken: rows
    finished, or failed (they wait for an operator: a message delivered again does not apply them again),
    or held by another worker, are in neither.

    With `claim_waiting`, the batch also takes up to that many other rows waiting in the inbox (received or
    enqueued, oldest first, none another worker holds), as queue engines claim jobs: under a backlog one
    message then carries a full batch, and the messages of the rows it took find them finished. Failed rows
    are never claimed: they wait for their retry's back-off or an operator. A claim that took all it could
    calls `more_waiting()` at once (the rows are locked by then), so that another worker takes the next batch
    while this one applies its own. A message whose rows another batch took, with nothing else waiting, ends
    after its locking reads."""
    with transaction.atomic():
        rows = list(
            StripeEvent.objects.select_for_update(skip_locked=True)
            .filter(pk__in=stripe_event_ids, status__in=StripeEvent.UNFINISHED_STATUSES)
            .order_by("pk")
        )
        if claim_waiting > 0:
            claimed = _waiting(exclude=stripe_event_ids, limit=claim_waiting)
            if len(claimed) == claim_waiting:
                more_waiting()
            rows = sorted(rows + claimed, key=lambda row: row.pk)
        if not rows:
            return []
        # Rows fulfilment does not act on change nothing but themselves: closed here, whatever their payment.
        skipped = [(row, fulfilment.skipped(row)) for row in rows if not fulfilment.applies(row)]
        acted_on = [row for row in rows if fulfilment.applies(row)]
        facts = {row.pk: _intent_fact(row) for row in acted_on}
        # A payment with one row on the slow path takes all its rows there, in their order.
        slow = {row.payment_intent_id for row in acted_on if facts[row.pk] is None}
        bulk = [row for row in acted_on if facts[row.pk] is not None and row.payment_intent_id not in slow]
        transitions = payment_transitions_bulk(facts=[fact for row in bulk if (fact := facts[row.pk]) is not None])
        closing = [(row, outcome_of(t)) for row, t in zip(bulk, transitions, strict=True) if t is not None]
        closing = sorted(skipped + closing, key=lambda pair: pair[0].pk)
        inbox.stripe_events_close(closing=closing)
    for row, outcome in closing:
        outcome_log(row, outcome)
    closed = {row.pk for row, _ in closing}
    return [row.pk for row in rows if row.pk not in closed]


def _waiting(*, exclude: list[int], limit: int) -> list[StripeEvent]:
    """Up to `limit` rows waiting for a worker, oldest first, locked (read through the partial index of
    unfinished rows, as small as the backlog)."""
    return list(
        StripeEvent.objects.select_for_update(skip_locked=True)
        .filter(status__in=StripeEvent.UNFINISHED_STATUSES)
        .exclude(pk__in=exclude)
        .order_by("received_at", "id")[:limit]
    )


def _intent_fact(row: StripeEvent) -> IntentFact | None:
    """The row's fact for the batch, or None when it goes the one-at-a-time way."""
    target = INTENT_TARGETS.get(row.type)
    if target is None or row.kind != StripeEvent.Kind.SNAPSHOT:
        return None
    try:
        intent = StripeIntent.from_dict(json.loads(row.payload)["data"]["object"])
    except (ValueError, KeyError, TypeError, AttributeError):  # fulfilment reports the error on the row
        return None
    if not intent.id or intent.id != row.payment_intent_id:
        return None
    return IntentFact(intent=intent, target=target)
