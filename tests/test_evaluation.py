"""Evaluation sets (frozen, signed, held out of training) and evaluation runs (a chunked job whose
metrics are COCO mAP overall, per class and per slice, with thresholds, confusions and latency)."""
from __future__ import annotations

import io
import time

import numpy as np
import pytest
import torch

from labeling.footage import blobstore
from labeling.governance import compare, evaluation, evaluation_sets, metrics
from labeling.models import AuditEvent, FrameCondition, FrameTelemetry, ModelVersion
from labeling.models.governance import EvaluationChunk, EvaluationOutput, EvaluationRun, EvaluationSet
from labeling.sampling import examples, registry, training
from tests.conftest import api_client, make_frames
from tests.labels import store_labels
from tests.media import png_bytes

pytestmark = pytest.mark.django_db


# --- pure metrics on hand-made boxes ---------------------------------------------------------------

def boxes(rows, scores=False):
    return metrics.Boxes.from_rows(rows, with_scores=scores)


def test_perfect_predictions_score_one_everywhere():
    truth = boxes([(0, "person", 10, 10, 50, 100), (1, "car", 100, 100, 80, 40), (2, "person", 0, 0, 20, 20)])
    preds = boxes([(i, k, x, y, w, h, 0.9 - i / 10) for i, k, x, y, w, h in
                   [(0, "person", 10, 10, 50, 100), (1, "car", 100, 100, 80, 40), (2, "person", 0, 0, 20, 20)]], True)
    out = metrics.evaluate([(640, 480)] * 3, truth, preds, ["person", "car", "truck"],
                           {"a": [0], "b": [1, 2], "empty": []})
    assert out["overall"] == {"map": 1.0, "map50": 1.0, "frames": 3, "boxes": 3}
    assert out["per_class"]["person"] == {"ap": 1.0, "ap50": 1.0, "boxes": 2}
    assert out["per_class"]["truck"] == {"ap": None, "ap50": None, "boxes": 0}  # no truth: not measurable
    assert out["slices"]["a"]["map"] == out["slices"]["b"]["map50"] == 1.0
    assert out["slices"]["empty"] == {"map": None, "map50": None, "frames": 0}
    assert out["thresholds"]["car"] == {"threshold": 0.8, "precision": 1.0, "recall": 1.0}
    assert out["confusions"] == []


def test_a_shifted_box_counts_at_the_iou_thresholds_it_reaches():
    truth = boxes([(0, "person", 10, 10, 50, 100)])
    # shifted right by 11.7 px: IoU = 38.3 / 61.7 = 0.62, a match at 0.50, 0.55 and 0.60 only
    preds = boxes([(0, "person", 21.7, 10, 50, 100, 0.9)], True)
    assert metrics.iou_matrix(truth.boxes, preds.boxes)[0, 0] == pytest.approx(38.3 / 61.7)
    out = metrics.evaluate([(640, 480)], truth, preds, ["person"])
    assert out["overall"]["map50"] == 1.0 and out["overall"]["map"] == pytest.approx(0.3)
    # shifted by half its width: IoU 1/3, no match at all
    far = metrics.evaluate([(640, 480)], truth, boxes([(0, "person", 35, 10, 50, 100, 0.9)], True), ["person"])
    assert far["overall"]["map"] == far["overall"]["map50"] == 0.0


def test_the_operating_threshold_and_a_confusion():
    truth = boxes([(0, "person", 0, 0, 40, 40), (1, "person", 100, 100, 40, 40), (2, "car", 0, 0, 60, 30)])
    preds = boxes([(0, "person", 0, 0, 40, 40, 0.9), (1, "person", 100, 100, 40, 40, 0.6),
                   (1, "person", 300, 300, 40, 40, 0.8),  # a false alarm between the two hits
                   (2, "person", 0, 0, 60, 30, 0.95)], True)  # a car called a person
    out = metrics.evaluate([(640, 480)] * 3, truth, preds, ["person", "car"])
    # cuts: 0.95 (0 of 2) 0.9 (1/2) 0.8 (1/3) 0.6 (2/4): F1 best at 0.6 with precision 0.5, recall 1
    assert out["thresholds"]["person"] == {"threshold": 0.6, "precision": 0.5, "recall": 1.0}
    assert out["thresholds"]["car"] == {"threshold": None, "precision": None, "recall": 0.0}
    assert out["confusions"] == [{"truth": "car", "predicted": "person", "count": 1}]
    assert out["per_class"]["car"]["ap"] == 0.0


def test_no_truth_and_no_predictions_is_null_not_one():
    out = metrics.evaluate([(64, 48)], boxes([]), boxes([], True), ["person"], {"day": [0]})
    assert out["overall"]["map"] is None and out["slices"]["day"]["map50"] is None


def test_compare_marks_slices_that_lost_more_than_the_tolerance():
    a = {"overall": {"map50": 0.6}, "slices": {"night": {"map50": 0.5, "frames": 4},
                                               "day": {"map50": 0.7, "frames": 6}, "thermal": {"map50": None}}}
    b = {"overall": {"map50": 0.61}, "slices": {"night": {"map50": 0.45, "frames": 4},
                                                "day": {"map50": 0.69, "frames": 6}, "thermal": {"map50": 0.2}}}
    rows = compare.compare(a, b, tolerance=0.02)
    assert [r["slice"] for r in rows] == ["overall", "night", "day", "thermal"]
    assert {r["slice"]: r["worse"] for r in rows} == {"overall": False, "night": True, "day": False,
                                                     "thermal": False}
    assert rows[1]["delta"] == pytest.approx(-0.05) and rows[3]["delta"] is None
    assert [r["slice"] for r in compare.regressions(a, b, 0.02)] == ["night"]


# --- evaluation sets -----------------------------------------------------------------------------

@pytest.fixture
def labeled(project):
    """Three sequences of 6 frames (real image files), frames 0-4 of each approved with a person
    (and a car on even frames; a 'crowd' tag on frame 0); frame 5 of each is not approved. Frames
    of 'dusk' are night and blurred, with positions inside a small box."""
    out = {}
    for name, color in (("dawn", (200, 180, 40)), ("noon", (40, 200, 90)), ("dusk", (30, 30, 120))):
        frames = make_frames(project, 6, sequence_name=name, width=160, height=120)
        for frame in frames:
            blobstore.put(frame.image_name, png_bytes(160, 120, color=color))
            FrameCondition.objects.create(frame=frame, brightness=40 if name == "dusk" else 150, sharpness=1,
                                          blur_effect=0.1, night=name == "dusk", blurred=name == "dusk",
                                          thermal=False, altitude_band="low", view_band="oblique")
            FrameTelemetry.objects.create(frame=frame, source="srt", latitude=51.5 if name == "dusk" else 48.1,
                                          longitude=-0.1 if name == "dusk" else 11.5)
        for frame in frames[:5]:
            labels = [{"class": "person", "x": 10 + 3 * frame.index, "y": 20, "w": 30, "h": 60}]
            if frame.index % 2 == 0:
                labels.append({"class": "car", "x": 90, "y": 60, "w": 50, "h": 30})
            store_labels(project, frame, {"boxes": labels, "tags": [{"class": "crowd"}] if frame.index == 0 else []})
        out[name] = frames
    return out


def test_a_set_freezes_approved_frames_with_their_revisions_signed_and_audited(project, users, labeled):
    eset = evaluation_sets.freeze(project, "dusk", {"sequences": ["dusk"]}, user=users["trainer"], required=True)
    dusk = labeled["dusk"]
    assert eset.frame_ids == [f.pk for f in dusk[:5]]  # frame 5 has no approved labels: not taken
    heads = evaluation_sets.approved_heads(project.pk, eset.frame_ids)
    assert eset.annotation_ids == [heads[f] for f in eset.frame_ids]
    assert eset.selection["skipped_unapproved"] == 1 and eset.required
    assert evaluation_sets.verify(eset).ok
    event = AuditEvent.objects.get(verb="evaluation_set.freeze")
    assert event.actor == users["trainer"] and event.data["manifest_sha256"] == eset.manifest_sha256
    assert event.project_id == project.pk

    by_condition = evaluation_sets.freeze(project, "night", {"conditions": {"night": True, "blurred": True}})
    by_area = evaluation_sets.freeze(project, "london", {"area": {"min_lat": 51, "max_lat": 52, "min_lon": -1,
                                                                  "max_lon": 0}})
    by_hand = evaluation_sets.freeze(project, "two", {"frame_ids": [labeled["noon"][1].pk, labeled["dawn"][2].pk]})
    assert by_condition.frame_ids == by_area.frame_ids == eset.frame_ids
    assert sorted(by_hand.frame_ids) == sorted([labeled["noon"][1].pk, labeled["dawn"][2].pk])


def test_tampering_with_a_set_is_caught(project, labeled):
    eset = evaluation_sets.freeze(project, "dawn", {"sequences": ["dawn"]})
    EvaluationSet.objects.filter(pk=eset.pk).update(frame_ids=eset.frame_ids[:-1], annotation_ids=eset.annotation_ids[:-1])
    eset.refresh_from_db()
    check = evaluation_sets.verify(eset)
    assert not check.ok and not check.manifest_ok and check.signature_ok
    # a consistent new manifest hash still needs a signature this installation made
    other = evaluation_sets.freeze(project, "noon", {"sequences": ["noon"]})
    sha = __import__("hashlib").sha256(evaluation_sets.manifest(
        project.pk, other.name, other.selection, other.frame_ids[:2], other.annotation_ids[:2])).hexdigest()
    EvaluationSet.objects.filter(pk=other.pk).update(frame_ids=other.frame_ids[:2],
                                                    annotation_ids=other.annotation_ids[:2], manifest_sha256=sha)
    other.refresh_from_db()
    check = evaluation_sets.verify(other)
    assert not check.ok and check.manifest_ok and not check.signature_ok
    version = signed_detector(project)
    with pytest.raises(evaluation.EvaluationError, match="does not verify"):
        evaluation.start_run(version, other, send=False)


@pytest.mark.parametrize("selection, message", [
    ({}, "selection"),
    ({"colour": "red"}, "unknown key"),
    ({"conditions": {"night": "yes"}}, "true or false"),
    ({"conditions": {"mood": "calm"}}, "unknown condition"),
    ({"area": {"min_lat": 1}}, "area"),
    ({"sequences": ["no-such-sequence"]}, "no approved frame"),
])
def test_bad_selections_are_refused_and_write_nothing(project, labeled, selection, message):
    with pytest.raises(evaluation_sets.EvaluationSetError, match=message):
        evaluation_sets.freeze(project, "bad", selection)
    assert not EvaluationSet.objects.exists() and not AuditEvent.objects.filter(verb__startswith="evaluation").exists()


def test_unapproved_or_foreign_frames_by_hand_are_refused(project, labeled):
    unapproved = labeled["noon"][5]
    with pytest.raises(evaluation_sets.EvaluationSetError, match=f"{unapproved.pk}.*no approved annotation"):
        evaluation_sets.freeze(project, "x", {"frame_ids": [labeled["noon"][0].pk, unapproved.pk]})
    with pytest.raises(evaluation_sets.EvaluationSetError, match="not frames of this project"):
        evaluation_sets.freeze(project, "x", {"frame_ids": [10 ** 9]})
    evaluation_sets.freeze(project, "x", {"frame_ids": [labeled["noon"][0].pk]})
    with pytest.raises(evaluation_sets.EvaluationSetError, match="already has"):
        evaluation_sets.freeze(project, "x", {"frame_ids": [labeled["noon"][1].pk]})
    assert EvaluationSet.objects.count() == 1


def test_a_label_change_after_freezing_is_reported(project, labeled):
    eset = evaluation_sets.freeze(project, "dawn", {"sequences": ["dawn"]})
    assert evaluation_sets.changes_since_freeze(eset) == []
    frame = labeled["dawn"][3]
    new = store_labels(project, frame, {"boxes": [{"class": "truck", "x": 1, "y": 1, "w": 20, "h": 20}]})
    frozen = eset.annotation_ids[eset.frame_ids.index(frame.pk)]
    assert evaluation_sets.changes_since_freeze(eset) == [{"frame": frame.pk, "frozen": frozen, "current": new.pk}]
    assert evaluation_sets.verify(eset).ok  # the set itself is unchanged: it keeps the frozen revision


def test_training_leaves_evaluation_frames_out_and_says_so_in_the_lineage(project, labeled):
    before = {ex.frame_id for ex in examples.approved_examples(project)[0]}
    assert len(before) == 15
    dusk = evaluation_sets.freeze(project, "dusk", {"sequences": ["dusk"]})
    pair = evaluation_sets.freeze(project, "pair", {"frame_ids": [labeled["dusk"][0].pk, labeled["noon"][0].pk]})
    found = {ex.frame_id for ex in examples.approved_examples(project)[0]}
    assert found == before - set(dusk.frame_ids) - set(pair.frame_ids) and len(found) == 9
    assert examples.count_approved(project) == 9
    run = training.run(training.start(project, ModelVersion.DETECTOR, epochs=1, image_size=64, batch_size=8).pk)
    assert run.status == "done", run.message
    lineage = run.result.lineage
    assert lineage["left_out_evaluation_frames"] == 6
    assert lineage["evaluation_sets_excluded"] == [{"id": dusk.pk, "name": "dusk", "frames": 5},
                                                   {"id": pair.pk, "name": "pair", "frames": 2}]
    assert lineage["approved_snapshot"]["frames"] == 9


# --- evaluation runs -----------------------------------------------------------------------------

def signed_detector(project, seed=0):
    arch = "fasterrcnn_mobilenet_v3_large_320_fpn"
    class_map = training.class_map_for(project, "detector")
    torch.manual_seed(seed)
    buffer = io.BytesIO()
    torch.save(registry.build(arch, len(class_map)).state_dict(), buffer)
    data = buffer.getvalue()
    return registry.register(project, data, architecture=arch, class_map=class_map,
                             signature=registry.sign(data, arch, class_map))


def test_a_run_goes_through_the_job_and_records_metrics_latency_and_hardware(
        project, users, labeled, monkeypatch, django_capture_on_commit_callbacks):
    eset = evaluation_sets.freeze(project, "all", {"sequences": ["dawn", "noon", "dusk"]})
    version = signed_detector(project)
    with django_capture_on_commit_callbacks(execute=True):
        run = evaluation.start_run(version, eset, users["trainer"], chunk_size=4)
    run.refresh_from_db()
    assert run.status == EvaluationRun.DONE, run.message
    assert (run.chunks_total, run.chunks_done, run.frames_done) == (4, 4, 15)
    assert EvaluationOutput.objects.filter(run=run).count() == 15
    assert all(d["class"] in version.class_map and 0 <= d["score"] <= 1
               for dets in EvaluationOutput.objects.filter(run=run).values_list("detections", flat=True) for d in dets)
    m = run.metrics
    assert set(m) == {"overall", "per_class", "slices", "thresholds", "confusions"}
    assert m["overall"]["frames"] == 15 and m["overall"]["boxes"] == 15 + 9
    assert {"night", "day", "blurred", "sharp", "visible", "altitude:low", "view:oblique", "tag:crowd",
            "sequence:dawn", "sequence:noon", "sequence:dusk"} <= set(m["slices"])
    assert m["slices"]["night"]["frames"] == 5 and m["slices"]["tag:crowd"]["frames"] == 3
    assert run.latency_ms_b1 > 0 and "threads" in run.hardware
    assert AuditEvent.objects.filter(verb="evaluation.start", actor=users["trainer"]).exists()
    assert AuditEvent.objects.get(verb="evaluation.done").data["overall"] == m["overall"]


def test_known_detections_give_known_metrics_per_class_and_slice(project, labeled, monkeypatch):
    """The run's detections are written by hand: the truth itself on dawn and noon, shifted far
    away on dusk, so dawn/noon/day score 1 and dusk/night 0."""
    monkeypatch.setattr(evaluation, "latency_ms", lambda model, tensor: 12.5)
    eset = evaluation_sets.freeze(project, "all", {"sequences": ["dawn", "noon", "dusk"]})
    version = signed_detector(project)
    run = evaluation.start_run(version, eset, send=False)
    dusk = {f.pk for f in labeled["dusk"]}
    for frame_id, ann in zip(eset.frame_ids, eset.annotation_ids):
        from labeling.models import AnnotationBox

        shift = 500 if frame_id in dusk else 0
        dets = [{"class": b.label_class.key, "score": 0.9, "x": b.x + shift, "y": b.y, "w": b.w, "h": b.h}
                for b in AnnotationBox.objects.filter(annotation_id=ann).select_related("label_class")]
        EvaluationOutput.objects.create(run=run, frame_id=frame_id, detections=dets)
    EvaluationChunk.objects.filter(run=run).update(status="done")
    EvaluationRun.objects.filter(pk=run.pk).update(chunks_done=run.chunks_total, frames_done=15)
    run = evaluation.finalize(run.pk)
    m = run.metrics
    assert run.status == EvaluationRun.DONE and run.latency_ms_b1 == 12.5
    assert m["slices"]["sequence:dawn"]["map"] == m["slices"]["day"]["map50"] == 1.0
    assert m["slices"]["sequence:dusk"]["map"] == m["slices"]["night"]["map50"] == 0.0
    assert m["per_class"]["person"]["boxes"] == 15 and m["per_class"]["car"]["boxes"] == 9
    assert m["per_class"]["truck"] == {"ap": None, "ap50": None, "boxes": 0}
    assert m["thresholds"]["person"]["precision"] == pytest.approx(10 / 15, abs=1e-3)
    assert 0 < m["overall"]["map50"] < 1
    assert evaluation.finalize(run.pk).metrics == m  # idempotent


@pytest.mark.django_db(transaction=True)
def test_a_run_in_a_real_worker(celery_worker_app, project, labeled):
    eset = evaluation_sets.freeze(project, "dawn", {"sequences": ["dawn"]})
    run = evaluation.start_run(signed_detector(project), eset, chunk_size=2)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status != EvaluationRun.RUNNING:
            break
        time.sleep(0.3)
    assert run.status == EvaluationRun.DONE, run.message
    assert run.chunks_done == 3 and set(run.metrics["slices"]) >= {"sequence:dawn", "day"}


# --- the API -------------------------------------------------------------------------------------

def test_the_api_freezes_verifies_reports_runs_and_compares_for_trainers_only(
        project, users, labeled, monkeypatch, django_capture_on_commit_callbacks):
    url = f"/api/projects/{project.pk}/evaluation-sets/"
    body = {"name": "dusk", "selection": {"sequences": ["dusk"]}, "required": True}
    for who in ("annotator", "qa"):
        assert api_client(users[who]).post(url, body, format="json").status_code == 403
    assert api_client(users["outsider"]).post(url, body, format="json").status_code == 404
    assert not EvaluationSet.objects.exists()
    bad = api_client(users["trainer"]).post(url, {**body, "selection": {"frame_ids": [labeled["dusk"][5].pk]}},
                                            format="json")
    assert bad.status_code == 400 and "no approved annotation" in bad.json()["detail"]
    made = api_client(users["trainer"]).post(url, body, format="json")
    assert made.status_code == 201 and made.json()["frames"] == 5 and made.json()["required"]
    set_id = made.json()["id"]
    assert [s["id"] for s in api_client(users["admin"]).get(url).json()] == [set_id]
    assert api_client(users["trainer"]).get(f"/api/evaluation-sets/{set_id}/verify/").json()["ok"] is True
    store_labels(project, labeled["dusk"][1], {"boxes": []})
    changes = api_client(users["trainer"]).get(f"/api/evaluation-sets/{set_id}/changes/").json()
    assert changes["changed"] == 1 and changes["changes"][0]["frame"] == labeled["dusk"][1].pk
    assert api_client(users["annotator"]).get(f"/api/evaluation-sets/{set_id}/changes/").status_code == 403

    monkeypatch.setattr(evaluation, "latency_ms", lambda model, tensor: 5.0)  # the job test measures it
    a, b = signed_detector(project, seed=0), signed_detector(project, seed=1)
    runs_url = f"/api/model-versions/{a.pk}/evaluations/"
    assert api_client(users["annotator"]).post(runs_url, {"set": set_id}, format="json").status_code == 403
    assert not EvaluationRun.objects.exists()
    assert api_client(users["trainer"]).post(runs_url, {"set": 10 ** 9}, format="json").status_code == 400
    compare_url = f"/api/model-versions/{a.pk}/compare/{b.pk}/?set={set_id}"
    missing = api_client(users["trainer"]).get(compare_url)
    assert missing.status_code == 400 and "no finished run" in missing.json()["detail"]
    for version in (a, b):
        with django_capture_on_commit_callbacks(execute=True):
            started = api_client(users["trainer"]).post(f"/api/model-versions/{version.pk}/evaluations/",
                                                        {"set": set_id}, format="json")
        assert started.status_code == 202
    listed = api_client(users["admin"]).get(runs_url).json()
    assert len(listed) == 1 and listed[0]["status"] == "done" and "night" in listed[0]["metrics"]["slices"]
    # b's metrics, made worse on the night slice than the tolerance allows
    run_b = EvaluationRun.objects.get(model_version=b)
    worse = {**run_b.metrics, "slices": {**run_b.metrics["slices"]}}
    base = EvaluationRun.objects.get(model_version=a).metrics["slices"]["night"]["map50"] or 0.0
    worse["slices"]["night"] = {**worse["slices"]["night"], "map50": base - 0.05}
    EvaluationRun.objects.filter(pk=run_b.pk).update(metrics=worse)
    answer = api_client(users["trainer"]).get(compare_url).json()
    assert answer["tolerance"] == project.promotion_tolerance and "night" in answer["worse"]
    night = next(r for r in answer["slices"] if r["slice"] == "night")
    assert night["worse"] is True and night["delta"] == pytest.approx(-0.05)
    assert api_client(users["annotator"]).get(compare_url).status_code == 403


# --- tracking projects: IDF1 and MOTA of the detector plus a plain association --------------------

def walk(n, x0=10, step=5, y=20, track=1, cls="person"):
    return {i: (np.array([track]), np.array([[x0 + step * i, y, 30, 60]], dtype=float)) for i in range(n)}


def as_detections(truth, cls="person", score=0.9):
    frames = {}
    for i, (ids, bxs) in truth.items():
        frames.setdefault(i, []).extend({"class": cls, "score": score, "x": b[0], "y": b[1], "w": b[2], "h": b[3]}
                                        for b in bxs)
    return sorted(frames.items())


def test_association_links_a_steady_detector_into_one_track_per_object():
    from labeling.governance import tracking

    truth = {"s": {i: (np.concatenate([walk(6)[i][0], walk(6, x0=200, step=-4, track=2)[i][0]]),
                       np.vstack([walk(6)[i][1], walk(6, x0=200, step=-4, track=2)[i][1]])) for i in range(6)}}
    dets = {"s": as_detections(truth["s"])}
    result = tracking.evaluate(truth, dets)
    assert result["overall"] == {"idf1": 1.0, "mota": 1.0, "id_switches": 0, "gt_boxes": 12, "fp": 0, "fn": 0}
    linked = tracking.associate(dets["s"])
    assert {int(i) for ids, _ in linked.values() for i in ids} == {1, 2}  # two tracks, never a third


def test_a_detector_that_misses_and_jumps_loses_identity_and_mota():
    from labeling.governance import tracking

    truth = {"s": walk(8)}
    frames = as_detections(truth["s"])
    frames[3] = (3, [])  # missed for a frame: the track survives the gap
    frames[6] = (6, [dict(frames[6][1][0], x=400.0)])  # a jump: a false positive and a miss
    frames[0] = (0, [dict(frames[0][1][0], score=0.2)])  # below the tracking confidence
    result = tracking.evaluate(truth, {"s": frames})["overall"]
    assert (result["fn"], result["fp"]) == (3, 1)
    assert result["mota"] == pytest.approx(1 - 4 / 8, abs=1e-3)
    assert result["idf1"] == pytest.approx(2 * 5 / (2 * 5 + 1 + 3), abs=1e-3)  # one identity across the gap: 5 of 8
    assert tracking.evaluate({"s": {0: (np.empty(0, dtype=int), np.empty((0, 4)))}}, {}) is None


def test_a_tracking_project_run_reports_idf1_and_mota_per_sequence(project, monkeypatch):
    from labeling.models import AnnotationBox
    from tests.labels import labeled_project

    monkeypatch.setattr(evaluation, "latency_ms", lambda model, tensor: 1.0)
    data = labeled_project(project, with_images=True)
    eset = evaluation_sets.freeze(project, "tracked", {"sequences": ["cam-a", "cam-b"]})
    version = signed_detector(project)
    run = evaluation.start_run(version, eset, send=False)
    swapped = data["sequences"]["cam-b"][2].pk  # the car of cam-b jumps away on its last frame
    for frame_id, ann in zip(eset.frame_ids, eset.annotation_ids):
        dets = [{"class": b.label_class.key, "score": 0.9, "x": b.x + (300 if frame_id == swapped else 0), "y": b.y,
                 "w": b.w, "h": b.h}
                for b in AnnotationBox.objects.filter(annotation_id=ann).select_related("label_class")]
        EvaluationOutput.objects.create(run=run, frame_id=frame_id, detections=dets)
    EvaluationChunk.objects.filter(run=run).update(status="done")
    EvaluationRun.objects.filter(pk=run.pk).update(chunks_done=run.chunks_total, frames_done=len(eset.frame_ids))
    tracks = evaluation.finalize(run.pk).metrics["tracking"]
    assert tracks["sequences"]["cam-a"] == {"idf1": 1.0, "mota": 1.0, "id_switches": 0, "gt_boxes": 8, "fp": 0,
                                            "fn": 0}
    assert tracks["sequences"]["cam-b"]["mota"] == pytest.approx(1 - 2 / 3, abs=1e-3)
    assert tracks["overall"]["gt_boxes"] == 11 and tracks["overall"]["fn"] == 1 and tracks["overall"]["fp"] == 1
