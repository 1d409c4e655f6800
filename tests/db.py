"""A PostgreSQL connection of the test's own, beside Django's: another web thread or worker, seen from outside."""

import psycopg
from django.db import connection


def other_connection() -> psycopg.Connection:
    """A connection of its own to the test database, in autocommit, as another process would have."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)
