"""Propagation: from a box, track forward or backward through a segment. Real footage with a known
truth (a piece of a real frame moving over a real clip, fixtures/known_paths.py); OpenCV's CSRT
without a model, the current detector's boxes steering it where the project has one."""
import io

import numpy as np
import pytest
from PIL import Image

from fixtures.known_paths import bikes_case
from labeling.footage import ingest
from labeling.models import FrameScore, PropagationRun, ScoringRun
from labeling.quality.agreement import iou_matrix
from labeling.sampling import propagation
from labeling.work import projects, propagation_runs, queue
from tests import media
from tests.conftest import api_client
from tests.test_suggestions import detector

pytestmark = pytest.mark.django_db

FRAMES = 30


@pytest.fixture(scope="module")
def known():
    return bikes_case(FRAMES)


def mean_iou(steps, truth) -> float:
    return float(np.mean([iou_matrix(np.array([[s.x, s.y, s.w, s.h]]), np.array([truth[s.frame]]))[0, 0]
                          for s in steps]))


@pytest.mark.parametrize("backward", [False, True])
def test_the_tracker_follows_a_known_path_either_way(known, backward):
    frames, truth = known
    order = list(range(FRAMES))[::-1] if backward else list(range(FRAMES))
    steps = list(propagation.propagate(((i, frames[i]) for i in order), truth[order[0]], size=(640, 272)))
    assert [s.frame for s in steps] == order[1:] and all(s.method == "tracker" for s in steps)
    assert mean_iou(steps, truth) >= 0.8


def test_detections_of_the_same_class_snap_the_box(known):
    frames, truth = known
    shifted = {i: [{"class": "car", "score": 0.9, "x": truth[i][0] + 2, "y": truth[i][1], "w": truth[i][2],
                    "h": truth[i][3]}, {"class": "person", "score": 0.9, "x": 0, "y": 0, "w": 10, "h": 10}]
               for i in range(0, FRAMES, 5)}
    steps = list(propagation.propagate(((i, frames[i]) for i in range(FRAMES)), truth[0], size=(640, 272),
                                       label="car", detections=lambda i: shifted.get(i, [])))
    snapped = [s for s in steps if s.method == "detector"]
    assert [s.frame for s in snapped] == [5, 10, 15, 20, 25]
    assert all(s.x == truth[s.frame][0] + 2 and s.score == 0.9 for s in snapped)
    assert mean_iou(steps, truth) >= 0.8


@pytest.fixture
def segment_lease(project, users, known):
    """The known-path frames ingested as a sequence of a segment project; the annotator's lease."""
    frames, truth = known
    archive = {}
    for i, frame in enumerate(frames):
        out = io.BytesIO()
        Image.fromarray(frame).save(out, "PNG")
        archive[f"f{i:03d}.png"] = out.getvalue()
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(media.zip_bytes(archive), "path.zip"),
                                           sequence_name="path", enqueue=False).pk)
    assert job.status == "done", job.message
    project.work_unit, project.segment_length, project.segment_shared = "segment", FRAMES, 5
    projects.save_project(project, users["admin"])  # queued anew, as one segment
    return queue.next_lease(project, users["annotator"]).assignment, truth, list(job.sequence.frames.order_by("index"))


def box_of(truth, i):
    return dict(zip("xywh", truth[i]))


def test_a_short_run_answers_at_once(segment_lease, users):
    lease, truth, _ = segment_lease
    client = api_client(users["annotator"])
    answered = client.post(f"/api/assignments/{lease.pk}/propagate/", {
        "frame": 3, "box": box_of(truth, 3), "class": "car", "direction": "forward", "frames": 8}, format="json")
    assert answered.status_code == 200, answered.data
    assert answered.data["status"] == "done" and [b["frame"] for b in answered.data["boxes"]] == list(range(4, 12))
    steps = [propagation.Step(b["frame"], b["x"], b["y"], b["w"], b["h"], b["method"], b["score"])
             for b in answered.data["boxes"]]
    assert mean_iou(steps, truth) >= 0.7


def test_a_long_run_goes_to_a_worker_and_can_be_polled(segment_lease, users):
    lease, truth, _ = segment_lease
    client = api_client(users["annotator"])
    started = client.post(f"/api/assignments/{lease.pk}/propagate/", {
        "frame": FRAMES - 1, "box": box_of(truth, FRAMES - 1), "class": "car", "direction": "backward"},
        format="json")
    assert started.status_code == 202 and started.data["frames_total"] == FRAMES - 1
    run_id = started.data["id"]
    assert client.get(f"/api/propagations/{run_id}/").data["frames_done"] == 0  # queued after the commit
    propagation_runs.run_now(run_id)  # what the worker runs (this test's transaction never commits)
    polled = client.get(f"/api/propagations/{run_id}/").data
    assert polled["status"] == "done" and [b["frame"] for b in polled["boxes"]] == list(range(FRAMES - 2, -1, -1))
    assert api_client(users["qa"]).get(f"/api/propagations/{run_id}/").status_code == 404  # not theirs


def test_a_run_resumes_from_its_last_box(segment_lease, users):
    lease, truth, _ = segment_lease
    run = propagation_runs.start(lease.pk, users["annotator"], {
        "frame": 0, "box": box_of(truth, 0), "class": "car", "direction": "forward", "frames": 20})
    PropagationRun.objects.filter(pk=run.pk).update(boxes=[{"frame": 5, **box_of(truth, 5), "method": "tracker",
                                                            "score": 1.0}])  # a worker died after frame 5
    done = propagation_runs.run_now(run.pk)
    assert [b["frame"] for b in done.boxes] == list(range(5, 21)) and done.status == "done"


def test_the_current_detector_steers_a_run(segment_lease, users, project):
    lease, truth, frames = segment_lease
    version = detector(project)
    run = ScoringRun.objects.create(project=project, detector=version, strategy="margin", reason="t",
                                    status=ScoringRun.DONE)
    FrameScore.objects.bulk_create(FrameScore(run=run, frame=f, score=0.1, embedding=[0.0], detections=[
        {"class": "car", "score": 0.8, **box_of(truth, f.index)}]) for f in frames[:10])
    done = propagation_runs.start(lease.pk, users["annotator"], {
        "frame": 0, "box": box_of(truth, 0), "class": "car", "direction": "forward", "frames": 9})
    assert done.model_version_id == version.pk
    assert [b["method"] for b in done.boxes] == ["detector"] * 9 and done.boxes[4]["x"] == truth[5][0]


@pytest.mark.parametrize("body, field", [
    ({"frame": 99, "box": {"x": 1, "y": 1, "w": 5, "h": 5}, "class": "car"}, "frame"),
    ({"frame": 1, "box": {"x": 1, "y": 1, "w": 5000, "h": 5}, "class": "car"}, "box"),
    ({"frame": 1, "box": {"x": 1, "y": 1, "w": 5, "h": 5}, "class": "crowd"}, "class"),
    ({"frame": 1, "box": {"x": 1, "y": 1, "w": 5, "h": 5}, "class": "car", "direction": "up"}, "direction"),
    ({"frame": 1, "box": {"x": 1, "y": 1, "w": 5, "h": 5}, "class": "car", "frames": 0}, "frames"),
    ({"frame": 0, "box": {"x": 1, "y": 1, "w": 5, "h": 5}, "class": "car", "direction": "backward"}, "frame"),
    ({"frame": 1, "box": {"x": 1, "y": 1, "w": "5", "h": 5}, "class": "car"}, "box.w"),
])
def test_bad_requests_name_the_field_and_start_nothing(segment_lease, users, body, field):
    lease, _, _ = segment_lease
    answered = api_client(users["annotator"]).post(f"/api/assignments/{lease.pk}/propagate/", body, format="json")
    assert answered.status_code == 400 and answered.data["field"] == field
    assert not PropagationRun.objects.exists()


def test_housekeeping_sends_a_stale_run_again(segment_lease, users):
    from django.utils import timezone

    lease, truth, _ = segment_lease
    run = propagation_runs.start(lease.pk, users["annotator"], {
        "frame": 0, "box": box_of(truth, 0), "class": "car", "direction": "forward"})
    old = timezone.now() - timezone.timedelta(minutes=5)
    PropagationRun.objects.filter(pk=run.pk).update(created_at=old, heartbeat_at=None)
    assert propagation_runs.sweep() == 1  # eager here: it runs again inline
    assert PropagationRun.objects.get(pk=run.pk).status == "done"
