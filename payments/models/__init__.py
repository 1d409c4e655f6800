from payments.models.operator_action import OperatorAction
from payments.models.payment import Payment
from payments.models.stripe_event import StripeEvent

__all__ = ["OperatorAction", "Payment", "StripeEvent"]
