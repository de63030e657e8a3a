"""Requests survive a lost database connection.

When PostgreSQL drops a connection (a restart, a failover, an administrator's
pg_terminate_backend), a request whose query was in flight fails with OperationalError or
InterfaceError. Its transaction was rolled back with the connection — or, if the connection
died during COMMIT, the commit may have happened. So a request is run once more on a fresh
connection instead of answering 500 only where running it twice is safe whatever happened to the
first try:
- reads (GET, HEAD, OPTIONS);
- writes whose view is marked `@retry_safe` because repeating them is idempotent by construction
  (the labeling page's next frame, lease renewal, draft autosave and submit: see each view, and
  tests/test_resilience.py, which runs each one twice).
Every other write answers 500 and is not repeated: the person can retry it knowingly. Idle
connections that died are replaced before use by the health check (config/postgres)."""
from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError, connections

log = logging.getLogger(__name__)

_LOST = ("server closed the connection", "terminating connection", "connection already closed",
         "consuming input failed", "connection is closed", "the connection is lost", "SSL connection has been closed",
         "could not receive data from server", "connection to server")


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def retry_safe(handler):
    """Mark a view function or method (an APIView's `post`, a viewset action) whose repeat is
    idempotent by construction, so a request cut by a lost connection may run it again."""
    handler.retry_on_lost_connection = True
    return handler


def repeatable(request) -> bool:
    """May this request run again after a lost connection?"""
    if request.method in SAFE_METHODS:
        return True
    match = getattr(request, "resolver_match", None)
    func = getattr(match, "func", None)
    if func is None:
        return False
    if getattr(func, "retry_on_lost_connection", False):
        return True
    view_class = getattr(func, "view_class", None) or getattr(func, "cls", None)
    actions = getattr(func, "actions", None) or {}  # a viewset: method -> action name
    name = actions.get(request.method.lower(), request.method.lower())
    handler = getattr(view_class, name, None) if view_class else None
    return bool(getattr(handler, "retry_on_lost_connection", False))


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
        if not lost_connection(exception) or getattr(request, "_aerie_retried", False) or not repeatable(request):
            return None
        request._aerie_retried = True
        log.warning("database connection lost during %s %s; retrying once", request.method, request.path)
        for conn in connections.all(initialized_only=True):
            conn.close()
        return self.get_response(request)
