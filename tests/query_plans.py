"""PostgreSQL's plan of a query, to show that an index answers it whatever the table's size.

The planner is asked with sequential scans off, so that on a small test table it picks an index
whenever one can answer the query; a query no index answers still gets a Seq Scan (or an index read
from end to end without a condition), and the assertion names it. On a few rows a bitmap over a partial
index that holds nearly every row can look cheapest; then the plan without bitmap scans is asked too,
and the better of the two counts (an OR of conditions needs bitmap scans, a range read does not)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connection

# Partial indexes hold only the rows their condition selects: reading one whole is a bounded read.
PARTIAL_INDEXES = {
    "stripe_event_unfinished",
    "stripe_event_failed",
    "payment_one_open_per_event",
    "event_public_upcoming",
}


def _nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _unbounded(node: dict) -> str | None:
    kind, index = node["Node Type"], node.get("Index Name", "")
    if kind == "Seq Scan":
        return f"Seq Scan on {node['Relation Name']}"
    scans_an_index = kind in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
    if scans_an_index and "Index Cond" not in node and index not in PARTIAL_INDEXES:
        return f"{kind} of all of {index}"
    return None


def unbounded_scans(sql: str, tables: set[str], params: tuple = ()) -> list[str]:
    """The scans of `tables` in the plan of `sql` that no index condition or partial index bounds."""
    found = _unbounded_scans(_plan(sql, params), tables)
    if found:
        found = min(found, _unbounded_scans(_plan(sql, params, bitmaps=False), tables), key=len)
    return found


def _plan(sql: str, params: tuple, *, bitmaps: bool = True) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        if not bitmaps:
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params or None)
        plan = cursor.fetchone()[0]
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_bitmapscan")
    return plan


def _unbounded_scans(plan: dict, tables: set[str]) -> list[str]:
    found = []
    for node in _nodes(plan[0]["Plan"]):
        if node.get("Relation Name") not in tables:
            continue
        # A bitmap heap scan reads the rows its bitmap index scans (its children) found.
        scans = (
            [n for n in _nodes(node) if n["Node Type"] == "Bitmap Index Scan"]
            if "Bitmap" in node["Node Type"]
            else [node]
        )
        found += [problem for scan in scans if (problem := _unbounded(scan))]
    return found
