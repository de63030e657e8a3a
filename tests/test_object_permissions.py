"""Object-level boundaries that the permission matrix cannot see from status codes alone: an
annotator never sees another annotator's work on a frame (before submitting theirs, or after),
and list filters by id answer an outsider the same whether the id exists or not."""
import json

import pytest

from labeling.work import queue, submissions
from tests.conftest import api_client, make_frames

PEER_X = 123.25  # a coordinate only the other annotator's box has


@pytest.fixture
def shared_frame(project, make_user):
    """The other annotator has labeled a frame; the annotator now holds a lease on it."""
    from labeling.models import Membership

    peer = make_user("peer", "annotator")
    Membership.objects.create(project=project, user=peer)
    project.overlap = 2
    project.save()
    make_frames(project, 3)
    lease = queue.next_assignment(project, peer)
    work = submissions.submit(lease, peer, {"boxes": [{"class": "car", "x": PEER_X, "y": 7, "w": 30, "h": 20}],
                                            "tags": [{"class": "crowd"}], "note": "peer's note"}).annotation
    return lease.frame, work


def _no_trace_of_peer(payload) -> None:
    text = json.dumps(payload)
    assert str(PEER_X) not in text and "peer's note" not in text, text


def test_an_annotator_never_sees_another_annotators_work(project, users, shared_frame):
    frame, work = shared_frame
    client = api_client(users["annotator"])
    got = client.post(f"/api/projects/{project.pk}/next/")
    assert got.status_code == 200 and got.data["frame"]["id"] == frame.pk, "the lease is the peer's frame"
    assert got.data["revision"] is None and got.data["draft"] is None
    _no_trace_of_peer(got.data)
    state = client.get(f"/api/projects/{project.pk}/frames/{frame.pk}/state/")
    assert state.status_code == 200 and state.data["revision"] is None
    _no_trace_of_peer(state.data)
    assert client.get(f"/api/annotations/{work.pk}/").status_code == 404
    for url in ("/api/annotations/", f"/api/annotations/?frame={frame.pk}", f"/api/annotations/?project={project.pk}"):
        listed = client.get(url)
        assert listed.status_code == 200 and listed.data["results"] == [], url
    assert client.post("/api/annotations/revise/", {"base_revision": work.pk, "boxes": []},
                       format="json").status_code == 404
    for url in (f"/api/projects/{project.pk}/review/", f"/api/projects/{project.pk}/frames/{frame.pk}/sensitivity/"):
        assert client.get(url).status_code == 403, url

    # after submitting their own, still only their own
    mine = client.post(f"/api/assignments/{got.data['assignment']['id']}/submit/",
                       {"boxes": [{"class": "person", "x": 1, "y": 2, "w": 3, "h": 4,
                                   "attributes": {"posture": "lying"}}]}, format="json")
    assert mine.status_code == 201, mine.data
    state = client.get(f"/api/projects/{project.pk}/frames/{frame.pk}/state/")
    assert state.data["revision"]["id"] == mine.data["id"]
    _no_trace_of_peer(state.data)
    assert [a["id"] for a in client.get(f"/api/annotations/?frame={frame.pk}").data["results"]] == [mine.data["id"]]
    # a QA lead sees both
    qa = api_client(users["qa"])
    assert {a["id"] for a in qa.get(f"/api/annotations/?frame={frame.pk}").data["results"]} == {work.pk,
                                                                                              mine.data["id"]}


@pytest.mark.parametrize("path, param, target", [
    ("/api/sequences/", "dataset", "dataset"),
    ("/api/frames/", "sequence", "sequence"),
    ("/api/frames/", "dataset", "dataset"),
    ("/api/projects/", "dataset", "dataset"),
    ("/api/projects/", "ontology_version", "ontology_version"),
    ("/api/ingest-jobs/", "dataset", "dataset"),
    ("/api/annotations/", "project", "project"),
    ("/api/annotations/", "frame", "frame"),
    ("/api/label-classes/", "version", "ontology_version"),
    ("/api/ontology-versions/", "ontology", "ontology"),
])
def test_filters_by_id_do_not_tell_an_outsider_what_exists(project, users, path, param, target):
    """An id of another project's object and an id that exists nowhere answer alike."""
    from ontology import services as ontology_services

    frame = make_frames(project, 1)[0]
    # the outsider's own project uses another ontology, so even the ontology is not theirs to see
    other = ontology_services.create_ontology("Outsider's ontology")
    ontology_services.add_class(other, key="boat", name="Boat")
    outsider_project = users["outsider"].memberships.get().project
    outsider_project.ontology_version = ontology_services.publish(other)
    outsider_project.save()
    ids = {"dataset": project.dataset_id, "sequence": frame.sequence_id, "frame": frame.pk, "project": project.pk,
           "ontology_version": project.ontology_version_id, "ontology": project.ontology_version.ontology_id}
    client = api_client(users["outsider"])
    theirs = client.get(f"{path}?{param}={ids[target]}")
    nowhere = client.get(f"{path}?{param}=987654321")
    assert theirs.status_code == nowhere.status_code == 200, (theirs.data, nowhere.data)
    rows = lambda r: r.data["results"] if isinstance(r.data, dict) else r.data  # noqa: E731
    assert rows(theirs) == rows(nowhere) == []
    assert client.get(f"{path}?{param}=not-a-number").status_code == 400
