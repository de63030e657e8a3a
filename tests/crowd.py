"""Many people at once: each runs `work(person)` in its own thread, all released together by a
barrier, each closing its database connection at the end. Returns the errors (repr) they met."""
from __future__ import annotations

import threading

from django.db import connections


def at_once(people, work, timeout: float = 120) -> list[str]:
    start = threading.Barrier(len(people))
    errors: list[str] = []

    def run(person):
        try:
            start.wait()
            work(person)
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return errors
