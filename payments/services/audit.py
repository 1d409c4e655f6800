"""The audit trail: who acted on an inbox row, a payment or a notification, how, and with which outcome."""

from __future__ import annotations

import getpass
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User

from core.logging import log_context
from payments import metrics
from payments.models import Notification, OperatorAction, Payment, StripeEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who acted: a staff user in the admin, a person running a command, or a scheduled job on its own."""

    name: str
    user: Any = None
    automatic: bool = False

    @classmethod
    def from_user(cls, user: User) -> Actor:
        return cls(name=user.get_username(), user=user)

    @classmethod
    def person(cls, name: str, *, via: str) -> Actor:
        """Someone running a command, named by its `--actor`."""
        return cls(name=f"{name} ({via})"[:150])

    @classmethod
    def process(cls, name: str) -> Actor:
        """A command run from a terminal without `--actor`: the account it runs under."""
        try:
            account = getpass.getuser()
        except Exception:  # no login name in some containers
            account = "unknown"
        return cls(name=f"{name} ({account})"[:150])

    @classmethod
    def job(cls, name: str) -> Actor:
        """A scheduled job (beat) acting on its own."""
        return cls(name=name[:150], automatic=True)


def operator_action_record(
    *,
    actor: Actor,
    action: str,
    outcome: str,
    detail: str,
    stripe_event: StripeEvent | None = None,
    payment: Payment | None = None,
    notification: Notification | None = None,
    reason: str = "",
) -> OperatorAction:
    record = OperatorAction.objects.create(
        operator=actor.user,
        actor=actor.name,
        automatic=actor.automatic,
        action=action,
        stripe_event=stripe_event,
        payment=payment,
        notification=notification,
        reason=reason,
        outcome=outcome,
        detail=detail[:2000],
    )
    metrics.count_operator_action(action=action, outcome=outcome)
    log = logger.warning if outcome == OperatorAction.Outcome.ERROR else logger.info
    log("operator action %s by %s: %s (%s)", action, actor.name, outcome, detail)
    return record


def operator_action_recorder(**subject: Any) -> Callable[[str, str], OperatorAction]:
    """`record(outcome, detail)` for one action by one actor on one subject (an inbox row, a payment, a
    notification, with the operator's reason): how each audited service records how it ended."""

    def record(outcome: str, detail: str) -> OperatorAction:
        return operator_action_record(outcome=outcome, detail=detail, **subject)

    return record


def stripe_event_log_context(stripe_event: StripeEvent) -> AbstractContextManager[None]:
    return log_context(stripe_event_id=stripe_event.stripe_id, payment_intent_id=stripe_event.payment_intent_id)
