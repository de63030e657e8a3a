"""Quality checks leave the request in batches: a per-process outbox.

A submission that completes a frame's round (or lands on a gold frame) needs a background check.
Publishing one Celery message per submission cost the submit request more CPU than the rest of
the submission together (bench/queue.py; about 4 ms each on the filesystem broker, ~1 ms on
Redis). So the request only appends the check to this process's outbox, and a daemon thread
sends what gathered every AERIE_OUTBOX_FLUSH_S (default 0.25 s) as one message per task:
`frame_agreement_many` and `gold_check_many`. A QA lead sees a disagreement a quarter of a
second later; the web process sends a few messages a second instead of hundreds.

Nothing is lost with a message: the submission itself is already committed. If the process dies
before its outbox is sent, or the broker is down, the frames are still found by
`quality.pending_frames` (celery beat's housekeeping and `manage.py score_pending`); gold checks
are re-run by `gold.pending_checks`. With CELERY_TASK_ALWAYS_EAGER (tests, embedded runs without
a worker), checks are sent at once, inline."""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from django.conf import settings

from labeling.jobs import send

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pending: dict[str, list] = {}
_flusher: threading.Thread | None = None
_flusher_pid: int | None = None


def add(task_name: str, *args) -> None:
    """Queue one call of `task_name` (frame_agreement or gold_check) with args."""
    if send.eager():
        _send({task_name: [list(args)]})
        return
    with _lock:
        _pending.setdefault(task_name, []).append(list(args))
        _ensure_flusher()


def flush() -> int:
    """Send everything queued now; returns how many checks went out."""
    with _lock:
        batch = {name: calls for name, calls in _pending.items() if calls}
        _pending.clear()
    return _send(batch) if batch else 0


#: the task that takes a batch of each kind of check
BATCH_TASKS = {"frame_agreement": "frame_agreement_many", "gold_check": "gold_check_many",
               "segment_agreement": "segment_agreement_many"}


def _send(batch: dict[str, list]) -> int:
    sent = 0
    for name, calls in batch.items():
        try:
            send.send_now(BATCH_TASKS[name], calls)
            sent += len(calls)
        except Exception:  # noqa: BLE001 - the work is stored; housekeeping and score_pending catch up
            log.exception("could not queue %d %s check(s); housekeeping (or manage.py score_pending) will "
                          "catch up", len(calls), name)
    return sent


def _ensure_flusher() -> None:
    """One daemon thread per process (started again in a forked child). Call with _lock held."""
    global _flusher, _flusher_pid
    if _flusher is not None and _flusher_pid == os.getpid() and _flusher.is_alive():
        return
    _flusher_pid = os.getpid()
    _flusher = threading.Thread(target=_run, name="aerie-outbox", daemon=True)
    _flusher.start()


def _run() -> None:
    while True:
        time.sleep(float(getattr(settings, "AERIE_OUTBOX_FLUSH_S", 0.25)))
        try:
            flush()
        except Exception:  # noqa: BLE001 - keep the thread alive; the next round retries
            log.exception("outbox flush failed")


atexit.register(flush)
