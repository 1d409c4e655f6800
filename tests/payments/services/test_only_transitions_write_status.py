"""Structure: no module but the transition service writes `Payment.status`.

Read from the code with `ast`, so a new path that sets the status on its own fails here before it can
skip the guard, the stamps, the notification or the event's flags:
- `<queryset>.update(status=...)` on a Payment queryset (`Payment.objects...`, `payments...`),
- `<payment>.status = ...` on a name that reads as a payment,
- `.save(update_fields=[..."status"...])` or `bulk_update(..., ["status", ...])` on payments.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ALLOWED = {Path("payments/services/transitions.py")}
PACKAGES = ("core", "events", "payments", "worker")


def _names(node: ast.AST) -> str:
    """The dotted source of an expression's receiver chain, lower-cased (`payment.event`, `Payment.objects.filter`)."""
    return ast.unparse(node).lower()


def _is_payment(receiver: ast.AST) -> bool:
    text = _names(receiver)
    return "payment" in text and "refund" not in text and "stripe_event" not in text


def _status_strings(node: ast.AST | None) -> bool:
    return node is not None and any(isinstance(sub, ast.Constant) and sub.value == "status" for sub in ast.walk(node))


def status_writes(source: str) -> list[int]:
    """Line numbers in `source` that write a payment's status."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "status" and _is_payment(target.value):
                    lines.append(node.lineno)
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method, receiver = node.func.attr, node.func.value
        if not _is_payment(receiver):
            continue
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        if (
            (method == "update" and "status" in keywords)
            or (method == "save" and _status_strings(keywords.get("update_fields")))
            or (
                method == "bulk_update"
                and (_status_strings(keywords.get("fields")) or any(_status_strings(arg) for arg in node.args[1:]))
            )
        ):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_check_finds_each_kind_of_write():
    source = (
        "Payment.objects.filter(pk=1).update(status='succeeded')\n"
        "payment.status = 'failed'\n"
        "payment.save(update_fields=['status', 'updated_at'])\n"
        "Payment.objects.bulk_update(payments, ['status'])\n"
        "request.status = 'failed'\n"
        "refund_request.save(update_fields=['status'])\n"
        "Payment.objects.filter(status='pending').update(last_error='')\n"
    )
    assert status_writes(source) == [1, 2, 3, 4]


def test_no_module_but_the_transition_service_writes_a_payments_status():
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative in ALLOWED or "migrations" in relative.parts:
                continue
            offenders += [f"{relative}:{line}" for line in status_writes(path.read_text())]
    assert offenders == [], "write Payment.status through payments.services.transitions.payment_transition"
