"""The sampler end to end on real demo frames: training registers a signed model, scoring (in a
real Celery worker) reorders the queue, chunks survive dead workers, a new current model
re-scores, and the schedule finds due projects."""
from __future__ import annotations

import io
import time

import pytest
import torch
from django.utils import timezone

from labeling.footage import ingest
from labeling.work import queue
from labeling.models import (Annotation, AuditEvent, FrameScore, ModelVersion, QueueItem, ScoringChunk, ScoringRun,
                             TrainingRun)
from labeling.sampling import registry, scoring, strategies, training
from labeling.work.submissions import store
from labeling.work.payloads import CleanBox, CleanTag, classes_of

from . import media

pytestmark = pytest.mark.django_db


def ingest_clip(project, name: str, stride: int):
    job = ingest.create_job(project.dataset, media.upload(media.bikes_path()), sequence_name=name, stride=stride,
                            enqueue=False)  # run here: a real worker may be listening
    job = ingest.run_job(job.pk)
    assert job.status == "done", job.message
    queue.sync_queue(project)
    return list(job.sequence.frames.order_by("index"))


def approve(project, frame, boxes, tags=()):
    classes = classes_of(project.ontology_version_id)
    return store(project=project, frame=frame, source=Annotation.CONSENSUS, status=Annotation.APPROVED,
                 created_by=None,
                 boxes=[CleanBox(classes[k], x, y, w, h, {}, None) for k, x, y, w, h in boxes],
                 tags=[CleanTag(classes[t], {}, None) for t in tags])


@pytest.fixture
def footage(project):
    """Two sequences of the real bikes clip (every 25th frame), 4 approved frames in each."""
    a = ingest_clip(project, "street-a", 25)
    b = ingest_clip(project, "street-b", 31)
    for i, frame in enumerate(a[:4] + b[:4]):
        w, h = frame.width, frame.height
        approve(project, frame, [("person", w * 0.1 + 5 * i, h * 0.2, w * 0.1, h * 0.3),
                                 ("car", w * 0.5, h * 0.5, w * 0.3, h * 0.2)],
                tags=["crowd"] if i % 2 else [])
    return a, b


def signed_random_model(project, architecture="fasterrcnn_mobilenet_v3_large_320_fpn", seed=0):
    kind = registry.ARCHITECTURES[architecture]
    class_map = training.class_map_for(project, kind)
    torch.manual_seed(seed)
    buffer = io.BytesIO()
    torch.save(registry.build(architecture, len(class_map)).state_dict(), buffer)
    data = buffer.getvalue()
    return registry.register(project, data, architecture=architecture, class_map=class_map,
                             signature=registry.sign(data, architecture, class_map))


def test_training_a_detector_registers_a_signed_version_with_metrics_and_lineage(project, footage, users):
    run = training.start(project, ModelVersion.DETECTOR, user=users["trainer"], make_current=True, epochs=2,
                         batch_size=4)
    run = training.run(run.pk)
    assert run.status == TrainingRun.DONE, run.message
    assert [e["epoch"] for e in run.progress] == [1, 2] and all("loss" in e and "map" in e for e in run.progress)
    version = run.result
    assert version.is_current and version.kind == ModelVersion.DETECTOR
    assert version.class_map == ["person", "car", "truck"]
    registry.load(version)  # hash and signature check out with this installation's key
    assert version.metrics["split"] == "sequence" and version.metrics["train_frames"] + \
        version.metrics["val_frames"] == 8 and version.metrics["val_frames"] == 4
    assert version.lineage["approved_snapshot"]["frames"] == 8
    assert version.lineage["approved_snapshot"]["boxes"] == 16
    assert version.lineage["from_scratch"] is True and len(version.lineage["val_sequences"]) == 1
    assert AuditEvent.objects.filter(verb="model.register", object_id=str(version.pk)).exists()

    # the next run fine-tunes the current version
    again = training.run(training.start(project, ModelVersion.DETECTOR, epochs=1).pk)
    assert again.status == TrainingRun.DONE and again.result.lineage["parent_model"] == version.pk


def test_training_the_tag_classifier(project, footage):
    run = training.run(training.start(project, ModelVersion.CLASSIFIER, epochs=1).pk)
    assert run.status == TrainingRun.DONE, run.message
    assert run.result.class_map == ["crowd"] and run.result.kind == ModelVersion.CLASSIFIER
    assert 0.0 <= run.result.metrics["tag_accuracy"] <= 1.0


def test_training_refuses_clearly_and_records_nothing(project, footage):
    with pytest.raises(training.TrainingError, match="architecture"):
        training.start(project, ModelVersion.DETECTOR, architecture="mobilenet_v3_small")
    with pytest.raises(training.TrainingError, match="epochs"):
        training.start(project, ModelVersion.DETECTOR, epochs=0)
    with pytest.raises(training.TrainingError, match="unknown training parameter"):
        training.start(project, ModelVersion.DETECTOR, weights_url="http://example.org/w.pt")
    assert not TrainingRun.objects.exists()


def test_training_needs_approved_labels(project):
    with pytest.raises(training.TrainingError, match="approved labels"):
        training.start(project, ModelVersion.DETECTOR)
    assert not TrainingRun.objects.exists()


def _wait(predicate, timeout=240.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.5)
    return False


@pytest.mark.django_db(transaction=True)
def test_a_new_current_model_rescores_the_queue_in_a_real_worker(celery_worker_app, project, footage, monkeypatch):
    monkeypatch.setattr(scoring, "CHUNK_SIZE", 7)
    project.sampling_batch, project.sampling_min_gap = 5, 3
    project.save()
    version = signed_random_model(project)
    registry.make_current(version)  # -> start_scoring -> chunks -> finalize, all in the worker
    assert _wait(lambda: ScoringRun.objects.filter(project=project, status=ScoringRun.DONE).exists()), \
        list(ScoringRun.objects.values())
    run = ScoringRun.objects.get(project=project)
    assert run.reason == "new current model" and run.detector_id == version.pk
    open_items = QueueItem.objects.filter(project=project, is_open=True, gold=False)
    assert run.chunks_total == (open_items.count() + 6) // 7 > 1
    scores = {s.frame_id: s for s in FrameScore.objects.filter(run=run)}
    assert set(scores) == set(open_items.values_list("frame_id", flat=True))
    assert all(len(s.embedding) == 64 for s in scores.values())
    # the detector's own boxes are kept as suggestions, in frame pixels, with their class and score
    assert all(isinstance(s.detections, list) and all(set(d) == {"class", "score", "x", "y", "w", "h"}
                                                       and d["score"] >= 0.25 for d in s.detections)
               for s in scores.values())
    # every score the queue uses is in an audit event with the model version
    audited = {}
    for event in AuditEvent.objects.filter(verb="scoring.chunk", object_id=str(run.pk)):
        assert event.data["detector"] == version.pk
        audited.update({f: s for f, s in event.data["scores"]})
    assert audited == pytest.approx({f: s.score for f, s in scores.items()}, abs=1e-5)
    # the queue follows the run's priorities: the top is the diverse batch, in pick order
    for item in open_items:
        assert item.priority == scores[item.frame_id].priority
    batch = sorted((s for s in scores.values() if s.priority >= strategies.BATCH_BASE), key=lambda s: -s.priority)
    assert len(batch) >= 2
    frames = {f.pk: f for f in footage[0] + footage[1]}
    for i, a in enumerate(batch):
        for b in batch[i + 1:]:
            fa, fb = frames[a.frame_id], frames[b.frame_id]
            assert fa.sequence_id != fb.sequence_id or abs(fa.index - fb.index) > 3
    lease = queue.next_assignment(project, project.memberships.get(user__username="ann").user)
    assert lease.frame_id == batch[0].frame_id

    # a second model becomes current: a new run re-ranks the open frames with it
    second = signed_random_model(project, seed=1)
    registry.make_current(second)
    assert _wait(lambda: ScoringRun.objects.filter(project=project, detector=second, status=ScoringRun.DONE).exists())
    new = ScoringRun.objects.get(detector=second)
    rescored = dict(FrameScore.objects.filter(run=new).values_list("frame_id", "priority"))
    assert rescored == dict(open_items.values_list("frame_id", "priority"))
    assert ScoringRun.objects.get(pk=run.pk).status == ScoringRun.DONE


def test_chunks_are_claimed_once_survive_a_dead_worker_and_write_once(project, footage, monkeypatch, settings):
    version = signed_random_model(project)
    ModelVersion.objects.filter(pk=version.pk).update(is_current=True)
    run = scoring.start_run(project, reason="by hand", chunk_size=10)
    first, *rest = scoring.pending_chunks(run.pk)
    assert scoring.claim(first, "worker-a") is not None
    assert scoring.claim(first, "worker-b") is None  # live claim: nobody else takes it
    # worker-a dies: its heartbeat goes stale and another worker takes the chunk over
    ScoringChunk.objects.filter(pk=first).update(claimed_at=timezone.now() - timezone.timedelta(minutes=10))
    assert scoring.score_chunk(first, "worker-b") == 10
    late = scoring.compute(run, ScoringChunk.objects.get(pk=first).frame_ids)
    assert scoring.store(run, first, "worker-a", late) == 0  # the dead worker's late write is dropped
    assert scoring.score_chunk(first, "worker-c") == 0  # done stays done
    assert FrameScore.objects.filter(run=run).count() == 10

    # the sweep re-sends what is left (eager here) and finalises the run
    result = scoring.sweep(stale_s=0)
    assert result["resent"] == len(rest) and ScoringRun.objects.get(pk=run.pk).status == ScoringRun.DONE
    assert ScoringChunk.objects.get(pk=first).attempts == 2
    assert QueueItem.objects.filter(project=project, is_open=True, priority__isnull=True).count() == 0

    # a newer model: until its run is finalised, the queue serves the previous run's priorities
    before = dict(QueueItem.objects.filter(project=project).values_list("frame_id", "priority"))
    second = signed_random_model(project, seed=1)
    ModelVersion.objects.filter(pk=version.pk).update(is_current=False)
    ModelVersion.objects.filter(pk=second.pk).update(is_current=True)
    newer = scoring.start_run(project, reason="new current model", chunk_size=10)
    for chunk in scoring.pending_chunks(newer.pk)[:-1]:
        scoring.score_chunk(chunk, "worker-d")
    assert dict(QueueItem.objects.filter(project=project).values_list("frame_id", "priority")) == before
    scoring.score_chunk(scoring.pending_chunks(newer.pk)[0], "worker-d")
    scoring.finalize(newer.pk)
    after = dict(QueueItem.objects.filter(project=project, is_open=True).values_list("frame_id", "priority"))
    assert after == dict(FrameScore.objects.filter(run=newer).values_list("frame_id", "priority")) != before


def test_the_schedule_rescores_due_projects_only(project, footage):
    assert scoring.rescore_due(every_s=0) == []  # no current model: nothing to do
    version = signed_random_model(project)
    ModelVersion.objects.filter(pk=version.pk).update(is_current=True)
    started = scoring.rescore_due(every_s=3600)
    assert len(started) == 1
    assert ScoringRun.objects.get(pk=started[0]).reason == "schedule"
    assert scoring.rescore_due(every_s=3600) == []  # a recent run: not due
    assert ScoringRun.objects.get().status == ScoringRun.RUNNING  # (chunks not sent: eager test, no commit)
    assert scoring.rescore_due(every_s=0) == []  # a running run is never restarted by the schedule
    ScoringRun.objects.update(status=ScoringRun.DONE, created_at=timezone.now() - timezone.timedelta(hours=2))
    assert len(scoring.rescore_due(every_s=3600)) == 1


def test_scoring_without_a_current_model_is_refused(project, footage):
    signed_random_model(project)  # registered, not current
    with pytest.raises(scoring.ScoringError, match="no current model"):
        scoring.start_run(project, reason="by hand")
    assert not ScoringRun.objects.exists()


def test_the_training_and_scoring_api(project, footage, users, django_capture_on_commit_callbacks):
    from tests.conftest import api_client

    url = f"/api/projects/{project.pk}/training/"
    assert api_client(users["annotator"]).post(url, {"kind": "classifier"}, format="json").status_code == 403
    assert api_client(users["outsider"]).post(url, {"kind": "classifier"}, format="json").status_code == 404
    bad = api_client(users["trainer"]).post(url, {"kind": "classifier", "epochs": 0}, format="json")
    assert bad.status_code == 400 and "epochs" in str(bad.json())
    refused = api_client(users["trainer"]).post(f"/api/projects/{project.pk}/scoring/")
    assert refused.status_code == 400 and "no current model" in str(refused.json())
    assert not TrainingRun.objects.exists() and not ScoringRun.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        ok = api_client(users["trainer"]).post(url, {"kind": "classifier", "epochs": 1, "make_current": True},
                                               format="json")
    assert ok.status_code == 202, ok.content
    run = TrainingRun.objects.get(pk=ok.json()["id"])
    assert run.status == TrainingRun.DONE and run.result.is_current
    listed = api_client(users["trainer"]).get(url).json()
    assert listed[0]["id"] == run.pk and listed[0]["progress"][0]["epoch"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        started = api_client(users["admin"]).post(f"/api/projects/{project.pk}/scoring/")
    assert started.status_code == 202 and started.json()["reason"] == "by hand"


def test_scoring_flags_frames_the_model_finds_graphic(project, footage):
    from labeling.demo import ensure_ontology
    from labeling.models import Frame, ProtectionPolicy, SensitivityFlag

    project.ontology_version = ensure_ontology()  # the demo ontology: "casualty" is a sensitive box class
    project.save()
    ProtectionPolicy.objects.create(project=project, model_threshold=0.01)  # a random model clears it
    version = signed_random_model(project)
    assert "casualty" in version.class_map
    ModelVersion.objects.filter(pk=version.pk).update(is_current=True)
    run = scoring.start_run(project, reason="by hand", chunk_size=100)
    scoring.score_chunk(scoring.pending_chunks(run.pk)[0], "worker")
    flags = SensitivityFlag.objects.filter(source=SensitivityFlag.MODEL, model_version=version)
    scored = set(FrameScore.objects.filter(run=run).values_list("frame_id", flat=True))
    assert flags.exists() and set(flags.values_list("frame_id", flat=True)) <= scored
    assert all(f.score >= 0.01 for f in flags)
    assert Frame.objects.filter(pk__in=flags.values("frame_id"), sensitive=True).count() == flags.count()
