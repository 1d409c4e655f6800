"""Stripe's names that EventPay acts on: event types (the fulfilment handler table is keyed by these),
the API objects a thin event relates to, and the statuses of PaymentIntents and Disputes.
Code compares Stripe's status strings with these names, never with literals."""


class StripeEventType:
    PAYMENT_INTENT_SUCCEEDED = "payment_intent.succeeded"
    PAYMENT_INTENT_PAYMENT_FAILED = "payment_intent.payment_failed"
    PAYMENT_INTENT_PROCESSING = "payment_intent.processing"
    PAYMENT_INTENT_CANCELED = "payment_intent.canceled"
    CHARGE_REFUNDED = "charge.refunded"
    CHARGE_DISPUTE_CLOSED = "charge.dispute.closed"
    CHARGE_SUCCEEDED = "charge.succeeded"

    # An event destination's thin events name the same changes with this prefix (`v1.charge.refunded`);
    # they carry the related object's id, not the object.
    THIN_PREFIX = "v1."
    # Sent when a destination is created or tested from the Dashboard; answered, recorded, not acted on.
    EVENT_DESTINATION_PING = "v2.core.event_destination.ping"

    @classmethod
    def thin(cls, event_type: str) -> str:
        return cls.THIN_PREFIX + event_type


class StripeObjectType:
    """A thin event's `related_object.type`: the objects fulfilment fetches."""

    PAYMENT_INTENT = "payment_intent"
    CHARGE = "charge"
    DISPUTE = "dispute"


class IntentStatus:
    """A PaymentIntent's `status` at Stripe."""

    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    CANCELED = "canceled"
    SUCCEEDED = "succeeded"

    # The browser can still pay the intent (a new attempt after a decline included).
    PAYABLE = frozenset({REQUIRES_PAYMENT_METHOD, REQUIRES_CONFIRMATION, REQUIRES_ACTION})
    # Paid or being paid: never replaced by a second intent, never canceled as abandoned.
    IN_FLIGHT = frozenset({SUCCEEDED, PROCESSING, REQUIRES_CAPTURE})
    # Stripe decides nothing more about these.
    FINAL = frozenset({SUCCEEDED, CANCELED})


class DisputeStatus:
    """A Dispute's `status` at Stripe: once closed, `lost` (the money went back to the cardholder) or `won`."""

    LOST = "lost"
    WON = "won"
