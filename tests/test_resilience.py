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


def test_a_read_whose_connection_was_cut_is_run_again_once():
    calls = []

    def view(request):
        calls.append(1)
        return "answered"

    middleware = RetryOnLostConnection(view)
    request = RequestFactory().get("/api/projects/")
    lost = OperationalError("consuming input failed: terminating connection due to administrator command")
    assert lost_connection(lost) and not lost_connection(OperationalError("deadlock detected"))
    assert middleware.process_exception(request, lost) == "answered"
    assert middleware.process_exception(request, lost) is None  # once only: then it is a real 500
    assert middleware.process_exception(RequestFactory().get("/"), ValueError("bug")) is None
    unmarked_write = RequestFactory().post("/api/projects/")  # no view says its repeat is safe
    assert middleware.process_exception(unmarked_write, lost) is None
    assert calls == [1]


def _cut_once_after(monkeypatch, owner, name):
    """`owner.name` runs, then the connection is 'lost' (the first time only): as if PostgreSQL went
    away after the write reached it. Returns the list of calls."""
    original, calls = getattr(owner, name), []

    def wrapped(*args, **kwargs):
        calls.append(1)
        result = original(*args, **kwargs)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return result

    monkeypatch.setattr(owner, name, wrapped)
    return calls


@pytest.mark.django_db(transaction=True)
def test_the_labeling_writes_marked_retry_safe_are_run_again_and_store_nothing_twice(project, users, monkeypatch):
    from labeling.models import Annotation, Assignment, Draft
    from labeling.work import page_state, queue, submissions
    from tests.conftest import make_frames

    make_frames(project, 3)
    client = api_client(users["annotator"])
    cut = _cut_once_after(monkeypatch, page_state, "state")  # the lease was made, then the connection went
    first = client.post(f"/api/projects/{project.pk}/next/")
    assert first.status_code == 200 and len(cut) == 2
    assert Assignment.objects.filter(annotator=users["annotator"], status="active").count() == 1
    lease_id = first.data["assignment"]["id"]
    assert lease_id == Assignment.objects.get(annotator=users["annotator"]).pk

    cut = _cut_once_after(monkeypatch, queue, "renew")
    renewed = client.post(f"/api/assignments/{lease_id}/renew/")
    assert renewed.status_code == 200 and len(cut) == 2

    cut = _cut_once_after(monkeypatch, submissions, "save_draft")
    assert client.put(f"/api/assignments/{lease_id}/draft/", {"boxes": [1]}, format="json").status_code == 204
    assert len(cut) == 2 and list(Draft.objects.values_list("payload", flat=True)) == [{"boxes": [1]}]

    # the submission committed (its statement is atomic on its own), then the connection was lost
    cut = _cut_once_after(monkeypatch, submissions, "_flag_sensitive")
    box = {"class": "car", "x": 1, "y": 2, "w": 30, "h": 20}
    answered = client.post(f"/api/assignments/{lease_id}/submit/", {"boxes": [box], "tags": []}, format="json")
    assert answered.status_code == 201 and len(cut) == 1  # the repeat found the stored submission
    stored = Annotation.objects.get(assignment_id=lease_id)
    assert answered.data["id"] == stored.pk and answered.data["boxes"][0]["x"] == 1
    assert client.post(f"/api/assignments/{lease_id}/submit/", {"boxes": [], "tags": []},
                       format="json").status_code == 400  # a second submission, not a repeat: refused


@pytest.mark.django_db(transaction=True)
def test_a_write_not_marked_retry_safe_is_not_run_again(project, users, monkeypatch):
    from labeling.work import queue
    from tests.conftest import make_frames

    make_frames(project, 2)
    client = api_client(users["annotator"])
    lease_id = client.post(f"/api/projects/{project.pk}/next/").data["assignment"]["id"]
    cut = _cut_once_after(monkeypatch, queue, "skip")
    client.raise_request_exception = False
    answered = client.post(f"/api/assignments/{lease_id}/skip/", {"reason": "blurry"}, format="json")
    assert answered.status_code == 500 and len(cut) == 1  # skipping is not repeated behind the person's back


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
