"""Chunked background jobs (scoring, redaction, and whatever else walks every frame of a run):
a run records its chunks (`make`), each chunk is a Celery message, and any worker on any machine
works on one at a time.

- `claim`: a row lock with SKIP LOCKED takes a chunk that is pending, whose worker stopped
  beating (its claim is older than the stale limit), or that this same worker claimed before (a
  retry after a lost database connection); two workers never take the same one.
- `Beat`: renews the claim while the work goes on (at most every few seconds).
- `finish`: in the transaction that writes the chunk's results, locks the chunk and marks it
  done, or says that the results must not be written (another worker completed or took it).
- `send`: a run's unfinished chunks to the workers.
- `sweep` (celery beat's housekeeping): stale claims and pending chunks whose message was lost
  are sent again (`stale`); finished runs that were not finalised are finalised.

The chunk models share `labeling.models.chunks.Chunk`; each job passes its own."""
from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Sequence

from django.db import connection
from django.db.models import F
from django.utils import timezone

from labeling.jobs.send import enqueue, send_now
from labeling.models.chunks import Chunk

_CLAIM = """
UPDATE {table} c SET status = 'claimed', claimed_by = %(me)s, claimed_at = now(), attempts = c.attempts + 1
WHERE c.id = (SELECT id FROM {table}
              WHERE id = %(chunk)s AND (status = 'pending' OR (status = 'claimed' AND (claimed_by = %(me)s
                    OR claimed_at < now() - make_interval(secs => %(stale)s))))
              FOR UPDATE SKIP LOCKED)
RETURNING c.run_id, c.frame_ids
"""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def make(model: type[Chunk], run, frame_ids: Sequence[int], size: int) -> int:
    """Record the run's chunks of `size` frames each; returns how many."""
    model.objects.bulk_create(model(run=run, number=n, frame_ids=list(frame_ids[s:s + size]))
                              for n, s in enumerate(range(0, len(frame_ids), size)))
    return (len(frame_ids) + size - 1) // size


def claim(model: type[Chunk], chunk_id: int, me: str, stale_s: float):
    """(run id, frame ids) of the chunk now claimed by `me`; None when it is done, being worked
    on, or locked by another claimer right now."""
    with connection.cursor() as cur:
        cur.execute(_CLAIM.format(table=model._meta.db_table), {"chunk": chunk_id, "me": me, "stale": stale_s})
        return cur.fetchone()


def heartbeat(model: type[Chunk], chunk_id: int, me: str) -> bool:
    """Renew a claim; False when another worker took the chunk over."""
    return model.objects.filter(pk=chunk_id, status=Chunk.CLAIMED, claimed_by=me) \
        .update(claimed_at=timezone.now()) == 1


class Beat:
    """Call it after each frame or batch: renews the claim when `every_s` went by since the last."""

    def __init__(self, model: type[Chunk], chunk_id: int, me: str, stale_s: float):
        self.model, self.chunk_id, self.me = model, chunk_id, me
        self.every_s = min(10.0, stale_s / 4)
        self.last = time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last > self.every_s:
            heartbeat(self.model, self.chunk_id, self.me)
            self.last = time.monotonic()


def drop(model: type[Chunk], chunk_id: int) -> None:
    """Mark a chunk done without results (its run stopped)."""
    model.objects.filter(pk=chunk_id).update(status=Chunk.DONE, done_at=timezone.now())


def finish(model: type[Chunk], chunk_id: int, me: str) -> Chunk | None:
    """Inside the transaction that writes the chunk's results: lock it and mark it done. None
    (write nothing) when another worker completed it first or took it over."""
    chunk = model.objects.select_for_update().get(pk=chunk_id)
    if chunk.status == Chunk.DONE or chunk.claimed_by != me:
        return None
    chunk.status, chunk.done_at = Chunk.DONE, timezone.now()
    chunk.save(update_fields=["status", "done_at"])
    return chunk


def pending(model: type[Chunk], run_id: int) -> list[int]:
    return list(model.objects.filter(run_id=run_id).exclude(status=Chunk.DONE)
                .order_by("number").values_list("pk", flat=True))


def stale(model: type[Chunk], running: str, stale_s: float) -> list[int]:
    """Chunks of running runs (`running`: the run's running status) that a dead worker left
    (claimed, heartbeat older than `stale_s`) or whose message was lost (pending in a run older
    than `stale_s`)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=stale_s)
    return list(model.objects.filter(run__status=running).exclude(status=Chunk.DONE)
                .exclude(status=Chunk.CLAIMED, claimed_at__gte=cutoff)
                .exclude(status=Chunk.PENDING, run__created_at__gte=cutoff).values_list("pk", flat=True))


def send(model: type[Chunk], run_id: int, task: str) -> int:
    """Send a run's unfinished chunks to the workers (as `task`), once the transaction commits."""
    ids = pending(model, run_id)
    for chunk_id in ids:
        enqueue(task, chunk_id)
    return len(ids)


def sweep(model: type[Chunk], run_model, task: str, finalize, stale_s: float) -> tuple[int, int]:
    """Housekeeping of one kind of chunked job: the chunks dead workers left (or whose message
    was lost) are sent again as `task`; runs whose chunks are all done but were not finalised are
    finalised. Returns (chunks sent, runs finalised)."""
    resent = 0
    for chunk_id in stale(model, run_model.RUNNING, stale_s):
        send_now(task, chunk_id)
        resent += 1
    finalized = 0
    for run_id in run_model.objects.filter(status=run_model.RUNNING, chunks_done__gte=F("chunks_total")) \
            .values_list("pk", flat=True):
        finalize(run_id)
        finalized += 1
    return resent, finalized
