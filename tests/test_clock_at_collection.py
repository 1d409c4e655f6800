"""No test reads the clock when its module is imported or collected.

A timestamp computed at collection time (a module constant, a `parametrize` argument, a default
argument) is stale by the time its test runs: a suite that takes longer than a tolerance to reach
the test turns "400 s ago" into "inside the tolerance". Time is read inside the test, or frozen."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CLOCKS = {
    "time.time", "time.monotonic", "timezone.now", "datetime.now", "datetime.utcnow", "date.today",
    "datetime.datetime.now", "datetime.date.today", "dt.datetime.now",
}  # fmt: skip


def _clock_calls(node: ast.AST):
    """Clock calls evaluated when `node` is evaluated: not those inside a function or lambda it defines."""
    if isinstance(node, ast.Call) and ast.unparse(node.func) in CLOCKS:
        yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _clock_calls(child)


def _evaluated_at_import(tree: ast.Module):
    """What Python evaluates while importing a module: statements, and of each function its decorators
    and default arguments (the body runs later); class bodies recursively."""
    for statement in tree.body:
        yield from _evaluated_in(statement)


def _evaluated_in(statement: ast.stmt):
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
        yield from statement.decorator_list
        yield from statement.args.defaults
        yield from (default for default in statement.args.kw_defaults if default is not None)
    elif isinstance(statement, ast.ClassDef):
        yield from statement.decorator_list
        for child in statement.body:
            yield from _evaluated_in(child)
    else:
        yield statement


def clock_reads_at_import(source: str) -> list[str]:
    tree = ast.parse(source)
    return [
        f"line {call.lineno}: {ast.unparse(call)}" for node in _evaluated_at_import(tree) for call in _clock_calls(node)
    ]


def test_the_scan_finds_a_timestamp_computed_in_a_parametrize_argument():
    # given: the pattern that made a tolerance test pass when the suite was slow
    source = (
        "@pytest.mark.parametrize('ts', [int(time.time()) - 400])\n"
        "def test_stale(ts):\n"
        "    assert ts\n"
        "NOW = timezone.now()\n"
        "LATER = lambda: timezone.now()\n"
        "def test_fine():\n"
        "    assert time.time()\n"
    )

    # when / then
    assert clock_reads_at_import(source) == ["line 1: time.time()", "line 4: timezone.now()"]


def test_no_test_module_reads_the_clock_at_import_or_collection():
    found = {
        str(path.relative_to(TESTS)): reads
        for path in sorted(TESTS.rglob("*.py"))
        if (reads := clock_reads_at_import(path.read_text()))
    }

    assert found == {}
