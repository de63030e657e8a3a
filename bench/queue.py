"""The next-frame + submit cycle under load, over loopback HTTP against a real server.

Fills one project with 10k frames and another with 1M (COPY), starts gunicorn (several
workers) on the throw-away database, and drives 50 concurrent clients for a fixed time per
project. Each client is an annotator working at machine speed: submit one box on the frame on
screen and receive the next frame with the answer, as the labeling page does (one request per
cycle; BENCH_CYCLE=split asks /next/ and submits in two requests, as a plain API client may),
aiming at one cycle every CLIENT_PERIOD_S (50 clients at 0.3 s offer ~167 cycles/s).
Pacing is what makes a latency goal meaningful: with no pause at all, 50 clients keep every
request queued behind the others, and latency is just 50 / throughput (Little's law).

Then the same drive against a 10k project with annotator protection on (one frame in five
sensitive, everyone opted in, interleaving at its default, caps and breaks out of reach): every
request then takes the protection policy's path (its row lock, exposure totals and counters).

Prints, for the 1M project (and with _10k for the small one):
  BENCH queue_cycle                       1 for the page's one-request cycle, 2 for BENCH_CYCLE=split
  BENCH queue_p50_ms, queue_p99_ms        latency of every request (submit with next; and next
                                          alone, for a client's first frame or with split)
  BENCH queue_p99_ratio_1m_10k            p99 at 1M / p99 at 10k (goal ≤ 1.5)
  BENCH queue_cycles_per_s                completed cycles per second, all clients (goal ≥ 150)
  BENCH queue_overassigned                frames with more live assignments than the overlap (goal 0)
  BENCH queue_lost                        submissions answered 201 but not in the database (goal 0)
  BENCH queue_p99_ms_protected            p99 with protection on (10k, one frame in five sensitive)
  BENCH queue_p99_ratio_protected         that p99 / the unprotected 10k p99 (goal ≤ 1.2)
  BENCH queue_cpu_ms_per_cycle_{client,web,db,rest}[_10k|_protected]
                                          CPU one cycle took in the clients (this process), the
                                          web server, the PostgreSQL backends of this database,
                                          and the rest of the machine (PostgreSQL's shared
                                          processes, and whatever else runs here: on a shared
                                          machine, others' work)
  BENCH queue_capacity_cycles_per_s       cores × 1000 / the 1M run's CPU per cycle: the most this
                                          machine could serve with everything on it; latency
                                          goals need the offered load well below it
  BENCH queue_cpu_ratio_web_db            web CPU per cycle / the rest's (PostgreSQL) at 1M (goal ≤ 1.0)
  BENCH queue_cpu_ratio_protected         web + database CPU per protected cycle / the same unprotected,
                                          10k frames each (goal ≤ 1.2)
  BENCH queue_cpu_ratio_1m_10k            all CPU per cycle at the big project / at 10k (the key names
                                          the big size: queue_cpu_ratio_10m_10k with
                                          BENCH_BIG_FRAMES=10000000; goal ≤ 1.2)
  BENCH queue_p99_ms_single               p99 of one client alone on the big project (no queueing)
  BENCH queue_p99_ms_half_load            p99 with the offered load at half the measured capacity
  BENCH queue_p99_ratio_half_load         the two's ratio (goal ≤ 2.0)
"""
from __future__ import annotations

import os
import sys

# This script is named queue.py, like the standard library's queue module that psycopg and
# Celery import: look in its own folder last, so that the standard one wins.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]

import http.client
import io
import json
import random
import socket
import subprocess
import threading
import time

from _setup import ROOT, django_environment, emit

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "50"))
DURATION_S = float(os.environ.get("BENCH_DURATION_S", "30"))
WARMUP_S = 5.0
CLIENT_PERIOD_S = float(os.environ.get("BENCH_CLIENT_PERIOD_S", "0.3"))
BIG_FRAMES = int(os.environ.get("BENCH_BIG_FRAMES", "1000000"))
SIZES = [("10k", 10_000), ("1m", BIG_FRAMES)]
LOAD_DURATION_S = float(os.environ.get("BENCH_LOAD_DURATION_S", "15"))
# A cycle as the labeling page makes it: one submit that answers with the next frame too.
# BENCH_CYCLE=split makes it two requests (next, then submit), as API clients that do not ask
# for the next frame with their submission do.
CYCLE = os.environ.get("BENCH_CYCLE", "combined")
COMBINED = CYCLE == "combined"


def size_label(count: int) -> str:
    """1000000 -> 1m, 10000000 -> 10m, 200000 -> 200k: the big project's size in key names."""
    for unit, div in (("m", 1_000_000), ("k", 1_000)):
        if count >= div and count % div == 0:
            return f"{count // div}{unit}"
    return str(count)


def bulk_frames(project_name: str, count: int, users, sensitive_every: int = 0):
    """A dataset of `count` frames written with COPY, a project on it with every member."""
    from django.db import connection

    from labeling.work import queue
    from labeling.models import Dataset, Membership, Project, Sequence
    from ontology.models import OntologyVersion

    version = OntologyVersion.objects.get(ontology__name="bench")
    dataset = Dataset.objects.create(name=f"{project_name} footage")
    per_seq = 10_000
    sequences = [Sequence.objects.create(dataset=dataset, name=f"s{i:04d}", kind=Sequence.VIDEO,
                                         status=Sequence.READY, source_name="x.mp4", source_sha256="0" * 64,
                                         source_size=1, width=1920, height=1080, frame_count=per_seq)
                 for i in range((count + per_seq - 1) // per_seq)]
    with connection.cursor() as cur:
        raw = cur.connection
        with raw.cursor() as c, c.copy(
                "COPY labeling_frame (sequence_id, index, source_index, source_name, timestamp, sha256, ext, "
                "width, height, sensitive) FROM STDIN") as copy:
            buf = io.StringIO()
            for n in range(count):
                seq = sequences[n // per_seq]
                i = n % per_seq
                flag = "t" if sensitive_every and n % sensitive_every == 0 else "f"
                buf.write(f"{seq.pk}\t{i}\t{i}\t\t{i / 25:.2f}\t{n:064x}\tjpg\t1920\t1080\t{flag}\n")
                if buf.tell() > 4_000_000:
                    copy.write(buf.getvalue())
                    buf = io.StringIO()
            copy.write(buf.getvalue())
        cur.execute("ANALYZE labeling_frame")
    project = Project.objects.create(name=project_name, dataset=dataset, ontology_version=version, overlap=2)
    Membership.objects.bulk_create(Membership(project=project, user=u) for u in users)
    queue.sync_queue(project)
    with connection.cursor() as cur:
        cur.execute("ANALYZE labeling_queueitem")
    return project


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client(threading.Thread):
    def __init__(self, port, token, project_id, stop_at, record_from, period=None):
        super().__init__(daemon=True)
        self.period = CLIENT_PERIOD_S if period is None else period
        self.port, self.token, self.project_id = port, token, project_id
        self.stop_at, self.record_from = stop_at, record_from
        self.latencies: list[float] = []
        self.cycles = 0
        self.acknowledged: list[int] = []
        self.errors: list[str] = []

    def request(self, conn, method, path, body=None):
        start = time.perf_counter()
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - start
        if time.monotonic() >= self.record_from:
            self.latencies.append(elapsed)
        return response.status, data

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        # people do not all press Enter at the same instant: spread the clients over the period
        next_at = time.monotonic() + random.uniform(0, self.period)
        time.sleep(next_at - time.monotonic())
        state = None  # the frame on screen: from /next/, or from the last submit's answer (COMBINED)
        while time.monotonic() < self.stop_at:
            try:
                if state is None:
                    status, data = self.request(conn, "POST", f"/api/projects/{self.project_id}/next/")
                    if status == 204:
                        break
                    if status != 200:
                        self.errors.append(f"next {status} {data[:200]!r}")
                        continue
                    state = json.loads(data)
                frame = state["frame"]
                box = {"class": "vehicle", "x": 10, "y": 10, "w": min(100, frame["width"] - 10), "h": 50,
                       "attributes": {}, "track_id": None}
                work = {"boxes": [box], "tags": []}
                if COMBINED:
                    work["next"] = True
                status, data = self.request(conn, "POST", f"/api/assignments/{state['assignment']['id']}/submit/",
                                            work)
                state = None
                if status == 201:
                    answer = json.loads(data)
                    self.acknowledged.append(answer["id"])
                    if time.monotonic() >= self.record_from:
                        self.cycles += 1
                    if COMBINED:
                        following = answer["next"]
                        if following["status"] == 204:
                            break
                        if following["status"] == 200:
                            state = following["body"]
                        else:
                            self.errors.append(f"next with submit {following!r:.200}")
                else:
                    self.errors.append(f"submit {status} {data[:200]!r}")
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(repr(exc))
                state = None
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            next_at += self.period
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            else:
                next_at = time.monotonic()


def cpu_seconds(server_pid: int) -> dict:
    """CPU seconds so far of this process (the clients), the web server (its workers), and the
    rest of the machine (the database, and whatever else runs here): where a cycle's CPU goes."""
    import psutil

    def used(proc) -> float:
        try:
            t = proc.cpu_times()
            return t.user + t.system
        except psutil.Error:
            return 0.0

    server = psutil.Process(server_pid)
    machine = psutil.cpu_times()
    busy = sum(getattr(machine, f) for f in ("user", "nice", "system", "irq", "softirq", "steal") if hasattr(machine, f))
    client, web = used(psutil.Process()), used(server) + sum(used(c) for c in server.children(True))
    return {"client": client, "web": web, "rest": busy - client - web, "db": database_cpu()}


def database_cpu() -> float:
    """CPU seconds of the PostgreSQL backends serving this benchmark's database (their process
    titles name it): the database's share, apart from whatever else the machine runs. Backends
    live as long as the web workers' connections, so a difference of two readings is what they
    spent in between."""
    import psutil

    from django.db import connection

    marker = f" {connection.settings_dict['NAME']} "
    found = {}
    for proc in psutil.process_iter(["cmdline"]):
        title = " ".join(proc.info["cmdline"] or [])
        if title.startswith("postgres:") and marker in title:
            try:
                t = proc.cpu_times()
                found[proc.pid] = t.user + t.system
            except psutil.Error:
                pass
    return found


def drive(port, tokens, project_id, duration=DURATION_S, server_pid=None, period=None):
    start = time.monotonic()
    record_from, stop_at = start + WARMUP_S, start + WARMUP_S + duration
    clients = [Client(port, token, project_id, stop_at, record_from, period) for token in tokens]
    for c in clients:
        c.start()
    time.sleep(max(0.0, record_from - time.monotonic()))
    cpu_before = cpu_seconds(server_pid) if server_pid else None
    time.sleep(max(0.0, stop_at - time.monotonic()))
    cpu_after = cpu_seconds(server_pid) if server_pid else None
    for c in clients:
        c.join(DURATION_S + WARMUP_S + 60)
    latencies = sorted(x for c in clients for x in c.latencies)
    errors = [e for c in clients for e in c.errors]
    cycles = sum(c.cycles for c in clients)
    if cpu_before:  # a backend's CPU since the first reading (or since it started, if it is new)
        for reading in (cpu_before, cpu_after):
            reading["db"] = dict(reading["db"])
        cpu_after["db"] = sum(t - cpu_before["db"].get(pid, 0.0) for pid, t in cpu_after["db"].items())
        cpu_before["db"] = 0.0
    cpu = ({k: (cpu_after[k] - cpu_before[k]) * 1000 / max(cycles, 1) for k in cpu_after} if cpu_before else {})
    return {
        "cpu_ms_per_cycle": cpu,
        "p50": latencies[len(latencies) // 2] * 1000 if latencies else float("nan"),
        "p99": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan"),
        "cycles_per_s": sum(c.cycles for c in clients) / duration,
        "acknowledged": [a for c in clients for a in c.acknowledged],
        "errors": errors,
    }


def check(project, acknowledged):
    from django.db import connection

    from labeling.models import Annotation

    with connection.cursor() as cur:
        cur.execute(
            """SELECT count(*) FROM (SELECT a.item_id FROM labeling_assignment a
                                     WHERE a.project_id = %s AND a.status IN ('active', 'submitted')
                                     GROUP BY a.item_id HAVING count(*) > %s) over""",
            [project.pk, project.overlap],
        )
        over = cur.fetchone()[0]
    stored = set(Annotation.objects.filter(pk__in=acknowledged).values_list("pk", flat=True))
    return over, len(set(acknowledged) - stored)


def main() -> None:
    with django_environment():
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from rest_framework.authtoken.models import Token

        from labeling.access.roles import ensure_roles
        from ontology import services

        ensure_roles()
        version = services.create_ontology("bench")
        services.add_class(version, key="vehicle", name="Vehicle", shortcut="1")
        services.add_class(version, key="person", name="Person", shortcut="2")
        services.publish(version)
        group = Group.objects.get(name="annotator")
        users = []
        for i in range(CLIENTS):
            user = get_user_model().objects.create_user(f"bench{i}")  # token auth: no password to hash
            user.groups.add(group)
            users.append(user)
        tokens = [Token.objects.create(user=u).key for u in users]
        projects = {}
        for label, count in SIZES:
            start = time.perf_counter()
            projects[label] = bulk_frames(f"bench {label}", count, users)
            emit(f"queue_fill_{size_label(count)}_s", time.perf_counter() - start)
        protected = bulk_frames("bench protected", SIZES[0][1], users, sensitive_every=5)
        from labeling.models import ProtectionPolicy
        from labeling.protection import policy as protection_policy, state as protection_state

        ProtectionPolicy.objects.create(project=protected, daily_sensitive_frames=1_000_000,
                                        daily_exposure_minutes=10_000, break_after_minutes=0, break_after_sensitive=0,
                                        micro_break_minutes=0)
        for user in users:
            protection_state.set_consent(user, True, protection_policy.consent_version())

        from django.db import connection, connections

        with connection.cursor() as cur:  # what autovacuum would otherwise do during the first run
            for table in ("labeling_frame", "labeling_queueitem", "labeling_sequence"):
                cur.execute(f"VACUUM ANALYZE {table}")
            # flush what the bulk fill wrote now, not during the measured runs (a checkpoint of a
            # million rows' pages in the middle of a run measures the fill, not the queue)
            cur.execute("CHECKPOINT")
        connections.close_all()
        port = free_port()
        # the web workers keep their database connections for the whole run (each backend's CPU is
        # read before and after a run: one that a worker closed in between would be lost)
        env = dict(os.environ, AERIE_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT),
                   AERIE_DB_CONN_MAX_AGE=os.environ.get("AERIE_DB_CONN_MAX_AGE", "3600"))
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers",
             os.environ.get("BENCH_WEB_WORKERS", "4"), "--worker-class", os.environ.get("BENCH_WORKER_CLASS", "gthread"),
             "--threads", os.environ.get("BENCH_THREADS", "4"), "--log-level", "warning"]
            + (["--access-logfile", os.environ["BENCH_ACCESS_LOG"], "--access-logformat", "%(m)s %(U)s %(s)s %(D)s"]
               if os.environ.get("BENCH_ACCESS_LOG") else []), cwd=ROOT, env=env,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.2)
            results = {}
            drive(port, tokens, projects["10k"].pk, duration=10)  # warm the workers up, not measured
            for label, _count in SIZES:
                results[label] = drive(port, tokens, projects[label].pk, server_pid=server.pid)
                if label == "10k":  # right after its baseline, on the same warm server
                    results["protected"] = drive(port, tokens, protected.pk, server_pid=server.pid)
            # latency at half the measured capacity against one client alone, on the big project:
            # what a busy (not saturated) server adds to a request over an idle one
            big = projects["1m"].pk
            per_cycle = sum(v for k, v in results["1m"]["cpu_ms_per_cycle"].items() if k != "db")
            capacity = os.cpu_count() * 1000 / per_cycle if per_cycle else 0.0
            results["single"] = drive(port, tokens[:1], big, duration=LOAD_DURATION_S, period=0.05)
            if capacity:
                results["half"] = drive(port, tokens, big, duration=LOAD_DURATION_S,
                                        period=len(tokens) / (capacity / 2))
        finally:
            server.terminate()
            server.wait(30)
        over_total, lost_total = 0, 0
        for label, _count in SIZES:
            r = results[label]
            if label == "1m":  # the half-load and single-client runs were on the big project too
                r = dict(r, acknowledged=r["acknowledged"] + [a for k in ("single", "half") if k in results
                                                              for a in results[k]["acknowledged"]])
            over, lost = check(projects[label], r["acknowledged"])
            over_total += over
            lost_total += lost
            suffix = "" if label == "1m" else f"_{label}"
            emit(f"queue_p50_ms{suffix}", r["p50"])
            emit(f"queue_p99_ms{suffix}", r["p99"])
            emit(f"queue_cycles_per_s{suffix}", r["cycles_per_s"])
            emit(f"queue_errors{suffix}", len(r["errors"]))
            for part, ms in r["cpu_ms_per_cycle"].items():
                emit(f"queue_cpu_ms_per_cycle_{part}{suffix}", ms)
            if r["errors"]:
                print(f"first errors ({label}):", r["errors"][:3], file=sys.stderr)
        emit("queue_p99_ratio_1m_10k", results["1m"]["p99"] / results["10k"]["p99"])
        r = results["protected"]
        over, lost = check(protected, r["acknowledged"])
        over_total, lost_total = over_total + over, lost_total + lost
        emit("queue_p50_ms_protected", r["p50"])
        emit("queue_p99_ms_protected", r["p99"])
        emit("queue_cycles_per_s_protected", r["cycles_per_s"])
        emit("queue_errors_protected", len(r["errors"]))
        for part, ms in r["cpu_ms_per_cycle"].items():
            emit(f"queue_cpu_ms_per_cycle_{part}_protected", ms)
        if r["errors"]:
            print("first errors (protected):", r["errors"][:3], file=sys.stderr)
        emit("queue_p99_ratio_protected", r["p99"] / results["10k"]["p99"])
        emit("queue_offered_cycles_per_s", CLIENTS / CLIENT_PERIOD_S)
        emit("queue_cycle", 1 if COMBINED else 2)
        # what this machine can serve at most: its cores over the CPU one cycle takes, all parts
        # together (clients, web server, database), at 1M frames
        per_cycle = sum(v for k, v in results["1m"]["cpu_ms_per_cycle"].items() if k != "db")
        if per_cycle:
            emit("queue_cores", os.cpu_count())
            emit("queue_capacity_cycles_per_s", os.cpu_count() * 1000 / per_cycle)
        cpu_big, cpu_small = results["1m"]["cpu_ms_per_cycle"], results["10k"]["cpu_ms_per_cycle"]
        cpu_prot = results["protected"]["cpu_ms_per_cycle"]
        # the database's CPU is its backends' (cpu "db"): the rest of a shared machine is others' work
        if cpu_big and cpu_big["db"] > 0:
            emit("queue_cpu_ratio_web_db", cpu_big["web"] / cpu_big["db"])
        if cpu_small and cpu_prot:
            emit("queue_cpu_ratio_protected",
                 (cpu_prot["web"] + cpu_prot["db"]) / (cpu_small["web"] + cpu_small["db"]))
            emit(f"queue_cpu_ratio_{size_label(BIG_FRAMES)}_10k",
                 sum(cpu_big[k] for k in ("client", "web", "db")) / sum(cpu_small[k] for k in ("client", "web", "db")))
        single, half = results["single"], results.get("half")
        emit("queue_p99_ms_single", single["p99"])
        emit("queue_errors_single", len(single["errors"]))
        if half:
            emit("queue_offered_cycles_per_s_half_load", capacity / 2)
            emit("queue_cycles_per_s_half_load", half["cycles_per_s"])
            emit("queue_p99_ms_half_load", half["p99"])
            emit("queue_errors_half_load", len(half["errors"]))
            emit("queue_p99_ratio_half_load", half["p99"] / single["p99"])
        emit("queue_overassigned", over_total)
        emit("queue_lost", lost_total)


if __name__ == "__main__":
    main()
