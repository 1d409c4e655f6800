from payments import selectors
from payments.management.commands._operator import OperatorCommand, duration
from payments.services import reconciliation


class Command(OperatorCommand):
    help = "Asks Stripe for the state of pending payments unchanged for a while and applies it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than", type=duration, default="10m", help="Unchanged for at least this long (default 10m)."
        )

    def handle(self, *args, older_than, dry_run, **options):
        payments = list(selectors.payments_for_reconcile(older_than=older_than))
        actor = self.acting_as
        self.act_on_each(
            payments,
            dry_run=dry_run,
            describe=lambda payment: f"reconcile payment {payment.pk} ({payment.payment_intent_id})",
            act=lambda payment: reconciliation.payment_reconcile_now(payment=payment, actor=actor),
            name=lambda payment: f"payment {payment.pk}",
            unit="payment",
            dry_run_summary=f"reconcile_payments: {len(payments)} payments would be reconciled",
            summary=lambda counts: (
                f"reconcile_payments: {counts['done']} reconciled, {counts['skipped']} skipped, "
                f"{counts['error']} errors."
            ),
        )
