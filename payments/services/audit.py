"""The audit trail: who acted on an inbox row or a payment, how, and with which outcome."""

from __future__ import annotations

import getpass
import logging
from dataclasses import dataclass
from typing import Any

from core.logging import log_context
from payments import metrics
from payments.models import OperatorAction, Payment, StripeEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who acted: a staff user in the admin, or a command or beat run on the servers."""

    name: str
    user: Any = None

    @classmethod
    def from_user(cls, user) -> Actor:
        return cls(name=user.get_username(), user=user)

    @classmethod
    def process(cls, name: str) -> Actor:
        try:
            account = getpass.getuser()
        except Exception:  # no login name in some containers
            account = "unknown"
        return cls(name=f"{name} ({account})"[:150])


def operator_action_record(
    *,
    actor: Actor,
    action: str,
    outcome: str,
    detail: str,
    stripe_event: StripeEvent | None = None,
    payment: Payment | None = None,
    reason: str = "",
) -> OperatorAction:
    record = OperatorAction.objects.create(
        operator=actor.user,
        actor=actor.name,
        action=action,
        stripe_event=stripe_event,
        payment=payment,
        reason=reason,
        outcome=outcome,
        detail=detail[:2000],
    )
    metrics.count_operator_action(action=action, outcome=outcome)
    log = logger.warning if outcome == OperatorAction.Outcome.ERROR else logger.info
    log("operator action %s by %s: %s (%s)", action, actor.name, outcome, detail)
    return record


def stripe_event_log_context(stripe_event: StripeEvent):
    return log_context(stripe_event_id=stripe_event.stripe_id, payment_intent_id=stripe_event.payment_intent_id)
