from payments.models.notification import Notification, NotificationKind
from payments.models.operator_action import OperatorAction
from payments.models.payment import Payment
from payments.models.refund_request import RefundRequest
from payments.models.stripe_event import StripeEvent

__all__ = ["Notification", "NotificationKind", "OperatorAction", "Payment", "RefundRequest", "StripeEvent"]
