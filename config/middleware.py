"""Requests survive a lost database connection.

When PostgreSQL drops a connection (a restart, a failover, an administrator's
pg_terminate_backend), a request whose query was in flight fails with OperationalError or
InterfaceError. Its transaction was rolled back with the connection — or, if the connection
died during COMMIT, the commit may have happened and the retry meets what it wrote (a second
submit of the same lease is refused cleanly, never stored twice). So the request is run once
more on a fresh connection instead of answering 500. Idle connections that died are replaced
before use by Django's CONN_HEALTH_CHECKS (settings)."""
from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError, connections

log = logging.getLogger(__name__)

_LOST = ("server closed the connection", "terminating connection", "connection already closed",
         "consuming input failed", "connection is closed", "the connection is lost", "SSL connection has been closed",
         "could not receive data from server", "connection to server")


def lost_connection(exc: BaseException) -> bool:
    if isinstance(exc, InterfaceError):
        return True
    return isinstance(exc, OperationalError) and any(text in str(exc) for text in _LOST)


class RetryOnLostConnection:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not lost_connection(exception) or getattr(request, "_aerie_retried", False):
            return None
        request._aerie_retried = True
        log.warning("database connection lost during %s %s; retrying once", request.method, request.path)
        for conn in connections.all(initialized_only=True):
            conn.close()
        return self.get_response(request)
