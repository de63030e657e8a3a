"""Background work is sent by task name (labeling.jobs): every name the code sends is a real task,
and a message leaves only once the transaction that asked for it commits."""
import ast
import re
from pathlib import Path

import pytest
from django.db import transaction

from config.celery import app
from labeling import jobs, tasks  # noqa: F401 - registers the tasks
from labeling.jobs import outbox, send

ROOT = Path(__file__).resolve().parent.parent


def names_sent_in_code() -> set[tuple[str, str]]:
    """(file, name) of every literal task name given to enqueue / send_now in the project."""
    found = set()
    for path in (ROOT / "labeling").rglob("*.py"):
        if path.parent.name == "jobs":  # the sender itself; the outbox's names are in BATCH_TASKS
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if func in ("enqueue", "send_now"):
                first = node.args[0]
                assert isinstance(first, ast.Constant) and isinstance(first.value, str), \
                    f"{path}:{node.lineno}: a task is named by a literal string, so that this test can check it"
                found.add((str(path.relative_to(ROOT)), first.value))
    return found


def test_every_task_name_the_code_sends_is_a_registered_task():
    sent = names_sent_in_code() | {("labeling/jobs/outbox.py", n) for n in outbox.BATCH_TASKS.values()}
    assert len({name for _, name in sent}) >= 8  # ingest, exports, training, scoring x3, the outbox's two
    missing = sorted((where, name) for where, name in sent if send.task_name(name) not in app.tasks)
    assert not missing, f"not Celery tasks: {missing}"


def test_a_domain_module_never_imports_the_tasks_module():
    """tasks.py imports the domain modules; importing it back is the circle jobs.enqueue ended."""
    importing = re.compile(r"^\s*(from labeling import [^#]*\btasks\b|from labeling\.tasks import|import labeling\.tasks"
                           r"|from \.+ import [^#]*\btasks\b|from \.+tasks import)", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "labeling").rglob("*.py")
                 if p.name != "tasks.py" and importing.search(p.read_text(encoding="utf-8"))]
    assert not offenders


@pytest.fixture
def recorded_sends(monkeypatch):
    sent = []
    app.conf.task_always_eager = False  # the autouse eager fixture sets it back afterwards
    monkeypatch.setattr(app, "send_task", lambda name, args=(), **kw: sent.append((name, tuple(args))))
    return sent


@pytest.mark.django_db(transaction=True)
def test_a_message_leaves_when_the_transaction_commits_and_never_after_a_rollback(recorded_sends):
    with pytest.raises(RuntimeError), transaction.atomic():
        jobs.enqueue("export_job", 41)
        raise RuntimeError("the request failed")
    assert recorded_sends == []
    with transaction.atomic():
        jobs.enqueue("export_job", 42)
        assert recorded_sends == []  # not before the commit
    assert recorded_sends == [("labeling.tasks.export_job", (42,))]


def test_send_now_does_not_wait(db, recorded_sends):
    jobs.send_now("score_chunk", 7)
    assert recorded_sends == [("labeling.tasks.score_chunk", (7,))]
