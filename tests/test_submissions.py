"""Submissions: validation naming the field, append-only revisions, 409 on a stale edit, drafts."""
import pytest

from labeling.work import queue, submissions, tracks
from labeling.models import Annotation, AnnotationBox, Draft
from ontology import services
from ontology.models import LabelClass
from tests.conftest import api_client, make_frames

pytestmark = pytest.mark.django_db


@pytest.fixture
def lease(project, users):
    make_frames(project, 3, width=200, height=100)
    return queue.next_assignment(project, users["annotator"])


def box(**over):
    return {"class": "person", "x": 10, "y": 10, "w": 20, "h": 30, "attributes": {"posture": "standing"}, **over}


@pytest.mark.parametrize("payload,field,message", [
    ({"boxes": [box(**{"class": "boat"})]}, "boxes[0].class", "'boat' is not a class"),
    ({"boxes": [box(), box(w=0)]}, "boxes[1].w", "must be positive"),
    ({"boxes": [box(h=-3)]}, "boxes[0].h", "must be positive"),
    ({"boxes": [box(x=190)]}, "boxes[0]", "outside the 200×100 frame"),
    ({"boxes": [box(y=-1)]}, "boxes[0]", "outside"),
    ({"boxes": [box(x="10")]}, "boxes[0].x", "must be a number"),
    ({"boxes": [box(attributes={"posture": "flying"})]}, "boxes[0].attributes.posture", "must be one of"),
    ({"boxes": [box(**{"class": "crowd"})]}, "boxes[0].class", "is a frame tag"),
    ({"boxes": [box(track_id=2), box(track_id=2)]}, "boxes[1].track_id", "already has a box"),
    ({"boxes": [box(track_id=0)]}, "boxes[0].track_id", "positive integer"),
    ({"tags": [{"class": "person"}]}, "tags[0].class", "is a box class"),
    ({"tags": [{"class": "crowd"}, {"class": "crowd"}]}, "tags[1].class", "given twice"),
    ({"boxes": "nope"}, "boxes", "must be a list"),
    ({"polygons": []}, "polygons", "is not a field"),
])
def test_bad_submissions_name_the_field_and_save_nothing(lease, users, payload, field, message):
    with pytest.raises(submissions.SubmissionError) as err:
        submissions.submit(lease, users["annotator"], payload)
    assert err.value.field == field and message in str(err.value)
    assert Annotation.objects.count() == 0
    response = api_client(users["annotator"]).post(f"/api/assignments/{lease.pk}/submit/", payload, format="json")
    assert response.status_code == 400 and response.data["field"] == field
    assert Annotation.objects.count() == 0


def test_required_attribute(project, users, lease):
    draft = services.derive(project.ontology_version)
    services.add_class(draft, key="boat", name="Boat",
                       attributes=[{"key": "kind", "type": "enum", "options": ["rib", "tug"], "required": True}])
    project.ontology_version = services.publish(draft)
    project.save()
    with pytest.raises(submissions.SubmissionError, match="boxes.0..attributes.kind: is required"):
        submissions.submit(lease, users["annotator"], {"boxes": [{"class": "boat", "x": 1, "y": 1, "w": 5, "h": 5}]})


def test_change_verdicts(project, users, lease):
    draft = services.derive(project.ontology_version)
    services.add_class(draft, key="moved", name="Moved", kind=LabelClass.CHANGE)
    project.ontology_version = services.publish(draft)
    project.save()
    with pytest.raises(submissions.SubmissionError, match="tags.0..changed"):
        submissions.submit(lease, users["annotator"], {"tags": [{"class": "moved"}]})
    with pytest.raises(submissions.SubmissionError, match="needs the frame marked as changed"):
        submissions.submit(lease, users["annotator"], {"boxes": [{"class": "moved", "x": 1, "y": 1, "w": 5, "h": 5}],
                                                       "tags": [{"class": "moved", "changed": False}]})
    annotation = submissions.submit(lease, users["annotator"], {
        "boxes": [{"class": "moved", "x": 1, "y": 1, "w": 5, "h": 5}], "tags": [{"class": "moved", "changed": True}]}).annotation
    assert annotation.tags.get().changed is True


def test_submit_stores_rows_pinned_to_the_version(project, users, lease):
    annotation = submissions.submit(lease, users["annotator"], {
        "boxes": [box(track_id=1), box(**{"class": "car"}, x=50, attributes={})], "tags": [{"class": "crowd"}]}).annotation
    assert annotation.ontology_version == project.ontology_version and annotation.revision == 1
    assert sorted(annotation.boxes.values_list("label_class__key", "x", "track_id")) == [
        ("car", 50.0, None), ("person", 10.0, 1)]
    assert annotation.tags.get().label_class.key == "crowd"
    with pytest.raises(submissions.SubmissionError, match="already submitted"):
        submissions.submit(lease, users["annotator"], {"boxes": []})


def test_edits_are_new_revisions_and_stale_edits_conflict(project, users, lease):
    first = submissions.submit(lease, users["annotator"], {"boxes": [box()]}).annotation
    second = submissions.revise(first, users["annotator"], {"boxes": [box(x=12)]})
    assert (second.revision, second.supersedes_id) == (2, first.pk)
    assert AnnotationBox.objects.get(annotation=first).x == 10  # the old revision is untouched
    with pytest.raises(submissions.Conflict) as conflict:
        submissions.revise(first, users["annotator"], {"boxes": [box(x=99)]})  # edited from a stale copy
    assert conflict.value.current.pk == second.pk
    assert Annotation.objects.count() == 2

    client = api_client(users["annotator"])
    stale = client.post("/api/annotations/revise/", {"base_revision": first.pk, "boxes": [box(x=98)]}, format="json")
    assert stale.status_code == 409
    assert stale.data["current"]["boxes"][0]["x"] == 12 and stale.data["yours"]["boxes"][0]["x"] == 98
    fresh = client.post("/api/annotations/revise/", {"base_revision": second.pk, "boxes": [box(x=14)]}, format="json")
    assert fresh.status_code == 201 and fresh.data["revision"] == 3
    assert api_client(users["qa"]).post("/api/annotations/revise/", {"base_revision": fresh.data["id"], "boxes": []},
                                        format="json").status_code == 404  # not theirs to edit


def test_drafts_autosave_and_go_on_submit(project, users, lease):
    client = api_client(users["annotator"])
    assert client.put(f"/api/assignments/{lease.pk}/draft/", {"boxes": [box(w=0)]}, format="json").status_code == 204
    assert Draft.objects.get().payload["boxes"][0]["w"] == 0  # a draft may be incomplete
    state = client.post(f"/api/projects/{project.pk}/next/").data
    assert state["draft"]["boxes"][0]["w"] == 0 and state["assignment"]["id"] == lease.pk
    assert client.post(f"/api/assignments/{lease.pk}/submit/", {"boxes": [box()]}, format="json").status_code == 201
    assert Draft.objects.count() == 0
    assert api_client(users["qa"]).put(f"/api/assignments/{lease.pk}/draft/", {}, format="json").status_code == 404


def test_annotators_see_only_their_own_annotations(project, users, make_user, lease):
    submissions.submit(lease, users["annotator"], {"boxes": [box()]})
    other = queue.next_assignment(project, users["qa"])
    submissions.submit(other, users["qa"], {"boxes": [box(x=30)]})
    mine = api_client(users["annotator"]).get(f"/api/annotations/?project={project.pk}").data["results"]
    assert [a["boxes"][0]["x"] for a in mine] == [10]
    assert len(api_client(users["qa"]).get(f"/api/annotations/?project={project.pk}").data["results"]) == 2
    assert api_client(users["outsider"]).get(f"/api/annotations/?project={project.pk}").data["results"] == []


def test_next_frame_api(project, users):
    make_frames(project, 2)
    client = api_client(users["annotator"])
    state = client.post(f"/api/projects/{project.pk}/next/").data
    assert state["frame"]["index"] == 0 and state["prefetch"].endswith("/original")
    assert {c["key"] for c in state["classes"]} == {"person", "car", "truck", "crowd"}
    assert api_client(users["trainer"]).post(f"/api/projects/{project.pk}/next/").status_code == 403
    assert api_client(users["outsider"]).post(f"/api/projects/{project.pk}/next/").status_code == 404
    skip = client.post(f"/api/assignments/{state['assignment']['id']}/skip/", {"reason": ""}, format="json")
    assert skip.status_code == 400 and skip.data["field"] == "reason"
    client.post(f"/api/assignments/{state['assignment']['id']}/skip/", {"reason": "blurry"}, format="json")
    second = client.post(f"/api/projects/{project.pk}/next/").data
    assert second["frame"]["index"] == 1
    client.post(f"/api/assignments/{second['assignment']['id']}/submit/", {}, format="json")
    assert client.post(f"/api/projects/{project.pk}/next/").status_code == 204


def test_interpolation_between_keyframes():
    got = tracks.interpolate(0, {1: {"class": "car", "x": 0, "y": 0, "w": 10, "h": 10, "attributes": {}},
                                 2: {"class": "car", "x": 5, "y": 5, "w": 5, "h": 5}},
                             4, {1: {"class": "car", "x": 40, "y": 20, "w": 30, "h": 10}}, 1)
    assert got == [{"class": "car", "x": 10.0, "y": 5.0, "w": 15.0, "h": 10.0, "attributes": {}, "track_id": 1,
                    "interpolated": True}]
    assert tracks.interpolate(0, {1: {"x": 0, "y": 0, "w": 1, "h": 1}}, 4, {1: {"x": 0, "y": 0, "w": 1, "h": 1}},
                              4) == []


def test_track_context_from_keyframes(project, users):
    make_frames(project, 5, width=200, height=100)
    project.frame_stride = 4
    project.save()
    queue.sync_queue(project)
    user = users["annotator"]
    first = queue.next_assignment(project, user)  # frame 0
    submissions.submit(first, user, {"boxes": [box(track_id=1, x=0, y=0, w=10, h=10)]})
    second = queue.next_assignment(project, user)  # frame 4
    assert second.frame.index == 4
    state = api_client(user).post(f"/api/projects/{project.pk}/next/").data
    assert state["tracks"]["previous"]["boxes"][0]["track_id"] == 1 and state["tracks"]["next_track_id"] == 2
    submissions.submit(second, user, {"boxes": [box(track_id=1, x=40, y=20, w=30, h=10)]})
    third = api_client(user).post(f"/api/projects/{project.pk}/next/").data  # frame 1, between the keyframes
    assert third["frame"]["index"] == 1
    assert third["tracks"]["interpolated"] == [{"class": "person", "x": 10.0, "y": 5.0, "w": 15.0, "h": 10.0,
                                                "attributes": {"posture": "standing"}, "track_id": 1,
                                                "interpolated": True}]


@pytest.mark.parametrize("protected", [False, True])  # the one-statement path; the protection gate's path
def test_the_track_context_that_comes_with_a_lease_is_the_one_the_page_would_ask_for(project, users, protected):
    make_frames(project, 6, width=200, height=100, sensitive=(5,) if protected else ())
    project.frame_stride = 3
    project.save()
    queue.sync_queue(project)
    user = users["annotator"]
    seen = []
    while True:
        try:
            lease = queue.next_lease(project, user)
        except queue.Withheld:  # the sensitive frame: nobody opted in here
            break
        if lease is None:
            break
        frame = lease.assignment.frame
        assert lease.tracks is not None
        assert lease.tracks == tracks.track_context(project.pk, user.pk, frame), frame.index
        seen.append((frame.index, lease.tracks["previous"] is not None, bool(lease.tracks["interpolated"])))
        submissions.submit(lease.assignment, user, {"boxes": [box(track_id=1, x=5 * frame.index, y=0, w=10, h=10)]})
    # stride 3: 0 and 3, then 1 (between two keyframes with track 1: interpolated), 4 (after 3), 2, 5
    assert seen == [(0, False, False), (3, True, False), (1, True, True), (4, True, False), (2, True, True)] + (
        [] if protected else [(5, True, False)])
