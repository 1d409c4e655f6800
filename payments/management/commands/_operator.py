"""What the operator commands share: `--dry-run`, `--actor`, time arguments, a progress bar and a one-line summary.

`--actor NAME` names the person on whose behalf a command changes things, for the audit trail. It is
required when the command does not run on a terminal (a script, cron, `docker compose exec -T`, CI):
there the OS account (often `root` or `eventpay` in a container) says nothing about who asked. On a
terminal it defaults to the OS account, as before. A dry run changes nothing and needs no actor."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TextIO, TypeVar, cast

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from tqdm import tqdm

if TYPE_CHECKING:
    from payments.models import OperatorAction

T = TypeVar("T")

_DURATION = re.compile(r"^(?P<value>\d+)(?P<unit>[smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def duration(value: str) -> timedelta:
    """`90s`, `10m`, `2h`, `3d`, `1w`."""
    match = _DURATION.match(value.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration like 90s, 10m, 2h, 3d or 1w.")
    return timedelta(**{_UNITS[match["unit"]]: int(match["value"])})


def moment(value: str) -> datetime:
    """A duration ago (`3d`) or an ISO 8601 time (`2031-05-01T12:00:00Z`; without an offset, UTC)."""
    if _DURATION.match(value.strip()):
        return timezone.now() - duration(value)
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise argparse.ArgumentTypeError(f"{value!r} is neither a duration like 3d nor an ISO 8601 time.")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


class OperatorCommand(BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("--dry-run", action="store_true", help="Show what would be done, change nothing.")
        parser.add_argument(
            "--actor",
            help="Who is acting, for the audit trail (e.g. your name or ticket); required when not run on a terminal.",
        )
        return parser

    def execute(self, *args, **options):
        # Settled before anything runs: a script without --actor stops at once, having changed nothing.
        self.acting_as = None if options.get("dry_run") else self.actor(options)
        return super().execute(*args, **options)

    def actor(self, options: dict):
        """The audit trail's actor for this run: `--actor`, else on a terminal the OS account."""
        from payments.services.audit import Actor

        command = f"manage.py {self._command_name()}"
        name = (options.get("actor") or "").strip()
        if name:
            return Actor.person(name, via=command)
        if not sys.stdin.isatty():
            raise CommandError(
                f"{self._command_name()}: --actor is required when not run on a terminal: "
                "name the person on whose behalf it runs."
            )
        return Actor.process(command)

    def _command_name(self) -> str:
        return self.__module__.rsplit(".", 1)[-1]

    def _terminal(self) -> TextIO:
        # The stream under Django's OutputWrapper (which would end each of tqdm's "\r" redraws with a newline).
        return cast(TextIO, self.stderr._out)

    def progress(self, items: Iterable[T], *, total: int | None, unit: str) -> Iterable[T]:
        # Drawn on a terminal only; logs and pipes get the summary line alone.
        return tqdm(items, total=total, unit=f" {unit}", file=self._terminal(), disable=None, leave=False)

    def progress_bar(self, *, total: int | None, unit: str) -> tqdm:
        """A bar moved by hand (`bar.update(n)`), for work done in batches."""
        return tqdm(total=total, unit=f" {unit}", file=self._terminal(), disable=None, leave=False)

    def act_on_each(
        self,
        items: list[T],
        *,
        dry_run: bool,
        describe: Callable[[T], str],
        act: Callable[[T], OperatorAction | None],
        name: Callable[[T], str],
        unit: str,
        dry_run_summary: str,
        summary: Callable[[dict[str, int]], str],
    ) -> None:
        """The run of a command that acts item by item.

        `--dry-run`: one line per item that would be acted on (`would <describe(item)>`), then
        `<dry_run_summary> (dry run).`; nothing changes. Otherwise one operator action per item (`act`, recorded
        in the audit trail; None when nothing was left to do, counted as skipped), each error on stderr as
        `<name(item)>: detail`, then `summary(counts)`, the counts by outcome; a run with an error exits non-zero."""
        from payments.models import OperatorAction

        if dry_run:
            for item in items:
                self.stdout.write(f"would {describe(item)}")
            self.finish(f"{dry_run_summary} (dry run).", failed=False)
            return
        counts = {outcome: 0 for outcome in OperatorAction.Outcome.values}
        for item in self.progress(items, total=len(items), unit=unit):
            record = act(item)
            outcome = OperatorAction.Outcome.SKIPPED if record is None else record.outcome
            counts[outcome] += 1
            if record is not None and outcome == OperatorAction.Outcome.ERROR:
                self.stderr.write(f"{name(item)}: {record.detail}")
        self.finish(summary(counts), failed=counts[OperatorAction.Outcome.ERROR] > 0)

    def finish(self, summary: str, *, failed: bool) -> None:
        """Prints the one-line summary; a run that could not do everything exits non-zero."""
        if failed:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))
