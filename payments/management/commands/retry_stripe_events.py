from django.core.management.base import CommandError

from payments import selectors
from payments.management.commands._operator import OperatorCommand, moment
from payments.services import retries


class Command(OperatorCommand):
    help = "Hands failed (and, without --failed, stuck) webhook inbox rows back to the workers."

    def add_arguments(self, parser):
        parser.add_argument("--failed", action="store_true", help="Only rows whose retries are used up.")
        parser.add_argument("--ids", nargs="+", default=[], metavar="ID", help="Stripe event ids (evt_…) or row ids.")
        parser.add_argument("--type", nargs="+", default=[], dest="types", metavar="TYPE", help="Stripe event types.")
        parser.add_argument("--since", type=moment, help="Received since: a duration ago (2h, 3d) or an ISO time.")

    def handle(self, *args, failed, ids, types, since, dry_run, **options):
        rows = list(selectors.stripe_events_for_retry(failed_only=failed, ids=ids, types=types, since=since))
        found = {str(row.pk) for row in rows} | {row.stripe_id for row in rows}
        missing = [i for i in ids if i not in found]
        if missing and not failed:
            raise CommandError(f"No inbox row for: {', '.join(missing)}.")

        actor = self.acting_as
        self.act_on_each(
            rows,
            dry_run=dry_run,
            describe=lambda row: f"retry {row.stripe_id} ({row.type}, {row.status}, {row.attempts} attempts)",
            act=lambda row: retries.stripe_event_retry(stripe_event=row, actor=actor),
            name=lambda row: row.stripe_id,
            unit="event",
            dry_run_summary=f"retry_stripe_events: {len(rows)} rows would be retried",
            summary=lambda counts: (
                f"retry_stripe_events: {counts['done']} enqueued, {counts['skipped']} skipped, {counts['error']} errors."
            ),
        )
