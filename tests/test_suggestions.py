"""Model suggestions: the current detector's boxes kept with each frame score are offered on the
frame and segment pages (as tracks in segments), except to the first annotator(s) of each frame or
segment; accepted boxes keep their provenance (suggestion, adjusted, with the model version)."""
import numpy as np
import pytest

from labeling.models import AnnotationBox, FrameScore, ModelVersion, ScoringRun
from labeling.sampling import association, nets
from labeling.work import queue, segments
from labeling.work.payloads import SubmissionError
from tests.conftest import api_client, make_frames

pytestmark = pytest.mark.django_db


def detector(project, current=True) -> ModelVersion:
    """A registered detector version (its weights are not loaded here: suggestions read its scores)."""
    return ModelVersion.objects.create(project=project, kind=ModelVersion.DETECTOR, architecture="test",
                                       ontology_version=project.ontology_version, class_map=["person", "car"],
                                       blob_name="none", sha256="0" * 64, signature="-", key_id="-",
                                       is_current=current)


def scored(project, version, boxes_by_frame: dict):
    run = ScoringRun.objects.create(project=project, detector=version, strategy="margin", reason="test",
                                    status=ScoringRun.DONE)
    FrameScore.objects.bulk_create(FrameScore(run=run, frame=frame, score=0.5, embedding=[0.0], detections=boxes)
                                   for frame, boxes in boxes_by_frame.items())
    return run


def det(x, cls="person", score=0.9, y=20, w=30, h=40):
    return {"class": cls, "score": score, "x": x, "y": y, "w": w, "h": h}


def test_the_first_annotator_sees_no_suggestions_the_second_does(project, users):
    project.overlap = 2
    project.save()
    frames = make_frames(project, 2)
    version = detector(project)
    scored(project, version, {frames[0]: [det(10), det(200, "car", 0.4)]})
    first, second = api_client(users["annotator"]), api_client(users["qa"])
    assert first.post(f"/api/projects/{project.pk}/next/").data["suggestions"] is None  # blind: works unaided
    offered = second.post(f"/api/projects/{project.pk}/next/").data
    assert offered["frame"]["id"] == frames[0].pk
    assert offered["suggestions"] == {"model_version": version.pk, "boxes": [det(10), det(200, "car", 0.4)]}
    project.blind_annotators = 0
    project.save()
    assert first.post(f"/api/projects/{project.pk}/next/").data["suggestions"]["model_version"] == version.pk


def test_accepted_and_adjusted_suggestions_keep_their_provenance(project, users):
    project.blind_annotators = 0
    project.save()
    make_frames(project, 1)
    version = detector(project)
    client = api_client(users["annotator"])
    lease = client.post(f"/api/projects/{project.pk}/next/").data["assignment"]["id"]
    boxes = [{"class": "person", "x": 10, "y": 20, "w": 30, "h": 40, "source": "suggestion",
              "model_version": version.pk},
             {"class": "car", "x": 100, "y": 20, "w": 30, "h": 40, "source": "adjusted", "model_version": version.pk},
             {"class": "car", "x": 300, "y": 20, "w": 30, "h": 40}]
    answered = client.post(f"/api/assignments/{lease}/submit/", {"boxes": boxes, "tags": []}, format="json")
    assert answered.status_code == 201, answered.data
    stored = list(AnnotationBox.objects.order_by("x").values_list("source", "model_version_id"))
    assert stored == [("suggestion", version.pk), ("adjusted", version.pk), ("drawn", None)]
    assert [b.get("source") for b in answered.data["boxes"]] == ["suggestion", "adjusted", None]


def test_a_suggestion_of_another_projects_model_is_refused(project, users):
    from labeling.models import Dataset, Project

    make_frames(project, 1)
    elsewhere = Project.objects.create(name="Elsewhere", dataset=Dataset.objects.create(name="other"),
                                       ontology_version=project.ontology_version)
    foreign = detector(elsewhere)
    client = api_client(users["annotator"])
    lease = client.post(f"/api/projects/{project.pk}/next/").data["assignment"]["id"]
    refused = client.post(f"/api/assignments/{lease}/submit/", {"boxes": [
        {"class": "person", "x": 1, "y": 1, "w": 5, "h": 5, "source": "suggestion", "model_version": foreign.pk}]},
        format="json")
    assert refused.status_code == 400 and refused.data["field"] == "boxes[0].model_version"
    assert not AnnotationBox.objects.exists()


def test_segment_suggestions_come_as_tracks_thinned_to_keyframes(project, users):
    project.work_unit, project.segment_length, project.segment_shared, project.blind_annotators = "segment", 20, 4, 0
    project.save()
    frames = make_frames(project, 20)
    version = detector(project)
    # a person walking right at 3 px a frame (frames 0-15), and a car seen once (noise)
    scored(project, version, {f: [det(10 + 3 * f.index)] + ([det(400, "car")] if f.index == 5 else [])
                              for f in frames[:16]})
    lease = queue.next_lease(project, users["annotator"])
    state = segments.state(project, users["annotator"], lease.assignment)
    offered = state["suggestions"]
    assert offered["model_version"] == version.pk and len(offered["tracks"]) == 1
    track = offered["tracks"][0]
    assert track["class"] == "person" and (track["first"], track["last"]) == (0, 15)
    assert [k["frame"] for k in track["keyframes"]] == [0, 15, 16]  # straight motion: two keyframes, then it ends
    assert track["keyframes"][-1] == {"frame": 16, "outside": True}
    accepted = {"tracks": [{"track_id": 1, "class": "person", "keyframes": [
        {**k, "source": "suggestion", "model_version": version.pk} if not k.get("outside") else k
        for k in track["keyframes"]]}], "tags": []}
    segments.submit(lease.assignment.pk, users["annotator"], accepted)
    boxes = AnnotationBox.objects.filter(annotation__assignment=lease.assignment, outside=False)
    assert boxes.count() == 16 and boxes.filter(source="suggestion").count() == 2
    assert boxes.filter(source="interpolated", x=10 + 3 * 7).count() == 1  # interpolation reproduces the walk


def test_a_suggested_keyframe_without_its_model_is_refused(project, users):
    project.work_unit, project.segment_length, project.segment_shared = "segment", 20, 4
    project.save()
    make_frames(project, 20)
    lease = queue.next_lease(project, users["annotator"])
    with pytest.raises(SubmissionError, match="model_version"):
        segments.submit(lease.assignment.pk, users["annotator"], {"tracks": [{"track_id": 1, "class": "person",
                        "keyframes": [{"frame": 0, "x": 1, "y": 1, "w": 5, "h": 5, "source": "adjusted"}]}]})


# ---------------------------------------------------------------------------- pure association

def test_association_follows_two_crossing_objects_and_drops_a_one_frame_blip():
    dets = {f: [association.Detection("person", 0.9, (10 + 5 * f, 50, 20, 40)),
                association.Detection("person", 0.8, (200 - 5 * f, 52, 20, 40))] for f in range(10)}
    dets[4].append(association.Detection("car", 0.5, (300, 300, 50, 30)))
    tracks = association.associate(dets)
    assert len(tracks) == 2
    starts = sorted(t.boxes[0][0] for t in tracks)
    assert starts == [10, 200]
    for t in tracks:  # each keeps its identity through the crossing (constant-velocity prediction)
        xs = [b[0] for b in t.boxes]
        assert xs == sorted(xs) or xs == sorted(xs, reverse=True)


def test_a_gap_longer_than_allowed_ends_a_track():
    dets = {f: [association.Detection("car", 0.9, (float(f), 0, 10, 10))] for f in (0, 1, 9, 10)}  # steady motion
    assert [t.frames for t in association.associate(dets, max_gap=3)] == [[0, 1], [9, 10]]
    assert [t.frames for t in association.associate(dets, max_gap=8)] == [[0, 1, 9, 10]]


def test_keyframes_keep_the_turns_of_a_path():
    frames = list(range(21))
    straight = [(5.0 * f, 0.0, 20.0, 20.0) for f in frames]
    assert association.keyframes(frames, straight) == [0, 20]
    turning = [(5.0 * f, 0.0, 20.0, 20.0) if f <= 10 else (50.0, 5.0 * (f - 10), 20.0, 20.0) for f in frames]
    kept = association.keyframes(frames, turning)
    assert kept[0] == 0 and kept[-1] == 20 and any(9 <= k <= 11 for k in kept) and len(kept) <= 5


def test_the_detector_rows_become_plain_suggestions():
    import torch

    found = {"boxes": torch.tensor([[10.0, 20.0, 40.0, 60.0], [0.0, 0.0, 5.0, 5.0], [1.0, 1.0, 2.0, 2.0]]),
             "labels": torch.tensor([2, 1, 1]), "scores": torch.tensor([0.9, 0.3, 0.1])}
    rows = nets._detections(found)
    assert [(k, round(s, 2)) for k, s, *_ in rows] == [(1, 0.9), (0, 0.3)]  # label 1 is the first class; 0.1 too low
    assert rows[0][2:] == (10.0, 20.0, 40.0, 60.0)
    assert np.isclose(nets.SUGGESTION_SCORE, 0.25)


def test_the_dashboard_counts_accepted_adjusted_and_drawn_boxes_per_model_and_class(project, users):
    from labeling.quality import dashboard

    project.blind_annotators = 0
    project.save()
    make_frames(project, 2)
    version = detector(project)
    for who in ("annotator", "qa"):
        client = api_client(users[who])
        lease = client.post(f"/api/projects/{project.pk}/next/").data["assignment"]["id"]
        client.post(f"/api/assignments/{lease}/submit/", {"boxes": [
            {"class": "person", "x": 10, "y": 20, "w": 30, "h": 40, "source": "suggestion", "model_version": version.pk},
            {"class": "person", "x": 60, "y": 20, "w": 30, "h": 40,
             "source": "adjusted" if who == "qa" else "suggestion", "model_version": version.pk},
            {"class": "car", "x": 200, "y": 20, "w": 30, "h": 40}], "tags": []}, format="json")
    rows = {r["class"]: r for r in dashboard.suggestion_acceptance(project)}
    assert (rows["person"]["accepted"], rows["person"]["adjusted"], rows["person"]["drawn"]) == (3, 1, 0)
    assert rows["person"]["acceptance"] == pytest.approx(0.75) and rows["car"]["acceptance"] == 0.0
    assert rows["car"]["model_version"] == version.pk
