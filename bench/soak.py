"""Soak: 50 annotators on loopback for 10 minutes while things break underneath them.

Set-up (not timed), on a throw-away database:
- the labeling project: BENCH_SOAK_FRAMES (40,000) frames whose pixels are the real vtest.avi
  frames (content-addressed: each frame row points at one of the ingested images), one in ten
  marked graphic, two annotators per frame, annotator protection on (everyone opted in, caps and
  breaks out of reach);
- the scoring project: vtest.avi itself (every 4th frame, ~200 frames) with a signed Faster R-CNN
  detector, registered but not yet current, and 20,000 frames with approved labels (10 boxes
  each, by COPY, outside its queue) so that an export takes long enough to be interrupted;
- gunicorn, and one Celery worker with the beat scheduler (scoring chunks of 16 frames; a chunk
  or export whose worker stopped beating for 15 s is sent again).

Then BENCH_SOAK_S seconds (default 600; at most BENCH_SOAK_CYCLES cycles, default 100,000) of
50 clients, each doing the real cycle about once a second: next frame; on a graphic frame, now
and then a reveal and its end; submit one box (two annotators' boxes agree, so frames reach
consensus in the worker); now and then an edit of the submission (base_revision), or a skip
with a reason instead of a submit. Meanwhile:
  - at 10 %: the trainer makes the detector current (API) -> a scoring run starts in the worker;
    as soon as one chunk is done, the worker is killed (SIGKILL) and started again;
  - at 45 %: the trainer starts a COCO export (API); as soon as it reports progress, the worker
    is killed and started again;
  - at 75 %: every database connection of the application is cut once (pg_terminate_backend).
After the clients stop, the bench waits (up to 5 minutes) for the scoring run and the export to
finish, then checks.

Prints:
  BENCH soak_requests            HTTP requests made
  BENCH soak_5xx                 answers with a 5xx status (goal 0)
  BENCH soak_lost_submissions    submissions and edits answered 201 but not in the database (goal 0)
  BENCH soak_overassigned        frames with more live or submitted assignments than the overlap (goal 0)
  BENCH soak_export_ok           1 when the interrupted export finished, its signed archive verifies,
                                 and its data file is byte-identical to a fresh export of the same
                                 snapshot (goal 1)
  BENCH soak_scoring_ok          1 when the interrupted scoring run finished and every open frame it
                                 scored got its priority
  BENCH soak_cycles, soak_seconds, soak_worker_kills, soak_db_cuts, soak_client_errors
"""
from __future__ import annotations

from _setup import ROOT, django_environment, emit, untrained_detector  # first: it fixes the import path

import http.client  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "50"))
SOAK_S = float(os.environ.get("BENCH_SOAK_S", "600"))
MAX_CYCLES = int(os.environ.get("BENCH_SOAK_CYCLES", "100000"))
PERIOD_S = float(os.environ.get("BENCH_SOAK_PERIOD_S", "1.0"))
EXPORT_FRAMES = int(os.environ.get("BENCH_SOAK_EXPORT_FRAMES", "20000"))
LABEL_FRAMES = int(os.environ.get("BENCH_SOAK_FRAMES", "40000"))
LOG = os.environ.get("BENCH_SOAK_WORKER_LOG", "/tmp/aerie-soak-worker.log")  # kept for a look afterwards


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.five_xx = 0
        self.cycles = 0
        self.errors: list[str] = []
        self.acknowledged: list[int] = []

    def add(self, status: int, what: str, body: bytes) -> None:
        with self.lock:
            self.requests += 1
            if status >= 500:
                self.five_xx += 1
                self.errors.append(f"{what} {status} {body[:160]!r}")


class Annotator(threading.Thread):
    def __init__(self, port, token, project_id, stop_at, counter: Counter):
        super().__init__(daemon=True)
        self.port, self.token, self.project_id, self.stop_at, self.counter = port, token, project_id, stop_at, counter
        self.rng = random.Random(token)

    def call(self, conn, method, path, body=None):
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        self.counter.add(response.status, f"{method} {path}", data)
        return response.status, data

    def cycle(self, conn) -> None:
        status, data = self.call(conn, "POST", f"/api/projects/{self.project_id}/next/")
        if status == 204:
            time.sleep(1.0)
            return
        if status != 200:
            return
        state = json.loads(data)
        if "withheld" in state:
            return
        frame, assignment = state["frame"], state["assignment"]["id"]
        if frame.get("sensitive") and self.rng.random() < 0.3:
            status, data = self.call(conn, "POST", f"/api/projects/{self.project_id}/frames/{frame['id']}/reveal/")
            if status == 201 and json.loads(data).get("reveal"):
                time.sleep(self.rng.uniform(0.05, 0.3))
                self.call(conn, "POST", f"/api/reveals/{json.loads(data)['reveal']}/end/")
        if self.rng.random() < 0.05:
            self.call(conn, "POST", f"/api/assignments/{assignment}/skip/", {"reason": "soak: too dark to tell"})
            return
        box = {"class": "car", "x": 40, "y": 40, "w": 120, "h": 80, "attributes": {}, "track_id": None}
        status, data = self.call(conn, "POST", f"/api/assignments/{assignment}/submit/", {"boxes": [box], "tags": []})
        if status != 201:
            return
        revision = json.loads(data)["id"]
        with self.counter.lock:
            self.counter.acknowledged.append(revision)
            self.counter.cycles += 1
        if self.rng.random() < 0.1:
            edited = dict(box, w=121)
            status, data = self.call(conn, "POST", "/api/annotations/revise/",
                                     {"base_revision": revision, "boxes": [edited], "tags": []})
            if status == 201:
                with self.counter.lock:
                    self.counter.acknowledged.append(json.loads(data)["id"])

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        next_at = time.monotonic() + self.rng.uniform(0, PERIOD_S)
        while time.monotonic() < self.stop_at and self.counter.cycles < MAX_CYCLES:
            time.sleep(max(0.0, next_at - time.monotonic()))
            try:
                self.cycle(conn)
            except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
                with self.counter.lock:
                    self.counter.errors.append(f"client: {exc!r}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            next_at = max(next_at + PERIOD_S, time.monotonic())


class Worker:
    """The Celery worker (with beat) as a child process that can be killed and started again."""

    def __init__(self, env, var_dir):
        self.env, self.var_dir, self.proc, self.kills = env, var_dir, None, 0

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "2", "--loglevel", "INFO",
             "--beat", "--schedule", str(self.var_dir / f"beat-{self.kills}")], cwd=ROOT, env=self.env,
            stdout=subprocess.DEVNULL, stderr=open(LOG, "ab"))

    def kill_and_restart(self):
        self.proc.send_signal(signal.SIGKILL)  # the main process; its pool children follow it down
        self.proc.wait(30)
        subprocess.run(["pkill", "-9", "-f", f"beat-{self.kills}"], check=False)  # pool processes left behind
        self.kills += 1
        time.sleep(2)
        self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        subprocess.run(["pkill", "-9", "-f", f"beat-{self.kills}"], check=False)


def wait_for(predicate, timeout_s: float, step: float = 0.5) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


def setup(var_dir):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.files.uploadedfile import SimpleUploadedFile
    from rest_framework.authtoken.models import Token

    import export as export_bench  # bench/export.py: its COPY fill
    from fixtures import footage
    from labeling.footage import ingest
    from labeling.work import queue
    from django.db import connection

    from labeling.models import Dataset, Project, ProtectionPolicy, Sequence
    from labeling.protection import policy as protection_policy, state as protection_state
    from labeling.access.roles import ensure_roles
    from labeling.work.payloads import classes_of
    from ontology import services

    ensure_roles()
    version = services.create_ontology("soak")
    for key in export_bench.CLASSES:
        services.add_class(version, key=key, name=key.title())
    version = services.publish(version)
    dataset = Dataset.objects.create(name="soak footage")
    path = footage.path("vtest")
    with open(path, "rb") as fh:
        job = ingest.create_job(dataset, SimpleUploadedFile(path.name, fh.read()), sequence_name="vtest", stride=4,
                                enqueue=False)
    job = ingest.run_job(job.pk)
    scored = Project.objects.create(name="soak scoring", dataset=dataset, ontology_version=version, overlap=2)
    queue.sync_queue(scored)
    # approved labels for the export, outside the queue (their frames are not queued)
    export_bench.fill(scored, version, classes_of(version.pk), sequences=2, frames=EXPORT_FRAMES // 2, boxes=10,
                      track_length=100)

    work = Dataset.objects.create(name="soak work")
    images = list(job.sequence.frames.order_by("index").values_list("sha256", "width", "height"))
    seq = Sequence.objects.create(dataset=work, name="shift", kind=Sequence.VIDEO, status=Sequence.READY,
                                  source_name="shift.mp4", source_sha256="0" * 64, source_size=1,
                                  width=images[0][1], height=images[0][2], frame_count=LABEL_FRAMES)
    with connection.cursor() as cur, cur.cursor.copy(
            "COPY labeling_frame (sequence_id, index, source_index, source_name, sha256, ext, width, height, "
            "sensitive) FROM STDIN") as copy:
        for i in range(LABEL_FRAMES):
            sha, width, height = images[i % len(images)]
            copy.write_row((seq.pk, i, i, "", sha, "jpg", width, height, i % 10 == 0))
    project = Project.objects.create(name="soak", dataset=work, ontology_version=version, overlap=2)
    queue.sync_queue(project)
    ProtectionPolicy.objects.create(project=project, daily_sensitive_frames=1_000_000, daily_exposure_minutes=10_000,
                                    break_after_minutes=0, break_after_sensitive=0, micro_break_minutes=0)
    with connection.cursor() as cur:
        cur.execute("ANALYZE labeling_frame; ANALYZE labeling_queueitem")
    annotators = Group.objects.get(name="annotator")
    tokens = []
    for i in range(CLIENTS):
        user = get_user_model().objects.create_user(f"soak{i}")
        user.groups.add(annotators)
        project.members.add(user)
        protection_state.set_consent(user, True, protection_policy.consent_version())
        tokens.append(Token.objects.create(user=user).key)
    trainer = get_user_model().objects.create_user("soak-trainer")
    trainer.groups.add(Group.objects.get(name="trainer"))
    scored.members.add(trainer)
    model = untrained_detector(scored)
    return project, scored, tokens, Token.objects.create(user=trainer).key, model


def admin_call(port, token, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def cut_database_connections() -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return cur.fetchone()[0]


def export_is_right(export) -> bool:
    """Finished, its archive verifies, and a fresh export of the same snapshot has the same data."""
    from django.core.files.storage import default_storage

    from labeling.exchange import exports
    from labeling.exchange.exports.archive import verify_archive
    from labeling.models import Export

    if export.status != Export.DONE:
        print(f"export {export.pk}: {export.status} {export.message}", file=sys.stderr)
        return False
    with default_storage.open(export.file_name, "rb") as fh:
        interrupted = fh.read()
    try:
        verify_archive(io.BytesIO(interrupted))
    except Exception as exc:  # noqa: BLE001 - any refusal is a failed check
        print(f"export {export.pk} does not verify: {exc}", file=sys.stderr)
        return False
    again = Export.objects.create(project=export.project, created_by=export.created_by, format=export.format,
                                  scope=export.scope, ontology_version=export.ontology_version,
                                  annotations_as_of=export.annotations_as_of, include_images=False)
    again = exports.run(again.pk)
    with default_storage.open(again.file_name, "rb") as fh:
        fresh = fh.read()

    def data_files(blob):
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            return {n: z.read(n) for n in z.namelist() if not n.startswith("manifest")}

    return data_files(interrupted) == data_files(fresh)


def main() -> None:
    with django_environment() as var_dir:
        from django.db import connection, connections

        from labeling.models import Annotation, Export, QueueItem, ScoringRun

        project, scored, tokens, trainer_token, model = setup(var_dir)
        connections.close_all()
        port = free_port()
        env = dict(os.environ, AERIE_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT), AERIE_SCORING_CHUNK="16",
                   AERIE_SCORING_STALE_S="15", AERIE_EXPORT_STALE_S="15", AERIE_SCORING_SWEEP_S="5",
                   AERIE_TORCH_THREADS="1")
        if redis_answers():
            env["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/9"
            import redis

            redis.Redis(db=9).flushdb()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--worker-class", "gthread", "--threads", "8", "--timeout", "120", "--log-level", "warning"],
            cwd=ROOT, env=env)
        worker = Worker(env, var_dir)
        worker.start()
        counter = Counter()
        db_cuts = 0
        started = time.monotonic()
        try:
            wait_for(lambda: _answers(port), 30, 0.2)
            stop_at = started + SOAK_S
            clients = [Annotator(port, token, project.pk, stop_at, counter) for token in tokens]
            for c in clients:
                c.start()

            def at(fraction):
                time.sleep(max(0.0, started + fraction * SOAK_S - time.monotonic()))

            at(0.10)
            admin_call(port, trainer_token, "POST", f"/api/projects/{scored.pk}/models/{model.pk}/current/")
            if wait_for(lambda: ScoringRun.objects.filter(project=scored, chunks_done__gte=1).exists(), 0.35 * SOAK_S):
                run = ScoringRun.objects.get(project=scored)
                print(f"killing the worker mid-scoring: chunk {run.chunks_done} of {run.chunks_total}", file=sys.stderr)
                worker.kill_and_restart()
            else:
                print("the scoring run did not get going in time: no kill mid-scoring", file=sys.stderr)
            at(0.45)
            status, data = admin_call(port, trainer_token, "POST", f"/api/projects/{scored.pk}/exports/",
                                      {"format": "coco"})
            export_id = json.loads(data)["id"] if status in (200, 201, 202) else None
            if export_id and wait_for(lambda: Export.objects.filter(pk=export_id, items_done__gt=0,
                                                                    status=Export.RUNNING).exists(), 0.25 * SOAK_S, 0.1):
                print(f"killing the worker mid-export: {Export.objects.get(pk=export_id).items_done} items done",
                      file=sys.stderr)
                worker.kill_and_restart()
            else:
                print(f"the export did not get going in time: no kill mid-export ({status} {data[:200]!r})",
                      file=sys.stderr)
            at(0.75)
            cut = cut_database_connections()
            connection.close()
            db_cuts += 1
            print(f"cut {cut} database connections", file=sys.stderr)
            for c in clients:
                c.join(max(0.0, stop_at - time.monotonic()) + 90)
            seconds = time.monotonic() - started
            scoring_done = wait_for(lambda: not ScoringRun.objects.filter(project=scored, status="running").exists(),
                                    300, 1.0)
            export_done = export_id is not None and wait_for(
                lambda: Export.objects.get(pk=export_id).status in Export.FINISHED, 300, 1.0)
        finally:
            server.terminate()
            worker.stop()
            server.wait(30)
        connections.close_all()
        stored = set(Annotation.objects.filter(pk__in=counter.acknowledged).values_list("pk", flat=True))
        with connection.cursor() as cur:
            cur.execute("""SELECT count(*) FROM (SELECT item_id FROM labeling_assignment WHERE project_id = %s
                           AND status IN ('active', 'submitted') GROUP BY item_id HAVING count(*) > %s) over""",
                        [project.pk, project.overlap])
            over = cur.fetchone()[0]
        run = ScoringRun.objects.filter(project=scored).order_by("created_at").first()
        scoring_ok = bool(scoring_done and run and run.status == ScoringRun.DONE and run.frames_done == run.frames_total)
        if scoring_ok:
            scoring_ok = not QueueItem.objects.filter(project=scored, is_open=True, gold=False,
                                                      frame__in=run.scores.values("frame_id"),
                                                      priority__isnull=True).exists()
        export_ok = bool(export_done and export_is_right(Export.objects.get(pk=export_id)))
        emit("soak_seconds", seconds)
        emit("soak_cycles", counter.cycles)
        emit("soak_requests", counter.requests)
        emit("soak_5xx", counter.five_xx)
        emit("soak_lost_submissions", len(set(counter.acknowledged) - stored))
        emit("soak_overassigned", over)
        emit("soak_export_ok", int(export_ok))
        emit("soak_scoring_ok", int(scoring_ok))
        emit("soak_worker_kills", worker.kills)
        emit("soak_db_cuts", db_cuts)
        emit("soak_client_errors", len(counter.errors))
        if counter.errors:
            print("first errors:", counter.errors[:5], file=sys.stderr)


def _answers(port) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
