"""Quality checks leave a web process in batches (labeling.jobs.outbox): many submissions, one message
per task; and what no message delivered is caught up by housekeeping."""
from __future__ import annotations

import time
from io import StringIO

import pytest
from django.core.management import call_command

from labeling.quality import gold, frame_scoring
from labeling.jobs import outbox
from labeling import tasks
from labeling.models import FrameAgreement, GoldCheck, ReviewItem
from tests.conftest import make_frames
from tests.test_quality import box, label, pair  # noqa: F401 - the fixture


@pytest.fixture
def broker(monkeypatch):
    """What reaches the broker: (task, calls) per message; with `.down = True` it refuses them all."""
    from config.celery import app

    class Broker(list):
        down = False

    sent = Broker()

    def send_task(name, args=(), **kwargs):
        if sent.down:
            raise ConnectionError("broker unreachable")
        sent.append((name.rsplit(".", 1)[-1], args[0]))

    monkeypatch.setattr(app, "send_task", send_task)
    return sent


@pytest.fixture
def not_eager(settings):
    from config.celery import app

    settings.AERIE_OUTBOX_FLUSH_S = 0.05
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = True
    outbox.flush()


def test_many_checks_leave_as_one_message_per_task(not_eager, broker):
    sent = broker
    for frame_id in range(1, 41):
        outbox.add("frame_agreement", 7, frame_id)
    outbox.add("gold_check", 99)
    deadline = time.monotonic() + 5
    while len(sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(kind for kind, _ in sent) == ["frame_agreement_many", "gold_check_many"]  # two messages, not 41
    calls = dict(sent)
    assert calls["frame_agreement_many"] == [[7, n] for n in range(1, 41)] and calls["gold_check_many"] == [[99]]
    assert outbox.flush() == 0  # nothing is sent twice


@pytest.mark.parametrize("catch_up_with", ["housekeeping", "score_pending"])
def test_checks_a_broker_outage_lost_are_caught_up(project, users, pair, not_eager, broker, catch_up_with):
    broker.down = True
    frames = make_frames(project, 3)
    gold.mark(project, frames[2], users["qa"], payload={"boxes": [box(x=10)], "tags": []})
    project.gold_rate = 1.0
    project.save()
    a, b = pair
    on_gold = [label(project, a, {"boxes": [box("car", x=10)]}),  # the gold frame first, for certain
               label(project, b, {"boxes": [box(x=10)]})]
    assert {g.frame_id for g in on_gold} == {frames[2].pk}
    first, second = label(project, a, {"boxes": [box(x=10)]}), label(project, b, {"boxes": [box(x=300)]})
    assert first.frame_id == second.frame_id
    outbox.flush()  # fails: logged, not raised
    assert not GoldCheck.objects.exists() and not FrameAgreement.objects.exists()
    assert gold.pending_checks(project.pk) == [g.pk for g in on_gold]
    if catch_up_with == "score_pending":
        out = StringIO()
        call_command("score_pending", project=project.pk, stdout=out)
        assert "scored 1 frame(s)" in out.getvalue() and "2 gold check(s), 1 failed" in out.getvalue()
    if catch_up_with == "housekeeping":
        done = tasks.housekeeping()
        assert done["gold_checks_caught_up"] == 2 and done["frames_caught_up"] == 1
    assert not GoldCheck.objects.get(annotation=on_gold[0]).passed and GoldCheck.objects.get(annotation=on_gold[1]).passed
    assert ReviewItem.objects.filter(reason=ReviewItem.GOLD, frame=frames[2]).exists()
    assert FrameAgreement.objects.exists() and frame_scoring.pending_frames(project.pk) == []
    assert gold.pending_checks(project.pk) == []
    assert tasks.housekeeping()["gold_checks_caught_up"] == 0  # idempotent: nothing left


def test_work_from_before_a_frame_became_gold_is_not_checked(project, users, pair):
    frame = make_frames(project, 1)[0]
    a, _ = pair
    before = label(project, a, {"boxes": [box(x=10)]})
    gold.mark(project, frame, users["qa"], payload={"boxes": [box(x=10)], "tags": []})
    assert before.frame_id == frame.pk and gold.pending_checks(project.pk) == []
