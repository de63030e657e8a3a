"""Background work is asked for by task name, never by importing `labeling.tasks`.

`labeling/tasks.py` is the Celery entry points: it imports the domain modules and calls them. If
a domain module imported `tasks` back to call `.delay`, the two would import each other (the
import circle this module ended). So a domain module says which task it wants and with what:

    enqueue("ingest_job", job.pk)   # from labeling.jobs import enqueue

The message leaves when the current transaction commits (at once outside a transaction), so a
worker never looks for a row that is not committed yet, and a rolled-back request sends nothing.
With Celery eager (CELERY_TASK_ALWAYS_EAGER: the tests) the task runs inline, also once the
transaction commits (a test's transaction that never commits runs nothing).

`tests/test_jobs.py` checks that every name given here anywhere in the code is a registered task."""
from __future__ import annotations

import importlib

from django.db import transaction

#: the module whose Celery tasks the short names refer to
TASKS_MODULE = "labeling.tasks"


def task_name(name: str) -> str:
    """The full Celery name of a task given by its short name ("ingest_job")."""
    return name if "." in name else f"{TASKS_MODULE}.{name}"


def enqueue(name: str, *args) -> None:
    """Run task `name` with `args` in the background once the current transaction commits."""
    from config.celery import app

    full = task_name(name)
    if app.conf.task_always_eager:
        transaction.on_commit(lambda: _registered(app, full).apply(args=args))
    else:
        transaction.on_commit(lambda: app.send_task(full, args=args))


def send_now(name: str, *args) -> None:
    """Send at once, whatever transaction is open (for callers outside any: the outbox's thread);
    inline when eager. Raises what the broker raises, for the caller to log."""
    from config.celery import app

    full = task_name(name)
    if app.conf.task_always_eager:
        _registered(app, full).apply(args=args)
    else:
        app.send_task(full, args=args)


def eager() -> bool:
    """Does Celery run tasks inline in this process (CELERY_TASK_ALWAYS_EAGER; the tests)?"""
    from config.celery import app

    return bool(app.conf.task_always_eager)


def _registered(app, full: str):
    if full not in app.tasks:
        importlib.import_module(full.rsplit(".", 1)[0])  # registers the module's tasks
    return app.tasks[full]
