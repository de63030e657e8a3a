"""What the audit hash chain costs the labeling hot path, measured against the same path with
the chain switched off, in the same run.

Storing an audit event also queues it for the chain (a row trigger inserts its id into
labeling_auditpending); a linker (celery beat every few seconds) chains the committed events
under one advisory lock in its own transaction. The "off" baseline disables that trigger
(ALTER TABLE … DISABLE TRIGGER), so the same event row is written and nothing else. On and off
alternate in blocks so that noise on a shared machine falls on both alike. Agreement is
disconnected (overlap 1, nothing to agree on): this measures the submit path itself.

Part 1, serial: one annotator's cycle (next frame + submit), in-process, block by block; the
events of each "on" block are linked after it (timed apart: audit_link_events_per_s).
Part 2, concurrent: BENCH_AUDIT_THREADS annotators (default 8) each cycling as fast as they can
in their own connection; during "on" blocks a linker thread chains every 0.5 s (more often than
beat) so that its lock and writes compete with the submissions.
Part 3: the events of the "off" blocks are linked too, then the whole chain is verified (Python
recomputes every hash), timed.

Prints:
  BENCH audit_submit_p50_ms_chain / _nochain, audit_submit_p99_ms_chain / _nochain (serial)
  BENCH audit_submit_ratio_p50        chain / no chain, serial submit p50
  BENCH audit_cycle_ms_chain / _nochain mean serial cycle (next + submit)
  BENCH audit_link_events_per_s       linker throughput
  BENCH audit_concurrent_cycles_per_s_chain / _nochain, audit_concurrent_ratio
  BENCH audit_concurrent_submit_p99_ms_chain / _nochain
  BENCH audit_verify_events_per_s, audit_verify_ok (1 when the chain verified)
"""
from __future__ import annotations

from _setup import django_environment, emit  # first: it fixes the import path

import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_AUDIT_ROUNDS", "6"))
BLOCK = int(os.environ.get("BENCH_AUDIT_BLOCK", "150"))  # serial cycles per block
THREADS = int(os.environ.get("BENCH_AUDIT_THREADS", "8"))
CONCURRENT_S = float(os.environ.get("BENCH_AUDIT_CONCURRENT_S", "4"))  # seconds per concurrent block
CONCURRENT_ROUNDS = int(os.environ.get("BENCH_AUDIT_CONCURRENT_ROUNDS", "6"))
FRAMES = int(os.environ.get("BENCH_AUDIT_FRAMES", "40000"))
PAYLOAD = {"boxes": [{"class": "person", "x": 10, "y": 20, "w": 30, "h": 60, "track_id": 1},
                     {"class": "car", "x": 200, "y": 120, "w": 80, "h": 40}], "tags": []}


def setup():
    from django.contrib.auth import get_user_model

    from labeling.models import Dataset, Frame, Membership, Project, Sequence
    from labeling.work import queue
    from ontology import services
    from ontology.models import LabelClass

    version = services.create_ontology("Bench audit")
    services.add_class(version, key="person", name="Person", kind=LabelClass.BOX)
    services.add_class(version, key="car", name="Car", kind=LabelClass.BOX)
    version = services.publish(version)
    dataset = Dataset.objects.create(name="Bench audit footage")
    project = Project.objects.create(name="Bench audit", dataset=dataset, ontology_version=version, overlap=1)
    seq = Sequence.objects.create(dataset=dataset, name="bench", kind=Sequence.VIDEO, status=Sequence.READY,
                                  source_name="bench.mp4", source_sha256="0" * 64, source_size=1, width=640,
                                  height=480, frame_count=FRAMES)
    Frame.objects.bulk_create((Frame(sequence=seq, index=i, source_index=i, sha256=f"{seq.pk:08d}{i:056d}",
                                     width=640, height=480) for i in range(FRAMES)), batch_size=5000)
    queue.sync_queue(project)
    users = [get_user_model().objects.create_user(username=f"annotator{i}", password="x" * 12)
             for i in range(THREADS)]
    Membership.objects.bulk_create(Membership(project=project, user=u) for u in users)
    return project, users


def chain(on: bool) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"ALTER TABLE labeling_auditevent {'ENABLE' if on else 'DISABLE'} "
                    "TRIGGER labeling_auditevent_chain")


def cycle(project, user) -> float | None:
    """One next-frame + submit; returns the submit's seconds (None when the queue is empty)."""
    from labeling.work import queue, submissions

    lease = queue.next_assignment(project, user)
    if lease is None:
        return None
    start = time.perf_counter()
    submissions.submit(lease, user, PAYLOAD)
    return time.perf_counter() - start


def serial(project, user) -> None:
    times = {True: [], False: []}
    cycles = {True: [], False: []}
    for _ in range(5):  # warm-up: prepared statements, caches
        cycle(project, user)
    from labeling.audit import chain as audit_chain

    linked, link_s = 0, 0.0
    for r in range(ROUNDS):
        for on in ((True, False) if r % 2 == 0 else (False, True)):
            chain(on)
            for _ in range(BLOCK):
                start = time.perf_counter()
                times[on].append(cycle(project, user))
                cycles[on].append(time.perf_counter() - start)
            if on:
                start = time.perf_counter()
                linked += audit_chain.link_pending()
                link_s += time.perf_counter() - start
    chain(True)
    emit("audit_link_events_per_s", linked / link_s)
    for on, tag in ((True, "chain"), (False, "nochain")):
        ms = np.array(times[on]) * 1000
        emit(f"audit_submit_p50_ms_{tag}", float(np.percentile(ms, 50)))
        emit(f"audit_submit_p99_ms_{tag}", float(np.percentile(ms, 99)))
        emit(f"audit_cycle_ms_{tag}", float(np.mean(cycles[on]) * 1000))
    emit("audit_submit_ratio_p50", float(np.percentile(times[True], 50) / np.percentile(times[False], 50)))


def concurrent(project, users) -> None:
    from django.db import connections

    results = {True: [0, 0.0, []], False: [0, 0.0, []]}  # cycles, seconds, submit times
    for r in range(CONCURRENT_ROUNDS):
        for on in ((True, False) if r % 2 == 0 else (False, True)):
            chain(on)
            stop = time.perf_counter() + CONCURRENT_S
            counts, submits = [0] * len(users), [[] for _ in users]

            def work(i):
                try:
                    while time.perf_counter() < stop:
                        took = cycle(project, users[i])
                        if took is None:
                            break
                        counts[i] += 1
                        submits[i].append(took)
                finally:
                    connections.close_all()

            def linker():
                from labeling.audit import chain as audit_chain

                try:
                    while time.perf_counter() < stop:
                        audit_chain.link_pending()
                        time.sleep(0.5)
                    audit_chain.link_pending()
                finally:
                    connections.close_all()

            started = time.perf_counter()
            threads = [threading.Thread(target=work, args=(i,)) for i in range(len(users))]
            if on:
                threads.append(threading.Thread(target=linker))
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            results[on][0] += sum(counts)
            results[on][1] += time.perf_counter() - started
            results[on][2] += [s for part in submits for s in part]
    chain(True)
    rate = {on: results[on][0] / results[on][1] for on in results}
    for on, tag in ((True, "chain"), (False, "nochain")):
        emit(f"audit_concurrent_cycles_per_s_{tag}", rate[on])
        emit(f"audit_concurrent_submit_p99_ms_{tag}", float(np.percentile(np.array(results[on][2]) * 1000, 99)))
    emit("audit_concurrent_ratio", rate[True] / rate[False])
    emit("audit_concurrent_threads", len(users))


def verify() -> None:
    from django.db import connection

    from labeling.audit import chain as audit_chain
    from labeling.models import AuditEvent

    with connection.cursor() as cur:  # link what the "off" blocks left unqueued, in id order
        cur.execute("SELECT count(aerie_audit_append(e)) FROM (SELECT * FROM labeling_auditevent e WHERE NOT EXISTS "
                    "(SELECT 1 FROM labeling_auditlink l WHERE l.event_id = e.id) AND NOT EXISTS "
                    "(SELECT 1 FROM labeling_auditpending p WHERE p.event_id = e.id) ORDER BY id) e")
    total = AuditEvent.objects.count()
    start = time.perf_counter()
    report = audit_chain.verify()
    elapsed = time.perf_counter() - start
    emit("audit_events", total)
    emit("audit_verify_events_per_s", report.links / elapsed)
    emit("audit_verify_ok", int(report.ok and report.links == total))


def main() -> None:
    with django_environment():
        from labeling.quality import frame_scoring  # noqa: F401 - connects the agreement receiver, which we drop
        from labeling.work.submissions import annotation_submitted

        annotation_submitted.disconnect(dispatch_uid="aerie-quality")
        project, users = setup()
        serial(project, users[0])
        concurrent(project, users)
        verify()


if __name__ == "__main__":
    main()
