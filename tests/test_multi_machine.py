"""aerie with its parts on several machines: two web servers and two Celery workers (and beat),
each started from a folder of its own with no shared local media, sharing only PostgreSQL
(through PgBouncer in transaction mode), a broker (RabbitMQ in one run, Redis in the other) and an
S3-protocol object store. The whole life of a dataset crosses them: upload through web server A,
ingest on whichever worker takes it, labeling through both web servers, agreement, a scoring run
whose chunks both workers share (one of them killed mid-run: the other finishes it), an export
built by a worker and downloaded through web server B, and the operator's verify_export,
verify_manifest and verify_audit. tests/cluster.py starts the machines."""
from __future__ import annotations

import functools
import http.cookiejar
import io
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from rest_framework.authtoken.models import Token

from labeling.footage import crypto
from labeling.models import (Annotation, AuditEvent, IngestJob, Membership, ModelVersion, ScoringChunk,
                             ScoringRun)
from labeling.sampling import registry, training
from tests import cluster, media, s3server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.multimachine]

BOX = {"class": "person", "x": 40, "y": 30, "w": 30, "h": 40, "attributes": {"posture": "standing"}}
FRAMES = 60
CHUNK = 3
ARCHITECTURE = "ssdlite320_mobilenet_v3_large"  # the smallest detector aerie takes (14 MB of weights)


class Api:
    """A client of one web server, signed in with a token."""

    def __init__(self, base: str, token: str):
        self.base, self.token = base, token

    def call(self, method: str, path: str, body=None, *, files=None, raw: bool = False, expect=(200, 201, 202)):
        headers = {"Authorization": f"Token {self.token}"}
        data = None
        if files is not None:
            boundary = uuid.uuid4().hex
            data = _multipart(boundary, body or {}, files)
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                status, content = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, content = exc.code, exc.read()
        assert status in expect, f"{method} {self.base}{path}: {status} {content[:2000]!r}"
        if raw:
            return content
        return json.loads(content) if content else None


class Session:
    """A person signed in through one web server's sign-in page; the session cookie then works on
    every web server (sessions live in the database)."""

    def __init__(self, base: str, username: str, password: str = "correct-horse-battery"):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        page = self.opener.open(f"{base}/login/", timeout=30).read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": username, "password": password,
                                       "csrfmiddlewaretoken": csrf}).encode()
        request = urllib.request.Request(f"{base}/login/", data=form, headers={"Referer": f"{base}/login/"})
        with self.opener.open(request, timeout=30) as answer:
            assert answer.url.rstrip("/") == base, f"not signed in: ended at {answer.url}"

    def get(self, url: str) -> tuple[int, str, bytes]:
        with self.opener.open(url, timeout=120) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read()


def _multipart(boundary: str, fields: dict, files: dict) -> bytes:
    out = io.BytesIO()
    for key, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    for key, (name, content) in files.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{name}"\r\n'
                  "Content-Type: application/octet-stream\r\n\r\n".encode())
        out.write(content)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


# messages an earlier, interrupted run left on the broker go first (a queue not declared yet is fine)
PURGE = """
from config.celery import app
for name in ("celery", "bulk"):
    with app.connection_for_write() as conn:
        try:
            conn.default_channel.queue_purge(name)
        except Exception as exc:
            print(name, "not purged:", exc)
"""


# the operator's checks in one process (each a manage.py command; one start-up instead of three)
VERIFY = """
from django.core.management import call_command
for args in (("verify_export", "{export}"), ("verify_manifest", "{version}"), ("verify_audit",)):
    call_command(*args)  # each raises CommandError (exit status 1) when something does not verify
    print("verified:", args[0])
"""


def _broker(kind: str) -> str:
    if kind == "rabbitmq":
        return "amqp://guest:guest@127.0.0.1:5672//"
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
    return f"redis://127.0.0.1:6379/{int(os.environ.get('AERIE_TEST_REDIS_DB', '15')) - 4 - worker}"


@pytest.fixture
def machines(request, transactional_db, tmp_path, s3_server, project, users):
    """The shared services and the machines, stopped (and the pooler with them) before the test
    database is emptied."""
    broker = request.param
    port = 5672 if broker == "rabbitmq" else 6379
    if not cluster.answers(port):  # a fresh machine has neither; this one and CI have both
        pytest.skip(f"no {broker} answers on 127.0.0.1:{port}: the multi-machine run on {broker} needs one")
    begun = time.monotonic()
    bucket = f"aerie-mm-{uuid.uuid4().hex[:10]}"
    s3server.s3_client(s3_server).create_bucket(Bucket=bucket)
    signing_key = Path(settings.AERIE_SIGNING_KEY_FILE)
    registry.sign(b"make the key file", ARCHITECTURE, ["person"])  # the installation's key exists before the machines
    data_key = tmp_path / "data.key"
    crypto.generate_key_file(data_key)
    started: list[cluster.Process] = []
    try:
        bouncer = cluster.PgBouncer.start(tmp_path / "pgbouncer", connection.settings_dict)
        started.append(bouncer)
        shared = cluster.Shared(
            database_url=f"postgres://{connection.settings_dict['USER'] or 'postgres'}@127.0.0.1:{bouncer.port}/"
                         f"{connection.settings_dict['NAME']}",
            broker_url=_broker(broker), s3_endpoint=s3_server, bucket=bucket, signing_key=signing_key,
            data_key=data_key, extra={"AERIE_SCORING_CHUNK": str(CHUNK), "AERIE_SCORING_STALE_S": "3",
                                      "AERIE_SCORING_SWEEP_S": "1", "AERIE_AUDIT_LINK_EVERY_S": "1",
                                      "AERIE_EXPORT_STALE_S": "30"})
        ops = tmp_path / "operator"
        purged = cluster.manage(shared.environment(ops), ops, "shell", "-c", PURGE)
        assert purged.returncode == 0, purged.stderr[-2000:]
        world = {"shared": shared, "ops": ops, "broker": broker, "bucket": bucket}
        for name, kind in (("web-a", cluster.Web), ("web-b", cluster.Web), ("worker-a", cluster.Worker),
                           ("worker-b", cluster.Worker), ("beat", cluster.Beat)):
            world[name] = kind.spawn(name, shared.environment(tmp_path / name), tmp_path / name)
            started.append(world[name])
        cluster.wait_ready(started[1:])  # the pooler answered already
        print(f"machines started in {time.monotonic() - begun:.1f} s")
        yield world
    finally:
        for process in reversed(started):
            process.kill()  # nothing is left to finish: as fast as a power cut
        connection.close()


@functools.cache
def _weights(classes: int) -> bytes:
    """An untrained detector's weights (the same for both runs: made once)."""
    import torch

    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.save(registry.build(ARCHITECTURE, classes).state_dict(), buffer)
    return buffer.getvalue()


_T0 = [time.monotonic()]


def _phase(name: str) -> None:
    """Where the test's time goes (printed with -s)."""
    now = time.monotonic()
    print(f"[{now - _T0[0]:6.1f} s] {name}")


def _wait(check, timeout=120, what="", interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not within {timeout} s: {what}")


def _no_local_media(world) -> None:
    """No machine wrote a frame, rendition, upload or export into its own folder: all of it is in
    the bucket."""
    for name in ("web-a", "web-b", "worker-a", "worker-b"):
        folder = world[name].folder / "var"
        kept = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
        assert kept == [], f"{name} kept files of its own: {kept[:10]}"


@pytest.mark.parametrize("machines", ["rabbitmq", "redis"], indirect=True)
def test_the_life_of_a_dataset_across_two_web_servers_and_two_workers(machines, project, users, make_user,
                                                                       tmp_path):
    world = machines
    _T0[0] = time.monotonic()
    a, b = world["web-a"], world["web-b"]
    project.gold_rate = 0
    project.save(update_fields=["gold_rate"])
    second = make_user("ann2", "annotator")
    Membership.objects.create(project=project, user=second)
    token = {key: Token.objects.create(user=user).key for key, user in
             (("admin", users["admin"]), ("ann", users["annotator"]), ("ann2", second), ("trainer", users["trainer"]))}

    _phase("upload through web server A; a worker ")
    # upload through web server A; a worker ingests it from the bucket
    video = media.synthetic_video(tmp_path / "flight.ts", frames=FRAMES, fps=10, size=(160, 120))
    admin_a, admin_b = Api(a.url, token["admin"]), Api(b.url, token["admin"])
    job = admin_a.call("POST", f"/api/datasets/{project.dataset_id}/ingest/", {"sequence_name": "flight"},
                       files={"file": ("flight.ts", video.read_bytes())})
    done = _wait(lambda: (j := admin_b.call("GET", f"/api/ingest-jobs/{job['id']}/"))["status"] in
                 ("done", "failed", "partial") and j, 120, "the ingest")
    assert done["status"] == "done", done
    assert IngestJob.objects.get(pk=job["id"]).sequence.frames.count() == FRAMES
    uploads = s3server.keys(world["bucket"], "uploads/")
    assert uploads == set(), uploads  # the upload waited in the bucket and is gone once ingested
    frames = s3server.keys(world["bucket"], "frames/")
    assert len(frames) == FRAMES
    body = s3server.s3_client().get_object(Bucket=world["bucket"], Key=sorted(frames)[0])["Body"].read()
    assert crypto.is_encrypted(body)  # raw footage encrypted at rest in the bucket

    _phase("labeling through both web servers: one")
    # labeling through both web servers: one annotator on each, the same frames
    labeled = {}
    for who, server in (("ann", a), ("ann2", b)):
        api = Api(server.url, token[who])
        for _ in range(4):
            lease = api.call("POST", f"/api/projects/{project.pk}/next/")
            assignment = lease["assignment"]["id"]
            api.call("POST", f"/api/assignments/{assignment}/submit/", {"boxes": [BOX], "tags": []})
            labeled.setdefault(lease["frame"]["id"], set()).add(who)
    _phase("a frame image, read from the bucket, t")
    # a frame image, read from the bucket, through web server B for someone who signed in on A
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        users["annotator"].set_password("correct-horse-battery")  # as the servers hash (the tests use MD5)
        users["annotator"].save(update_fields=["password"])
    person = Session(a.url, "ann")
    status, kind, image = person.get(b.url + lease["frame"]["image_url"].replace(b.url, ""))
    assert (status, kind, image[:3]) == (200, "image/jpeg", b"\xff\xd8\xff")
    both = {frame for frame, who in labeled.items() if who == {"ann", "ann2"}}
    assert both, labeled

    _phase("agreement runs on a worker: the frames")
    # agreement runs on a worker: the frames both labeled alike are approved by consensus
    _wait(lambda: Annotation.objects.filter(frame_id__in=both, status=Annotation.APPROVED)
          .values("frame_id").distinct().count() == len(both), 60, "consensus on the frames both labeled")

    _phase("a detector uploaded through web server")
    # a detector uploaded through web server B becomes current: a scoring run both workers share
    class_map = training.class_map_for(project, ModelVersion.DETECTOR)
    weights = _weights(len(class_map))
    trainer_b = Api(b.url, token["admin"])
    model = trainer_b.call("POST", f"/api/projects/{project.pk}/models/", {
        "architecture": ARCHITECTURE, "class_map": json.dumps(class_map),
        "signature": registry.sign(weights, ARCHITECTURE, class_map)}, files={"file": ("ssd.pt", weights)})
    _phase("model uploaded")
    trainer_b.call("POST", f"/api/projects/{project.pk}/models/{model['id']}/current/")
    run = _wait(lambda: ScoringRun.objects.filter(project=project, detector_id=model["id"]).first(), 60,
                "the scoring run")
    _phase("scoring run started")
    pid = {name: world[name].pid for name in ("worker-a", "worker-b")}

    def done_by(name):
        return ScoringChunk.objects.filter(run=run, status="done", claimed_by__contains=f":{pid[name]}:").count()

    def holding(name):
        return list(ScoringChunk.objects.filter(run=run, status="claimed", claimed_by__contains=f":{pid[name]}:")
                    .values_list("pk", flat=True))

    # worker B dies in the middle of a chunk, after it finished one (both shared the run)
    held = _wait(lambda: done_by("worker-a") and done_by("worker-b") and holding("worker-b"), 180,
                 "both workers scoring chunks, worker B holding one")
    _phase("worker B killed")
    world["worker-b"].kill()
    killed_at = time.monotonic()
    assert ScoringRun.objects.get(pk=run.pk).status == ScoringRun.RUNNING, "the run ended before the kill"
    assert ScoringChunk.objects.get(pk=held[0]).status == "claimed"  # B died holding it, unfinished
    finished = _wait(lambda: ScoringRun.objects.filter(pk=run.pk, status__in=[ScoringRun.DONE, ScoringRun.FAILED])
                     .first(), 240, "the run finishing after worker B died")
    assert finished.status == ScoringRun.DONE, finished.message if hasattr(finished, "message") else finished
    chunks = list(ScoringChunk.objects.filter(run=run))
    assert all(c.status == "done" for c in chunks)
    assert finished.chunks_done == finished.chunks_total == len(chunks) > 4
    by_b = [c for c in chunks if f":{pid['worker-b']}:" in c.claimed_by]
    by_a = [c for c in chunks if f":{pid['worker-a']}:" in c.claimed_by]
    assert by_a and by_b and len(by_a) + len(by_b) == len(chunks)
    for chunk_id in held:  # what B held when it died was finished by A
        assert ScoringChunk.objects.get(pk=chunk_id).claimed_by.split(":")[1] == str(pid["worker-a"])
    print(f"scoring: {len(chunks)} chunks, worker A {len(by_a)}, worker B {len(by_b)} before it was killed, "
          f"held {len(held)}, run finished {time.monotonic() - killed_at:.1f} s after the kill")

    _phase("a dataset version (signed manifest) th")
    # a dataset version (signed manifest) through A; an export built by the remaining worker and
    # downloaded through web server B
    version = admin_a.call("POST", f"/api/datasets/{project.dataset_id}/versions/", {"note": "multi-machine"})
    export = admin_a.call("POST", f"/api/projects/{project.pk}/exports/", {
        "format": "coco", "scope": "approved", "include_images": True, "dataset_version": version["id"]})
    built = _wait(lambda: (e := admin_b.call("GET", f"/api/projects/{project.pk}/exports/{export['id']}/"))
                  ["status"] in ("done", "failed") and e, 120, "the export")
    assert built["status"] == "done", built
    archive = admin_b.call("GET", f"/api/projects/{project.pk}/exports/{export['id']}/download/", raw=True)
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        coco = json.loads(opened.read(next(n for n in opened.namelist() if n.endswith(".json")
                                           and "annotations" in n)))
        images = [n for n in opened.namelist() if n.startswith("images/")]
    assert len(coco["annotations"]) == len(both) and len(images) == len(both)
    assert AuditEvent.objects.filter(verb="export.download", object_id=str(export["id"])).exists()

    _phase("the operator's checks, on a machine of")
    # the operator's checks, on a machine of their own with the shared settings
    saved = tmp_path / "export.zip"
    saved.write_bytes(archive)
    checked = cluster.manage(world["shared"].environment(world["ops"]), world["ops"], "shell", "-c", VERIFY.format(
        export=saved, version=version["id"]))
    assert checked.returncode == 0, f"{checked.stdout[-3000:]}{checked.stderr[-3000:]}"
    assert checked.stdout.count("verified:") == 3, checked.stdout[-3000:]
    _no_local_media(world)
    _phase("done")
