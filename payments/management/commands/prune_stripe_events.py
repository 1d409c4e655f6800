from django.db import DatabaseError
from django.utils import timezone

from core.db import estimated_count
from payments import selectors
from payments.management.commands._operator import OperatorCommand, duration
from payments.services import retention


class Command(OperatorCommand):
    help = (
        "Deletes processed and ignored webhook inbox rows received before --older-than, in batches. Failed and "
        "unfinished rows, and rows an operator acted on (the audit trail names them), are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than", type=duration, required=True, help="Received at least this long ago, e.g. 90d."
        )
        parser.add_argument(
            "--batch-size", type=int, default=retention.BATCH_SIZE, help="Rows per DELETE (its own transaction)."
        )

    def handle(self, *args, older_than, batch_size, dry_run, **options):
        cutoff = timezone.now() - older_than
        # The bar's total is PostgreSQL's estimate: counting millions of rows first would take longer than the bar.
        total = estimated_count(selectors.stripe_events_prunable(cutoff=cutoff))
        batches = retention.stripe_events_prune_batches(cutoff=cutoff, batch_size=batch_size, dry_run=dry_run)
        deleted = done = 0
        failure = ""
        with self.progress_bar(total=total, unit="row") as bar:
            try:
                for rows in batches:
                    deleted += rows
                    done += 1
                    bar.update(rows)
            except DatabaseError as exc:
                failure = f" Stopped by {type(exc).__name__}: {exc}"
        kept = selectors.stripe_events_kept_for_audit(cutoff=cutoff)
        verb = "would be deleted (dry run)" if dry_run else "deleted"
        self.finish(
            f"prune_stripe_events: {deleted} rows received before {cutoff:%Y-%m-%d %H:%M} UTC {verb} in {done} "
            f"batches; {kept} kept for the audit trail; failed and unfinished rows kept.{failure}",
            failed=bool(failure),
        )
