from django.core.management.base import CommandError

from payments import stripe_gateway
from payments.management.commands._operator import OperatorCommand, moment
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
        actor = self.acting_as
        self.act_on_each(
            missing,
            dry_run=dry_run,
            describe=lambda event: f"store {event['id']} ({event['type']})",
            # None: the webhook stored it meanwhile. A stored event the broker refused is an error.
            act=lambda event: catch_up.stripe_event_catch_up(event=event, actor=actor),
            name=lambda event: event["id"],
            unit="event",
            dry_run_summary=f"catch_up_stripe_events: {len(missing)} missed events would be stored",
            summary=lambda counts: (
                f"catch_up_stripe_events: {len(missing)} missed, {counts['done'] + counts['error']} stored, "
                f"{counts['done']} enqueued, {counts['error']} errors."
            ),
        )
