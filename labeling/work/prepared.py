"""Hot statements as server-side prepared statements.

Django's psycopg backend binds parameters on the client, so PostgreSQL plans every statement
afresh; for the few statements on every labeling request (next frame, submit, track context) the
planning costs more than running them. These run through a server-binding psycopg cursor on
Django's own connection (same transaction, same settings) with `prepare=True`: each process plans
them once per connection.

`AERIE_PREPARED_STATEMENTS=false` runs them unprepared (`prepare=False`: never prepared): for a pooler that hands a client's statements to any server connection
without carrying prepared statements along (PgBouncer older than 1.21 in transaction mode)."""
from __future__ import annotations

from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections


def _cursor(db) -> psycopg.Cursor:
    """The connection's cursor for hot statements, made once per database connection: a cursor
    brings its own adapters map and transformer, more work than running a prepared statement's
    client side. Each statement's rows are fetched before the next one runs."""
    db.ensure_connection()
    raw = db.connection
    cursor = getattr(db, "_aerie_hot_cursor", None)
    if cursor is None or cursor.connection is not raw or cursor.closed:
        cursor = db._aerie_hot_cursor = psycopg.Cursor(raw)
    return cursor


def _run(db, sql: str, params) -> psycopg.Cursor:
    cursor = _cursor(db)
    with db.wrap_database_errors:  # psycopg's errors as Django's, like every other query
        cursor.execute(sql, params, prepare=bool(settings.AERIE_PREPARED_STATEMENTS))
    return cursor


def run(sql: str, params: dict | list) -> psycopg.Cursor:
    """Run `sql` (psycopg placeholders: %(name)s or %s) prepared (unless the setting says not to);
    returns the connection's hot cursor, to fetch from before the next statement."""
    return _run(connections[DEFAULT_DB_ALIAS], sql, params)


def fetchall(sql: str, params) -> list[tuple]:
    db = connections[DEFAULT_DB_ALIAS]  # this thread's connection, looked up once
    cursor = _run(db, sql, params)
    with db.wrap_database_errors:
        return cursor.fetchall()


def fetchone(sql: str, params) -> tuple | None:
    db = connections[DEFAULT_DB_ALIAS]
    cursor = _run(db, sql, params)
    with db.wrap_database_errors:
        return cursor.fetchone()


@contextmanager
def pipeline():
    """Send what runs inside in psycopg's pipeline mode: a statement whose answer nobody waits
    for (the BEGIN that psycopg sends before a transaction's first statement, a write followed by
    a read) leaves together with the next one, in one round trip; fetching a result syncs.
    Keep it to statements read by fetch: a cursor's rowcount is not known before the sync."""
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield
