from django.core.management.base import BaseCommand, CommandError

from payments.services.fulfilment import HANDLERS, THIN_HANDLERS

# What each Stripe destination sends, where, and what EventPay acts on (its fulfilment handler tables).
PAYLOADS = {
    "snapshot": ("Snapshot events: a webhook endpoint, POST /api/payments/webhook/", HANDLERS),
    "thin": ("Thin events: an event destination, POST /api/payments/webhook/thin/", THIN_HANDLERS),
}


class Command(BaseCommand):
    help = (
        "Prints the Stripe event types EventPay acts on, for each payload: the snapshot events to enable on a "
        "webhook endpoint, the thin events to enable on an event destination. Others are stored and ignored, "
        "so need not be sent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--payload",
            choices=sorted(PAYLOADS),
            help="Only this payload's types, one per line and without a heading (for scripts).",
        )
        parser.add_argument(
            "--comma",
            action="store_true",
            help="One comma-separated line (with --payload), for `stripe listen --events …` or `--thin-events …`.",
        )

    def handle(self, *args, payload: str | None, comma: bool, **options):
        if payload is not None:
            event_types = sorted(PAYLOADS[payload][1])
            self.stdout.write(",".join(event_types) if comma else "\n".join(event_types))
            return
        if comma:
            raise CommandError("--comma needs --payload snapshot or --payload thin.")
        sections = [f"{heading}:\n" + "\n".join(sorted(handlers)) for heading, handlers in PAYLOADS.values()]
        self.stdout.write("\n\n".join(sections))
