"""Shared set-up for the benchmarks that drive a page in Chromium: the footage of a segment project
ingested into the bench database, aerie served by gunicorn on a free port (static files collected
first, as `make run` does), and Debian's Chromium driven by Playwright (never a downloaded one)."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time

from _setup import ROOT

PASSWORD = "bench-pass-1"
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def segment_project(name: str, archive_or_video, *, filename: str, segment_length: int, **fields):
    """A segment project on the uploaded footage (ingested here), an annotator who consented, and
    the demo ontology. Returns (project, annotator, frames)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.files.uploadedfile import SimpleUploadedFile

    from labeling.access.roles import ensure_roles
    from labeling.demo import ensure_ontology
    from labeling.footage import ingest
    from labeling.models import Dataset, Membership, Project
    from labeling.protection import policy as protection_policy
    from labeling.protection import state as protection_state
    from labeling.work import projects

    ensure_roles()
    admin = get_user_model().objects.create_user("bench-admin", password=PASSWORD, is_staff=True)
    admin.groups.add(Group.objects.get(name="admin"))
    annotator = get_user_model().objects.create_user("bench-annotator", password=PASSWORD)
    annotator.groups.add(Group.objects.get(name="annotator"))
    protection_state.set_consent(annotator, True, protection_policy.consent_version())
    dataset = Dataset.objects.create(name=name)
    job = ingest.run_job(ingest.create_job(dataset, SimpleUploadedFile(filename, archive_or_video),
                                           sequence_name="clip", enqueue=False).pk)
    assert job.status == "done", job.message
    project = projects.save_project(Project(name=name, dataset=dataset, ontology_version=ensure_ontology(),
                                            work_unit="segment", segment_length=segment_length, segment_shared=5,
                                            **fields), admin)
    Membership.objects.create(project=project, user=annotator)
    redact(dataset)
    return project, annotator, list(job.sequence.frames.order_by("index"))


def redact(dataset) -> None:
    """The redaction job over the dataset, here and now, as a worker runs it after ingest: the
    pages then serve derived frames already made, as they do in a running installation."""
    from labeling.redaction import runs

    run = runs.start_run(dataset, reason="bench")
    for chunk in runs.pending_chunks(run.pk):
        runs.process_chunk(chunk, "bench")
    runs.finalize(run.pk)


@contextlib.contextmanager
def served(worker: bool = False):
    """gunicorn serving aerie with the bench's environment (and a Celery worker, for the pages that
    start background jobs); yields its base URL."""
    from django.db import connections

    connections.close_all()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                   check=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
                               "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                               "--log-level", "warning"], cwd=ROOT, env=env)
    celery = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "WARNING",
                               "--concurrency", "1"], cwd=ROOT, env=env) if worker else None
    try:
        for _ in range(150):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in (server, celery):
            if process is not None:
                process.terminate()
                process.wait(30)


@contextlib.contextmanager
def signed_in(base: str, username: str):
    """A Chromium page at 1366×768, signed in as `username`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{base}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        try:
            yield page
        finally:
            browser.close()


def wait_until(page, expression: str, timeout: float = 30.0, every: float = 0.05) -> None:
    """Poll a page expression until it is true (the page's CSP forbids Playwright's
    wait_for_function, which evaluates a string in the page; `evaluate` goes through the
    debugger protocol instead)."""
    end = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > end:
            raise TimeoutError(f"{expression} did not become true within {timeout} s")
        time.sleep(every)
