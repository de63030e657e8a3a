"""The role the application runs as owns nothing: it does the whole labeling cycle, but cannot
TRUNCATE, UPDATE or DELETE the audit trail and history, nor switch their triggers off."""
from __future__ import annotations

import os
from contextlib import contextmanager
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, ProgrammingError, connection, transaction

from labeling import audit
from labeling.work import queue, submissions
from labeling.audit import chain
from labeling.models import AuditEvent, Exposure
from tests.conftest import make_frames


@pytest.fixture
def app_role(db):
    """Created inside the test's transaction: rolled back with it (a per-worker name, so that two
    test processes do not wait on each other's uncommitted role)."""
    name = f"aerie_test_app_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    out = StringIO()
    call_command("app_role", name, stdout=out)
    assert f"role {name}:" in out.getvalue() and "labeling_auditevent" in out.getvalue()
    return name


@contextmanager
def acting_as(role):
    with connection.cursor() as cur:
        cur.execute(f'SET ROLE "{role}"')
    try:
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute("RESET ROLE")


def refused(sql, params=(), error=ProgrammingError, match="permission denied|must be owner"):
    with pytest.raises(error, match=match), transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql, params)


def test_the_app_role_labels_but_cannot_rewrite_history(app_role, project, users):
    make_frames(project, 2)
    earlier = audit.record(users["admin"], "test.before", None, {})
    with acting_as(app_role):
        lease = queue.next_assignment(project, users["annotator"])
        annotation = submissions.submit(lease, users["annotator"], {"boxes": [], "tags": []}).annotation
        assert chain.link_pending() >= 2  # the chain is linked by the app role too
        event = AuditEvent.objects.get(verb="annotation.submit", object_id=str(annotation.pk))
        exposure = Exposure.objects.create(user=users["annotator"], project=project, frame=lease.frame,
                                           kind=Exposure.REVEAL, started_at=earlier.at)
        Exposure.objects.filter(pk=exposure.pk).update(duration_s=1.2)  # ending a reveal is an update

        for table in ("labeling_auditevent", "labeling_auditlink", "labeling_annotation", "labeling_exposure"):
            refused(f"TRUNCATE {table} CASCADE")
            refused(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
        refused("UPDATE labeling_auditevent SET verb = 'x' WHERE id = %s", [event.pk])
        refused("DELETE FROM labeling_auditevent WHERE id = %s", [event.pk])
        refused("DELETE FROM labeling_auditlink")
        refused("DELETE FROM labeling_annotation WHERE id = %s", [annotation.pk])
        refused("DELETE FROM labeling_exposure WHERE id = %s", [exposure.pk])
        refused("DROP TABLE labeling_auditseal")
        refused("SET session_replication_role = replica", match="permission denied")
        refused("DELETE FROM django_migrations")
    report = chain.verify()
    assert report.ok, report.problems
    assert AuditEvent.objects.filter(pk=event.pk, verb="annotation.submit").exists()


def test_the_command_refuses_a_superuser_and_an_owner(db):
    with connection.cursor() as cur:
        cur.execute("SELECT current_user")
        owner = cur.fetchone()[0]
    with pytest.raises(CommandError, match="superuser|owns tables"), transaction.atomic():
        call_command("app_role", owner, stdout=StringIO())
    with pytest.raises(CommandError, match="AERIE_NO_SUCH_VAR"):
        call_command("app_role", "aerie_x", "--password-env", "AERIE_NO_SUCH_VAR", stdout=StringIO())
