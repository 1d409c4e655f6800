from django.core.management.base import BaseCommand

from payments.services.fulfilment import HANDLERS


class Command(BaseCommand):
    help = (
        "Prints the Stripe event types EventPay acts on (its fulfilment handler table): the events to enable "
        "on the Dashboard's webhook endpoint. Others are stored and ignored, so need not be sent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--comma", action="store_true", help="One comma-separated line, for `stripe listen --events …`."
        )

    def handle(self, *args, comma: bool, **options):
        event_types = sorted(HANDLERS)
        self.stdout.write(",".join(event_types) if comma else "\n".join(event_types))
