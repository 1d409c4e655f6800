from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from payments.services.fulfilment import HANDLERS, THIN_HANDLERS


def run(*args: str) -> str:
    out = StringIO()
    call_command("stripe_webhook_events", *args, stdout=out)
    return out.getvalue()


def test_prints_both_lists_under_their_destination():
    # when
    snapshot, thin = run().strip().split("\n\n")

    # then
    snapshot_heading, *snapshot_types = snapshot.splitlines()
    thin_heading, *thin_types = thin.splitlines()
    assert "webhook endpoint" in snapshot_heading and "/api/payments/webhook/" in snapshot_heading
    assert "event destination" in thin_heading and "/api/payments/webhook/thin/" in thin_heading
    assert snapshot_types == sorted(HANDLERS)
    assert thin_types == sorted(THIN_HANDLERS)
    assert {"payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded"} <= set(snapshot_types)
    assert {"v1.payment_intent.succeeded", "v1.payment_intent.payment_failed", "v1.charge.refunded"} <= set(thin_types)


@pytest.mark.parametrize(("payload", "handlers"), [("snapshot", HANDLERS), ("thin", THIN_HANDLERS)])
def test_one_payload_one_type_per_line_for_scripts(payload, handlers):
    assert run("--payload", payload).split() == sorted(handlers)


@pytest.mark.parametrize(("payload", "handlers"), [("snapshot", HANDLERS), ("thin", THIN_HANDLERS)])
def test_comma_separated_for_the_stripe_cli(payload, handlers):
    assert run("--payload", payload, "--comma").strip() == ",".join(sorted(handlers))


def test_comma_needs_a_payload():
    with pytest.raises(CommandError, match="--payload"):
        run("--comma")
