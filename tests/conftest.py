from __future__ import annotations

import os
import socket

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from celery.signals import task_postrun
from django.db import connections
from rest_framework.test import APIClient

from labeling.models import Dataset, Membership, Project
from labeling.access.roles import ensure_roles
from ontology import services as ontology_services
from ontology.models import LabelClass
from tests.s3server import s3_server, s3_storage  # noqa: F401  (fixtures: an S3-protocol server, a bucket)


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """Django's default hasher spends ~0.3 s of CPU on each password on purpose; every test makes
    several users. The tests check who may sign in, not the cost of guessing a password."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _threads_per_worker() -> int:
    """This process's share of the cores: `make test` runs one process per core (pytest-xdist)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return max(1, (os.cpu_count() or 1) // workers)


@pytest.fixture(autouse=True, scope="session")
def cpu_share():
    """torch, onnxruntime and OpenCV each start one thread per core by default, and their pools
    spin while they wait: with one test process per core, two processes' pools oversubscribe the
    cores and both run slower than on their own share. Each test process keeps to its share (a
    setting or variable given explicitly wins)."""
    from django.conf import settings

    threads = _threads_per_worker()
    os.environ.setdefault("AERIE_REDACTION_THREADS", str(threads))  # read when the face detector loads
    if not settings.AERIE_TORCH_THREADS:
        settings.AERIE_TORCH_THREADS = threads
    import cv2
    import torch

    torch.set_num_threads(settings.AERIE_TORCH_THREADS)
    cv2.setNumThreads(threads)


@pytest.fixture(autouse=True, scope="session")
def face_detector_loaded(cpu_share):
    """The face detector (labeling.redaction.faces) is loaded once per test process, before any
    test: a page's first image without raw access would otherwise load it inside a request."""
    from labeling.redaction import faces

    faces.session()


def signing_key_paths(tmp_path_factory) -> tuple:
    """(key file, key directory) of the test process's signing keys. One for the whole process:
    the keyring lives in the database, so a world built once per module (test_demo,
    permission_world) and its tests must find the same private keys."""
    base = tmp_path_factory.getbasetemp() / "signing-keys"
    return base / "test-ed25519.pem", base


@pytest.fixture(autouse=True)
def isolated_media(settings, tmp_path, tmp_path_factory):
    """Each test writes frames and uploads into its own temporary directory."""
    media = tmp_path / "media"
    settings.MEDIA_ROOT = media
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(media)}},
    }
    settings.AERIE_UPLOAD_DIR = tmp_path / "uploads"
    settings.AERIE_SIGNING_KEY_FILE, settings.AERIE_SIGNING_KEY_DIR = signing_key_paths(tmp_path_factory)
    return media


@pytest.fixture(autouse=True)
def eager_background_work():
    """Outside the tests about background work (which use `celery_worker_app`), tasks run inline
    when they are sent, so no test leaves messages on a broker that a dev worker might consume."""
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def quiet_database_before_flush(request):
    """A transactional test's database is emptied by a TRUNCATE after it; a request thread of the
    live server still serving the browser's last image (or a worker's last task) would deadlock
    with it, and the leftover rows would fail the tests after. Wait (up to 30 s) until no other
    connection to the test database is running a statement or holds a transaction open."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    import time

    deadline = time.monotonic() + 30
    try:
        with connections["default"].cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')")
                if not cur.fetchone()[0]:
                    return
                time.sleep(0.05)
    except RuntimeError:  # database access already blocked: nothing of this test runs
        return


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def celery_worker_app(transactional_db, tmp_path):
    """A real Celery worker (a thread in this process) on a real broker: Redis where one answers
    on 127.0.0.1:6379, else Celery's filesystem transport."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    old = {k: app.conf.get(k) for k in ("broker_url", "broker_transport_options")}
    if _redis_answers():
        # one Redis database per xdist worker: a worker thread must never take another test run's task
        worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
        app.conf.broker_url = f"redis://127.0.0.1:6379/{int(os.environ.get('AERIE_TEST_REDIS_DB', '15')) - worker}"
        app.conf.broker_transport_options = {}
    else:
        folder = tmp_path / "broker"
        (folder / "q").mkdir(parents=True)
        app.conf.broker_url = "filesystem://"
        app.conf.broker_transport_options = {"data_folder_in": str(folder / "q"), "data_folder_out": str(folder / "q")}
    app.conf.result_backend = None
    app.conf.task_ignore_result = True
    app.conf.task_always_eager = False
    _drop_connection_pools(app)  # pools made earlier would still point at the old broker
    with app.connection_for_write() as conn:  # a worker must start on an empty queue
        try:
            conn.default_channel.queue_purge("celery")
        except Exception:  # noqa: BLE001 - the queue may not exist yet
            pass
    # The worker thread closes its database connection after each task, as a worker process
    # would on exit; an open one would keep the test database from being dropped.
    task_postrun.connect(_close_thread_connections)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield app
    finally:
        task_postrun.disconnect(_close_thread_connections)
        app.conf.update(old)
        _drop_connection_pools(app)


def _drop_connection_pools(app) -> None:
    """Forget the app's pools (as Celery does after a fork), so the next message goes through a
    pool for the broker now configured. They stay open in kombu's registry for their broker."""
    app._pool = None
    app.amqp._producer_pool = None


def _close_thread_connections(**_):
    connections.close_all()


@pytest.fixture
def make_user(db):
    ensure_roles()
    User = get_user_model()

    def make(username: str, role: str | None = None, **extra):
        user = User.objects.create_user(username=username, password="correct-horse-battery", **extra)
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def users(make_user):
    return {
        "admin": make_user("boss", "admin", is_staff=True),
        "annotator": make_user("ann", "annotator"),
        "qa": make_user("quinn", "qa_lead"),
        "trainer": make_user("tess", "trainer"),
        "outsider": make_user("olga", "annotator"),
    }


@pytest.fixture
def published_version(db):
    version = ontology_services.create_ontology("Test ontology")
    ontology_services.add_class(version, key="person", name="Person", kind=LabelClass.BOX, shortcut="1",
                                attributes=[{"key": "posture", "type": "enum", "options": ["standing", "lying"]}])
    ontology_services.add_class(version, key="car", name="Car", kind=LabelClass.BOX, shortcut="2")
    ontology_services.add_class(version, key="truck", name="Truck", kind=LabelClass.BOX, shortcut="3")
    ontology_services.add_class(version, key="crowd", name="Crowd", kind=LabelClass.TAG, shortcut="c")
    return ontology_services.publish(version)


@pytest.fixture
def project(db, users, published_version):
    dataset = Dataset.objects.create(name="Test footage")
    project = Project.objects.create(name="Test project", dataset=dataset, ontology_version=published_version)
    for key in ("admin", "annotator", "qa", "trainer"):
        Membership.objects.create(project=project, user=users[key])
    other_dataset = Dataset.objects.create(name="Someone else's footage")
    other = Project.objects.create(name="Other project", dataset=other_dataset, ontology_version=published_version)
    Membership.objects.create(project=other, user=users["outsider"])
    return project


def api_client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)  # the API
        client.force_login(user)  # the pages (frame images)
    return client


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = __import__("pathlib").Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def page(monkeypatch):
    """A page in Debian's Chromium, driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        context.set_default_timeout(20_000)
        page = context.new_page()
        # Every page must work under aerie's Content-Security-Policy: a refused script, style or
        # image fails the test that met it.
        refused = []
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        page.csp_refused = refused  # a test that provokes a refusal on purpose takes it out
        yield page
        context.close()
        browser.close()
        assert not refused, f"the Content-Security-Policy refused: {refused}"


@pytest.fixture(scope="session")
def live_server(django_db_setup, django_db_blocker):
    """pytest-django's live server, stopped before the test database is dropped (its own
    fixture does not depend on the database, so it could outlive it and hold a connection)."""
    from pytest_django.live_server_helper import LiveServer

    with django_db_blocker.unblock():
        server = LiveServer("localhost")
    yield server
    server.stop()
    # Request threads end when the browser's keep-alive sockets close, which can be after this;
    # their connections would keep the test database from being dropped.
    with django_db_blocker.unblock(), connections["default"].cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")


@pytest.fixture
def login(page, live_server):
    def do(user, password="correct-horse-battery"):
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return page

    return do



def make_frames(project, count: int, *, sequence_name: str = "seq", width: int = 640, height: int = 480,
                sensitive=()):
    """Frame rows (no image files) in a ready sequence of the project's dataset, queued."""
    from labeling.work import queue
    from labeling.models import Frame, Sequence

    seq = Sequence.objects.create(dataset=project.dataset, name=sequence_name, kind=Sequence.VIDEO,
                                  status=Sequence.READY, source_name=f"{sequence_name}.mp4", source_sha256="0" * 64,
                                  source_size=1, width=width, height=height, frame_count=count)
    Frame.objects.bulk_create(
        Frame(sequence=seq, index=i, source_index=i, sha256=f"{seq.pk:08d}{i:056d}", width=width, height=height,
              sensitive=i in sensitive)
        for i in range(count)
    )
    queue.sync_queue(project)
    return list(seq.frames.order_by("index"))
