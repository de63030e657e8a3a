"""Django's PostgreSQL backend, with a health check that costs no round trip.

CONN_HEALTH_CHECKS makes Django ask a reused connection `SELECT 1` before each request's first
query: on the labeling hot path (next frame, submit: one or two statements each) that was one
round trip in three or four. A connection the server dropped (a restart, a failover,
pg_terminate_backend) has the server's goodbye waiting on its socket, or its end of file; a
healthy idle one has nothing to read. So look at the socket without waiting: nothing there, it
is usable; something there (a goodbye, or a notice), ask `SELECT 1` as Django does. A request
that meets a connection dropped after this look is run again once (config.middleware)."""
from __future__ import annotations

import select

from django.db.backends.postgresql.base import (
    DatabaseWrapper as PostgresDatabaseWrapper,
)


class DatabaseWrapper(PostgresDatabaseWrapper):
    def is_usable(self):
        conn = self.connection
        if conn is None or conn.closed or getattr(conn, "broken", False):
            return False
        try:
            readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
        except (OSError, ValueError):  # the socket is gone
            return False
        if not readable:
            return True
        return super().is_usable()
