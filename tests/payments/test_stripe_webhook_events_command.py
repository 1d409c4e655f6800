from io import StringIO

from django.core.management import call_command

from payments.services.fulfilment import HANDLERS


def run(*args: str) -> str:
    out = StringIO()
    call_command("stripe_webhook_events", *args, stdout=out)
    return out.getvalue()


def test_lists_the_event_types_of_the_handler_table_one_per_line():
    # when
    lines = run().split()

    # then
    assert lines == sorted(HANDLERS)
    assert {"payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded"} <= set(lines)


def test_comma_separated_for_the_stripe_cli():
    assert run("--comma").strip() == ",".join(sorted(HANDLERS))
