"""Database hygiene for long-running agent processes."""

from django.db import close_old_connections, connection


def fresh_connection() -> None:
    """Drop a broken or expired connection before a query, as Django does per request.

    Inside a transaction (a test, or a caller's atomic block) the connection is
    left alone: closing it there would lose the caller's work.
    """
    if not connection.in_atomic_block:
        close_old_connections()
