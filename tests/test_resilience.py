"""Work survives what production throws at it: a worker that dies mid-export or mid-scoring is
replaced by housekeeping, a request whose database connection is cut is answered anyway, and
background tasks retry a lost connection."""
import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import RequestFactory
from django.utils import timezone

from config.middleware import RetryOnLostConnection, lost_connection
from labeling.exchange import exports
from labeling import tasks
from labeling.exchange.exports import jobs
from labeling.models import Export
from tests.conftest import api_client
from tests.labels import labeled_project


def test_an_export_left_by_a_dead_worker_is_sent_again_and_completes(db, project, users):
    labeled_project(project)
    export = exports.create(project, users["trainer"], format=Export.COCO)
    # a worker took it and died: running, heartbeat long gone
    Export.objects.filter(pk=export.pk).update(status=Export.RUNNING, attempts=1,
                                               heartbeat_at=timezone.now() - timezone.timedelta(minutes=10))
    fresh = exports.create(project, users["trainer"], format=Export.MOT)  # just queued: left alone
    assert jobs.sweep() == 1  # eager here: the export runs again inline
    export.refresh_from_db()
    assert export.status == Export.DONE and export.attempts == 2 and export.sha256
    assert Export.objects.get(pk=fresh.pk).status == Export.QUEUED
    assert tasks.housekeeping()["exports_resent"] == 0


def test_db_tasks_retry_a_lost_connection():
    for task in (tasks.frame_agreement, tasks.frame_agreement_many, tasks.gold_check, tasks.gold_check_many,
                 tasks.score_chunk, tasks.finalize_scoring, tasks.export_job,
                 tasks.ingest_job):
        assert OperationalError in task.autoretry_for and task.acks_late


def test_a_request_whose_connection_was_cut_is_run_again_once():
    calls = []

    def view(request):
        calls.append(1)
        return "answered"

    middleware = RetryOnLostConnection(view)
    request = RequestFactory().post("/api/assignments/1/submit/")
    lost = OperationalError("consuming input failed: terminating connection due to administrator command")
    assert lost_connection(lost) and not lost_connection(OperationalError("deadlock detected"))
    assert middleware.process_exception(request, lost) == "answered"
    assert middleware.process_exception(request, lost) is None  # once only: then it is a real 500
    assert middleware.process_exception(RequestFactory().get("/"), ValueError("bug")) is None
    assert calls == [1]


@pytest.mark.django_db(transaction=True)
def test_a_persistent_connection_killed_by_the_server_is_replaced(project, users):
    client = api_client(users["annotator"])
    assert client.get(f"/api/projects/{project.pk}/").status_code == 200
    pid = connection.connection.info.backend_pid
    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"], user=settings["USER"], dbname="postgres",
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    assert client.get(f"/api/projects/{project.pk}/").status_code == 200
    assert connection.connection.info.backend_pid != pid


@pytest.mark.django_db(transaction=True)
def test_the_health_check_costs_no_round_trip_and_finds_a_killed_connection(monkeypatch):
    """config.postgres: a healthy idle connection is usable without asking the server; one the
    server dropped is found by its socket and replaced."""
    import select
    import time

    from config.postgres.base import PostgresDatabaseWrapper

    connection.ensure_connection()
    asked = []
    original = PostgresDatabaseWrapper.is_usable
    monkeypatch.setattr(PostgresDatabaseWrapper, "is_usable", lambda self: asked.append(1) or original(self))
    assert connection.is_usable() and asked == []
    pid = connection.connection.info.backend_pid
    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"], user=settings["USER"], dbname="postgres",
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
    socket = connection.connection.pgconn.socket
    deadline = time.monotonic() + 5
    while not select.select([socket], [], [], 0.05)[0] and time.monotonic() < deadline:
        pass
    assert not connection.is_usable() and asked == [1]  # the goodbye was read; SELECT 1 confirmed it
    connection.health_check_done = False
    connection.close_if_health_check_failed()  # what Django runs before a request's first query
    connection.ensure_connection()
    assert connection.connection.info.backend_pid != pid and connection.is_usable()
