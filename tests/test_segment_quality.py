"""Agreement and review for tracks: when a segment's overlap-th submission lands, the annotators'
tracks are compared (IDF1, CLEAR-MOT); at or above the threshold the fused tracks are approved
with identities stitched to the neighbouring segments on the shared frames, so an exported MOT
track does not break at a segment border; below it the segment goes to QA review."""
import io
import zipfile

import pytest

from labeling.exchange import exports
from labeling.models import Annotation, ReviewItem, SegmentAgreement
from labeling.quality import segment_scoring
from labeling.work import queue, segments
from tests.conftest import make_frames

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(project, users):
    project.work_unit, project.segment_length, project.segment_shared, project.overlap = "segment", 20, 4, 2
    project.save()
    make_frames(project, 36, width=320, height=240)  # segments 0–19 and 16–35
    return project, users["annotator"], users["qa"]


def walker(track_id, start, x0, frames=(0, 19), cls="person", step=5, outside=None):
    keys = [{"frame": frames[0], "x": x0, "y": 50, "w": 30, "h": 60},
            {"frame": frames[1], "x": x0 + step * (frames[1] - frames[0]), "y": 50, "w": 30, "h": 60}]
    if outside is not None:
        keys.append({"frame": outside, "outside": True})
    return {"track_id": track_id, "class": cls, "keyframes": keys}


def label_segment(project, person, tracks, tags=()):
    lease = queue.next_lease(project, person).assignment
    return lease, segments.submit(lease.pk, person, {"tracks": tracks, "tags": list(tags)})


def test_agreeing_annotators_get_their_fused_tracks_approved(two, django_capture_on_commit_callbacks):
    project, a, b = two
    label_segment(project, a, [walker(1, 0, 10, step=3), walker(2, 0, 200, cls="car", step=-4)])
    with django_capture_on_commit_callbacks(execute=True):  # the last submission sends the check
        label_segment(project, b, [walker(7, 0, 11, step=3), walker(9, 0, 201, cls="car", step=-4)])
    made = SegmentAgreement.objects.get()
    assert made.passed and made.idf1 == pytest.approx(1.0) and made.pairs[0]["id_switches"] == 0
    approved = Annotation.objects.filter(status="approved", annotator__isnull=True, superseded_by__isnull=True)
    assert approved.count() == 20
    tracks = sorted({b.track_id for ann in approved for b in ann.boxes.all()})
    assert tracks == [1, 2]  # new identities for the project, one per object across the segment
    assert not ReviewItem.objects.exists()
    assert segment_scoring.evaluate_segment(project.pk, made.segment_id).passed  # again: nothing new written
    assert Annotation.objects.filter(status="approved").count() == 20


def test_a_missed_track_sends_the_segment_to_review(two):
    project, a, b = two
    label_segment(project, a, [walker(1, 0, 10), walker(2, 0, 200, cls="car", step=-4)])
    lease, _ = label_segment(project, b, [walker(1, 0, 10)])
    segment = segments.segment_of(lease)
    made = segment_scoring.evaluate_segment(project.pk, segment.pk)
    assert not made.passed and made.idf1 < project.agreement_threshold
    item = ReviewItem.objects.get()
    assert item.segment_id == segment.pk and item.reason == "disagreement" and item.classes == ["car"]
    assert item.frame.index == segment.first_index
    assert not Annotation.objects.filter(status="approved").exists()


def test_identity_switches_count_against_a_segment(two):
    project, a, b = two
    # b swaps the two people's identities half way: the boxes agree frame by frame, the tracks do not
    label_segment(project, a, [walker(1, 0, 10, step=0), walker(2, 0, 100, step=0)])
    swapped = [{"track_id": 1, "class": "person", "keyframes": [
        {"frame": 0, "x": 10, "y": 50, "w": 30, "h": 60}, {"frame": 9, "x": 10, "y": 50, "w": 30, "h": 60},
        {"frame": 10, "x": 100, "y": 50, "w": 30, "h": 60}]},
        {"track_id": 2, "class": "person", "keyframes": [
            {"frame": 0, "x": 100, "y": 50, "w": 30, "h": 60}, {"frame": 9, "x": 100, "y": 50, "w": 30, "h": 60},
            {"frame": 10, "x": 10, "y": 50, "w": 30, "h": 60}]}]
    lease, _ = label_segment(project, b, swapped)
    made = segment_scoring.evaluate_segment(project.pk, segments.segment_of(lease).pk)
    assert made.pairs[0]["id_switches"] == 2 and made.idf1 == pytest.approx(0.5)
    assert not made.passed


def test_tracks_are_stitched_across_segment_borders_in_the_mot_export(two, users):
    project, a, b = two
    # one person walks through both segments; the annotators number their tracks as they like
    label_segment(project, a, [walker(3, 0, 10, frames=(0, 19), step=5)])
    label_segment(project, b, [walker(8, 0, 10, frames=(0, 19), step=5)])
    label_segment(project, a, [walker(5, 0, 90, frames=(16, 35), step=5)])
    lease, _ = label_segment(project, b, [walker(6, 0, 90, frames=(16, 35), step=5)])
    first, second = sorted({s.pk for s in segments.Segment.objects.filter(project=project)})
    assert segment_scoring.evaluate_segment(project.pk, second).passed  # the later one first: order does not matter
    assert segment_scoring.evaluate_segment(project.pk, first).passed
    heads = Annotation.objects.filter(status="approved", annotator__isnull=True, superseded_by__isnull=True)
    assert heads.count() == 36  # one approved revision per frame, shared frames included
    assert {b.track_id for h in heads for b in h.boxes.all()} == {1}
    export = exports.run(exports.create(project, users["trainer"], format="mot").pk)
    with exports.open_for_download(export, users["trainer"]) as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as zf:
        gt = zf.read(next(n for n in zf.namelist() if n.endswith("gt/gt.txt"))).decode().splitlines()
    assert len(gt) == 36 and {line.split(",")[1] for line in gt} == {"1"}  # one MOT identity, no break at 16–19


def test_pending_segments_are_caught_up(two):
    project, a, b = two
    label_segment(project, a, [walker(1, 0, 10)])
    label_segment(project, b, [walker(1, 0, 10)])
    assert len(segment_scoring.pending_segments(project.pk)) == 1
    assert segment_scoring.catch_up()["segments_caught_up"] == 1
    assert segment_scoring.pending_segments(project.pk) == []


def test_outside_occluded_and_provenance_travel_in_the_exports(two, users, tmp_path):
    """A track that leaves the view and comes back, occluded for a while, partly from a model's
    suggestion: MOT has no line while it is outside and visibility below datumaro's occlusion
    threshold while occluded (read back by datumaro and TrackEval); COCO says which boxes were
    suggested."""
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset

    from tests.test_exports import export_bytes, extract, members, trackeval_self_scores
    from tests.test_suggestions import detector

    project, a, b = two
    version = detector(project)
    track = {"track_id": 1, "class": "person", "keyframes": [
        {"frame": 0, "x": 10, "y": 50, "w": 30, "h": 60, "source": "suggestion", "model_version": version.pk},
        {"frame": 5, "x": 35, "y": 50, "w": 30, "h": 60, "occluded": True},
        {"frame": 8, "outside": True},
        {"frame": 12, "x": 100, "y": 50, "w": 30, "h": 60}, {"frame": 19, "outside": True}]}
    label_segment(project, a, [track])
    lease, _ = label_segment(project, b, [track])
    assert segment_scoring.evaluate_segment(project.pk, segments.segment_of(lease).pk).passed
    mot = exports.run(exports.create(project, users["trainer"], format="mot").pk)
    files = members(export_bytes(mot))
    gt = [line.split(",") for line in files[next(n for n in files if n.endswith("gt/gt.txt"))].decode().splitlines()]
    frames = [int(row[0]) - 1 for row in gt]
    assert frames == [0, 1, 2, 3, 4, 5, 6, 7] + list(range(12, 19))  # nothing while outside (8–11, 19)
    visibility = {int(row[0]) - 1: row[8] for row in gt}
    assert [visibility[i] for i in (4, 5, 6, 7, 12)] == ["1", "0", "0", "0", "1"]
    provenance = files[next(n for n in files if n.endswith("gt/provenance.txt"))].decode().splitlines()
    assert provenance[0] == "frame,id,source,model_version" and provenance[1].endswith(",suggestion," + str(version.pk))
    extract(export_bytes(mot), tmp_path / "mot")
    sequence = next(p.name for p in (tmp_path / "mot").iterdir() if p.is_dir())
    dataset = Dataset.import_from(str(tmp_path / "mot" / sequence), "mot_seq")
    occluded = sorted(int(item.id) - 1 for item in dataset for ann in item.annotations
                      if ann.type == AnnotationType.bbox and ann.attributes.get("occluded"))
    assert occluded == [5, 6, 7]
    assert trackeval_self_scores(tmp_path / "mot", [sequence], tmp_path / "trackers") == {
        "MOTA": 1.0, "IDF1": 1.0, "IDSW": 0}
    coco = exports.run(exports.create(project, users["trainer"], format="coco").pk)
    document = __import__("json").loads(members(export_bytes(coco))["annotations/instances_default.json"])
    sources = [ann.get("provenance", {}).get("source") for ann in document["annotations"]]
    assert sources.count("suggestion") == 1 and sources.count("interpolated") == 12
    assert sum(ann["attributes"].get("occluded", False) for ann in document["annotations"]) == 3


def test_the_qa_lead_accepts_one_version_of_a_disputed_segment(two, users):
    from django.test import Client

    from labeling.quality import review

    project, a, b = two
    label_segment(project, a, [walker(1, 0, 10), walker(2, 0, 200, cls="car", step=-4)])
    lease, _ = label_segment(project, b, [walker(1, 0, 10)])
    segment = segments.segment_of(lease)
    segment_scoring.evaluate_segment(project.pk, segment.pk)
    item = ReviewItem.objects.get()
    view = review.describe(item)
    assert view["kind"] == "segment" and [v["who"] for v in view["versions"]] == [a.username, b.username]
    assert view["disputed"] == [[0, 19]]  # the car is missing from b's version all along
    assert [len(v["tracks"]) for v in view["versions"]] == [2, 1]
    client = Client()
    client.force_login(users["qa"])
    page = client.get(f"/projects/{project.pk}/review/{item.pk}/")
    assert page.status_code == 200 and b'data-testid="timelines"' in page.content and b"class=\"disputed\"" in page.content
    chosen = view["versions"][0]["annotation"]
    answered = client.post(f"/projects/{project.pk}/review/{item.pk}/decide/", {"pick": f"accept:{chosen}"})
    assert answered.status_code == 302
    item.refresh_from_db()
    assert item.status == "resolved" and item.decisions.get().decision == "accept"
    approved = Annotation.objects.filter(status="approved", superseded_by__isnull=True, annotator__isnull=True)
    assert approved.count() == 20 and all(a.source == "review" for a in approved)
    assert {b.label_class.key for ann in approved for b in ann.boxes.all()} == {"person", "car"}


def test_a_disputed_segment_sent_back_reopens_for_other_annotators(two, make_user):
    from labeling.models import Membership, QueueItem
    from labeling.quality import review

    project, a, b = two
    label_segment(project, a, [walker(1, 0, 10)])
    lease, _ = label_segment(project, b, [walker(1, 0, 200, cls="car", step=-4)])
    segment_scoring.evaluate_segment(project.pk, segments.segment_of(lease).pk)
    item = ReviewItem.objects.get()
    review.relabel(project, item.pk, a, "two different objects: label again")
    queued = QueueItem.objects.get(segment=segments.segment_of(lease))
    assert (queued.round, queued.submitted, queued.is_open) == (1, 0, True)
    c = make_user("cleo", "annotator")
    Membership.objects.create(project=project, user=c)
    assert queue.next_lease(project, c).assignment.item_id == queued.pk


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_segment_review_page_in_the_browser(page, login, live_server, project, users):
    from playwright.sync_api import expect

    from tests.conftest import ARTIFACTS

    project.work_unit, project.segment_length, project.segment_shared, project.overlap = "segment", 20, 4, 2
    project.save()
    make_frames(project, 20, width=320, height=240)
    a, b = users["annotator"], users["qa"]
    label_segment(project, a, [walker(1, 0, 10), walker(2, 0, 200, cls="car", step=-4)])
    label_segment(project, b, [walker(1, 0, 12), {"track_id": 2, "class": "car", "keyframes": [
        {"frame": 0, "x": 200, "y": 50, "w": 30, "h": 60}, {"frame": 9, "outside": True}]}])
    item = ReviewItem.objects.filter(segment__isnull=False).first() or ReviewItem.objects.get()
    login(users["qa"])
    page.goto(f"{live_server.url}/projects/{project.pk}/review/{item.pk}/")
    expect(page.get_by_test_id("timelines")).to_contain_text("frames where the annotators")
    assert page.locator("svg.timelines rect.disputed").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "review-segment.png"), full_page=True)
    page.get_by_role("button", name=f"Accept {a.username}'s tracks").click()
    expect(page.locator(".msg-success")).to_contain_text("Accepted")
    item.refresh_from_db()
    assert item.status == "resolved"
