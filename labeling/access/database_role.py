"""The database role the application should run as: one that does not own the tables.

The tables' owner (who runs the migrations) can do anything to them, triggers or not: TRUNCATE
a table (row triggers never fire for it), disable a trigger, drop one. The append-only triggers
stop UPDATE and DELETE of history for whoever connects; privileges are what stop the rest. So
the web server and the workers should connect as a role that:

- may read and write the working tables (SELECT, INSERT, UPDATE, DELETE), nothing more;
- may only SELECT and INSERT the append-only ones (history, audit events, chain links, seals),
  and only SELECT, INSERT and UPDATE those that refuse DELETE alone (exposures);
- owns nothing, so it can neither TRUNCATE nor ALTER nor DROP anything.

`grant_app_role` grants exactly that for the tables that exist now (run it again after a
migration adds tables); `python manage.py app_role NAME` is the command."""
from __future__ import annotations

from django.db import connection
from psycopg import sql

# pg_trigger.tgtype bits (PostgreSQL's include/catalog/pg_trigger.h)
_TRIGGER_DELETE = 1 << 3
_TRIGGER_UPDATE = 1 << 4


def append_only_tables() -> dict[str, set[str]]:
    """Each table with an append-only trigger -> the operations that trigger refuses."""
    with connection.cursor() as cur:
        cur.execute(
            """SELECT c.relname, t.tgtype FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
               JOIN pg_proc p ON p.oid = t.tgfoid
               WHERE p.proname = 'aerie_append_only' AND NOT t.tgisinternal""")
        refused: dict[str, set[str]] = {}
        for table, tgtype in cur.fetchall():
            ops = refused.setdefault(table, set())
            if tgtype & _TRIGGER_UPDATE:
                ops.add("UPDATE")
            if tgtype & _TRIGGER_DELETE:
                ops.add("DELETE")
        return refused


def app_tables() -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
        return [row[0] for row in cur.fetchall()]


def grant_app_role(role: str, password: str | None = None) -> dict[str, list[str]]:
    """Create `role` if it is missing (LOGIN, no other attribute) and grant it what the
    application needs; returns table -> privileges granted. Refuses a role that owns tables."""
    refused = append_only_tables()
    granted: dict[str, list[str]] = {}
    with connection.cursor() as cur:
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
        row = cur.fetchone()
        if row is None:
            cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        elif row[0]:
            raise ValueError(f"role {role!r} is a superuser: it can do anything, whatever is granted")
        if password:
            cur.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
        cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tableowner = %s", [role])
        if cur.fetchone()[0]:
            raise ValueError(f"role {role!r} owns tables: run the application as a role that owns none")
        ident = sql.Identifier(role)
        cur.execute("SELECT current_schema()")
        schema = sql.Identifier(cur.fetchone()[0])
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, ident))
        for table in app_tables():
            privileges = [p for p in ("SELECT", "INSERT", "UPDATE", "DELETE") if p not in refused.get(table, ())]
            if table == "django_migrations":
                privileges = ["SELECT"]  # migrations are the owner's work
            target = sql.Identifier(table)
            cur.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(target, ident))
            cur.execute(sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(", ").join(sql.SQL(p) for p in privileges), target, ident))
            granted[table] = privileges
        cur.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(schema, ident))
    return granted
