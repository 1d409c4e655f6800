from django.core.management.base import CommandError

from payments import stripe_gateway
from payments.management.commands._operator import OperatorCommand, moment
from payments.models import OperatorAction
from payments.services import catch_up


class Command(OperatorCommand):
    help = "Stores and enqueues the Stripe events the webhook endpoint missed (an outage, a lost delivery)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", type=moment, required=True, help="Events created since: a duration ago (3d) or an ISO time."
        )

    def handle(self, *args, since, dry_run, **options):
        try:
            missing = list(catch_up.stripe_events_missing(since=since))
        except stripe_gateway.StripeGatewayError as exc:
            raise CommandError(f"catch_up_stripe_events: Stripe's events could not be listed: {exc}") from exc
        if dry_run:
            self.report_dry_run(
                missing,
                describe=lambda event: f"store {event['id']} ({event['type']})",
                summary=f"catch_up_stripe_events: {len(missing)} missed events would be stored",
            )
            return

        stored = errors = 0
        actor = self.acting_as
        for event in self.progress(missing, total=len(missing), unit="event"):
            record = catch_up.stripe_event_catch_up(event=event, actor=actor)
            if record is None:
                continue  # the webhook stored it meanwhile
            stored += 1
            if record.outcome == OperatorAction.Outcome.ERROR:
                errors += 1
                self.stderr.write(f"{event['id']}: {record.detail}")
        self.finish(
            f"catch_up_stripe_events: {len(missing)} missed, {stored} stored, {stored - errors} enqueued, {errors} errors.",
            failed=errors > 0,
        )
