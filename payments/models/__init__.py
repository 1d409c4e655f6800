from payments.models.payment import Payment
from payments.models.stripe_event import StripeEvent

__all__ = ["Payment", "StripeEvent"]
