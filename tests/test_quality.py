"""Agreement in the database: the Celery trigger, consensus, review decisions, gold frames, flags
and the quality figures."""
import random
import time

import numpy as np
import pytest

from labeling.models import (
    Annotation,
    AuditEvent,
    FrameAgreement,
    GoldCheck,
    PairAgreement,
    QueueItem,
    ReviewDecision,
    ReviewItem,
)
from labeling.quality import agreement, dashboard, frame_scoring, gold, review
from labeling.quality.agreement import Labels
from labeling.quality.consensus import fuse
from labeling.work import policies, queue, submissions
from labeling.work import payloads
from tests.conftest import api_client, make_frames


def box(cls="person", x=10, y=10, w=50, h=80, **extra):
    return {"class": cls, "x": x, "y": y, "w": w, "h": h, **extra}


def label(project, user, payload):
    """The annotator takes their next frame and submits `payload` on it."""
    assignment = queue.next_assignment(project, user)
    assert assignment is not None, f"{user} got no frame"
    return submissions.submit(assignment, user, payload).annotation


@pytest.fixture
def pair(project, users, make_user):
    """Two annotators on a project with overlap 2."""
    second = make_user("bea", "annotator")
    project.members.add(second)
    return users["annotator"], second


# ------------------------------------------------------------------------------ consensus (pure)

def labels(annotator, boxes, classes, tags=None, attributes=None, tracks=None):
    return Labels(annotator, np.array(boxes, dtype=float).reshape(-1, 4), list(classes), tags or {},
                  attributes or [{} for _ in classes], tracks or [None for _ in classes])


def test_consensus_averages_matched_boxes_and_takes_the_majority_class():
    a = labels(1, [[0, 0, 10, 10], [50, 50, 10, 10]], ["car", "person"], {"crowd": "set"},
               attributes=[{"colour": "red"}, {}], tracks=[4, None])
    b = labels(2, [[1, 1, 10, 10], [51, 50, 10, 10]], ["car", "person"], {"crowd": "set"},
               attributes=[{"colour": "red"}, {}], tracks=[7, None])
    c = labels(3, [[0, 1, 10, 10], [90, 90, 5, 5]], ["truck", "person"], {},
               attributes=[{"colour": "blue"}, {}])
    result = agreement.frame_agreement([a, b, c])
    fused = fuse([a, b, c], result.groups, result.tag_units)
    by_class = {f.label: f for f in fused.boxes}
    assert set(by_class) == {"car", "person"}  # the lone box at (90, 90) lacks a quorum
    assert fused.dropped == 1
    car = by_class["car"]
    assert (car.x, car.y, car.w, car.h) == (0.5, 0.5, 10, 10)  # mean of the two car boxes, not the truck
    assert car.support == 3 and car.attributes == {"colour": "red"} and car.track_id == 4
    assert by_class["person"].x == 50.5 and by_class["person"].support == 2
    assert fused.tags == {"crowd": "set"}  # two of three


def test_consensus_keeps_the_attributes_of_frame_tags():
    a = labels(1, [], [], {"weather": "set", "crowd": "set"})
    b = labels(2, [], [], {"weather": "set", "crowd": "set"})
    c = labels(3, [], [], {"weather": "set"})
    a.tag_attributes = {"weather": {"visibility": "fog", "wind": 3}, "crowd": {"size": "large"}}
    b.tag_attributes = {"weather": {"visibility": "fog", "wind": 5}, "crowd": {"size": "small"}}
    c.tag_attributes = {"weather": {"visibility": "rain", "wind": 5}}
    result = agreement.frame_agreement([a, b, c])
    fused = fuse([a, b, c], result.groups, result.tag_units)
    assert fused.tags == {"weather": "set", "crowd": "set"}
    # by majority of those who set the tag; a split attribute is left out
    assert fused.tag_attributes == {"weather": {"visibility": "fog", "wind": 5}}


def test_consensus_quorum_and_ties_are_reported():
    a = labels(1, [[0, 0, 10, 10]], ["car"])
    b = labels(2, [[0, 0, 10, 10]], ["truck"])
    result = agreement.frame_agreement([a, b])
    fused = fuse([a, b], result.groups, result.tag_units)
    assert len(fused.boxes) == 1 and fused.boxes[0].tie and fused.boxes[0].label == "car"
    lonely = labels(2, [], [])
    result = agreement.frame_agreement([a, lonely])
    assert fuse([a, lonely], result.groups, result.tag_units, quorum=1).boxes[0].label == "car"
    assert fuse([a, lonely], result.groups, result.tag_units).boxes == []  # majority of two is two


@pytest.mark.parametrize("a, b, score", [
    ([], [], 1.0),  # nobody drew anything: they agree
    ([[0, 0, 10, 10]], [], 0.0),  # one annotator drew nothing
    ([[0, 0, 10, 10], [20, 20, 5, 5]], [[0, 0, 10, 10], [20, 20, 5, 5]], 1.0),  # identical
    ([[0, 0, 10, 10]], [[50, 50, 10, 10]], 0.0),  # all disagree
])
def test_frame_score_edge_cases(a, b, score):
    result = agreement.frame_agreement([labels(1, a, ["car"] * len(a)), labels(2, b, ["car"] * len(b))])
    assert result.box_score == score and result.tag_score is None and result.score == score


def test_a_split_tag_pulls_the_frame_score_down():
    result = agreement.frame_agreement([labels(1, [], [], {"crowd": "set"}), labels(2, [], [], {})])
    assert result.box_score == 1.0 and result.tag_score == 0.0 and result.score == 0.0


# ------------------------------------------------------------------------------ in the database

def test_agreement_approves_the_consensus(project, users, pair):
    frame = make_frames(project, 1)[0]
    a, b = pair
    label(project, a, {"boxes": [box(x=10)], "tags": [{"class": "crowd"}]})
    label(project, b, {"boxes": [box(x=12)], "tags": [{"class": "crowd"}]})
    fa = frame_scoring.evaluate_frame(project.pk, frame.pk)
    assert fa.passed and fa.box_score == 1.0 and fa.annotators == sorted([a.pk, b.pk])
    pair_row = PairAgreement.objects.get(agreement=fa)
    assert pair_row.f1 == 1.0 and pair_row.per_class == {"person": [1, 1, 1]}
    approved = Annotation.objects.get(frame=frame, status=Annotation.APPROVED)
    assert approved.source == Annotation.CONSENSUS and approved.annotator is None
    assert payloads.as_payload(approved)["boxes"][0]["x"] == 11.0
    assert not ReviewItem.objects.filter(frame=frame).exists()
    # idempotent: a second run recomputes the same round and writes no second consensus
    frame_scoring.evaluate_frame(project.pk, frame.pk)
    assert FrameAgreement.objects.filter(frame=frame).count() == 1
    assert Annotation.objects.filter(frame=frame, status=Annotation.APPROVED).count() == 1


def test_the_approved_consensus_keeps_tag_attributes(project, users, pair):
    """A tag's attributes (here a required one) reach the approved revision, and so exports."""
    from ontology import services as ontology_services
    from ontology.models import LabelClass

    draft = ontology_services.derive(project.ontology_version)
    ontology_services.add_class(draft, key="weather", name="Weather", kind=LabelClass.TAG, shortcut="w",
                                attributes=[{"key": "visibility", "type": "enum", "options": ["clear", "fog"],
                                             "required": True}])
    project.ontology_version = ontology_services.publish(draft)
    project.save()
    frame = make_frames(project, 1)[0]
    a, b = pair
    tag = {"class": "weather", "attributes": {"visibility": "fog"}}
    label(project, a, {"boxes": [box(x=10)], "tags": [tag]})
    label(project, b, {"boxes": [box(x=10)], "tags": [tag]})
    assert frame_scoring.evaluate_frame(project.pk, frame.pk).passed
    approved = Annotation.objects.get(frame=frame, status=Annotation.APPROVED)
    assert payloads.as_payload(approved)["tags"] == [{"class": "weather", "attributes": {"visibility": "fog"}}]
    frame_scoring.evaluate_frame(project.pk, frame.pk)  # the same outcome: no second revision
    assert Annotation.objects.filter(frame=frame, status=Annotation.APPROVED).count() == 1


def test_disagreement_opens_a_review_item_and_a_revision_can_close_it(project, users, pair):
    frame = make_frames(project, 1)[0]
    a, b = pair
    first = label(project, a, {"boxes": [box(x=10), box("car", x=300, y=300, w=40, h=30)]})
    label(project, b, {"boxes": [box(x=12)]})
    fa = frame_scoring.evaluate_frame(project.pk, frame.pk)
    assert not fa.passed and fa.score == pytest.approx(2 / 3)
    item = ReviewItem.objects.get(frame=frame, status=ReviewItem.OPEN)
    assert item.reason == ReviewItem.DISAGREEMENT and item.severity == pytest.approx(2 / 3)
    assert item.classes == ["car"] and sorted(item.annotators) == sorted([a.pk, b.pk])
    assert not Annotation.objects.filter(frame=frame, status=Annotation.APPROVED).exists()
    # the first annotator removes the car: the frame agrees, the item closes by itself
    submissions.revise(first, a, {"boxes": [box(x=10)]})
    fa = frame_scoring.evaluate_frame(project.pk, frame.pk)
    assert fa.passed
    item.refresh_from_db()
    assert item.status == ReviewItem.RESOLVED and item.decisions.get().decision == ReviewDecision.AGREED


def test_the_last_submission_triggers_agreement_on_a_real_worker(celery_worker_app, project, users, pair):
    frame = make_frames(project, 1)[0]
    a, b = pair
    label(project, a, {"boxes": [box(x=10)]})
    from labeling.jobs import outbox

    assert outbox.flush() == 0  # one submission of two: no check is sent (no fixed sleep to wait for one)
    assert not FrameAgreement.objects.filter(frame=frame).exists()
    label(project, b, {"boxes": [box("car", x=10)]})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not ReviewItem.objects.filter(frame=frame).exists():
        time.sleep(0.1)
    item = ReviewItem.objects.get(frame=frame)
    assert item.reason == ReviewItem.DISAGREEMENT and item.severity == 0.0 and item.classes == ["car", "person"]


def _disputed(project, pair):
    frame = make_frames(project, 1)[0]
    a, b = pair
    mine = label(project, a, {"boxes": [box(x=10)]})
    label(project, b, {"boxes": [box("car", x=10)]})
    frame_scoring.evaluate_frame(project.pk, frame.pk)
    return frame, mine, ReviewItem.objects.get(frame=frame)


def test_accept_makes_an_approved_revision_and_is_audited(project, users, pair):
    frame, mine, item = _disputed(project, pair)
    qa = users["qa"]
    view = review.describe(item)
    assert [v["who"] for v in view["versions"]] == [pair[0].username, pair[1].username]
    assert {b["status"] for v in view["versions"] for b in v["boxes"]} == {"confused"}
    made = review.accept(project, item.pk, mine.pk, qa, "the person is right")
    approved = made.result
    assert approved.status == Annotation.APPROVED and approved.source == Annotation.REVIEW
    assert approved.created_by == qa and payloads.as_payload(approved)["boxes"][0]["class"] == "person"
    item.refresh_from_db()
    assert item.status == ReviewItem.RESOLVED
    assert AuditEvent.objects.filter(verb="review.accept", object_id=str(item.pk), actor=qa).exists()
    with pytest.raises(review.ReviewError, match="already resolved by quinn"):
        review.dismiss(project, item.pk, qa)


def test_accepting_a_version_not_under_review_changes_nothing(project, users, pair):
    frame, mine, item = _disputed(project, pair)
    with pytest.raises(review.ReviewError):
        review.accept(project, item.pk, 999999, users["qa"])
    with pytest.raises(submissions.SubmissionError, match=r"boxes\[0\]\.class"):
        review.edit(project, item.pk, {"boxes": [box("dragon")]}, users["qa"])
    item.refresh_from_db()
    assert item.status == ReviewItem.OPEN
    assert not Annotation.objects.filter(frame=frame, status=Annotation.APPROVED).exists()


def test_relabel_sends_the_frame_to_new_annotators_only(project, users, pair, make_user):
    frame, mine, item = _disputed(project, pair)
    with pytest.raises(review.ReviewError, match="comment"):
        review.relabel(project, item.pk, users["qa"], "")
    review.relabel(project, item.pk, users["qa"], "box the whole person")
    queued = QueueItem.objects.get(frame=frame)
    assert queued.is_open and queued.round == 1 and queued.submitted == 0
    assert queue.next_assignment(project, pair[0]) is None  # they labeled it already
    c, d = make_user("cy", "annotator"), make_user("di", "annotator")
    project.members.add(c, d)
    label(project, c, {"boxes": [box(x=10)]})
    label(project, d, {"boxes": [box(x=11)]})
    fa = frame_scoring.evaluate_frame(project.pk, frame.pk)
    assert fa.round == 1 and fa.passed and set(fa.annotators) == {c.pk, d.pk}  # the returned work is kept, not counted
    assert Annotation.objects.filter(frame=frame, source=Annotation.HUMAN).count() == 4


# ------------------------------------------------------------------------------ gold

def test_gold_frames_are_mixed_in_at_the_project_rate(project, users, monkeypatch):
    frames = make_frames(project, 120)
    project.gold_rate = 0.1
    project.save()
    for frame in frames[100:]:
        gold.mark(project, frame, users["qa"], payload={"boxes": [box()]})
    policy = next(p for p in policies.registered() if isinstance(p, gold.GoldPolicy))
    monkeypatch.setattr(policy, "rng", random.Random(7))
    user = users["annotator"]
    served, gold_frames = [], []
    for _ in range(100):
        assignment = queue.next_assignment(project, user)
        served.append(assignment.frame_id in {f.pk for f in frames[100:]})
        if served[-1]:
            gold_frames.append(assignment.frame_id)
        submissions.submit(assignment, user, {"boxes": []})
    assert 9 <= sum(served) <= 11  # a tenth, within one frame
    assert not all(served[i] == served[i + 10] for i in range(90))  # not a fixed period
    assert len(set(gold_frames)) == len(gold_frames)  # each gold frame at most once per annotator


def test_gold_due_keeps_the_rate_within_one_frame():
    rng = random.Random(1)
    gold_served = 0
    for served in range(1000):
        if gold.due(served, gold_served, 0.05, rng.random()):
            gold_served += 1
        assert abs(gold_served - 0.05 * (served + 1)) <= 1


def test_a_failed_gold_check_opens_a_review_item(project, users, pair):
    frame = make_frames(project, 2)[0]
    gold.mark(project, frame, users["qa"], payload={"boxes": [box(x=10)], "tags": [{"class": "crowd"}]})
    a, b = pair
    project.gold_rate = 1.0  # beyond what a form allows: the gold frame comes first, for certain
    project.save()
    good = label(project, a, {"boxes": [box(x=11)], "tags": [{"class": "crowd"}]})
    bad = label(project, b, {"boxes": [box("car", x=11)]})
    assert gold.check(good.pk).passed
    failed = gold.check(bad.pk)
    assert not failed.passed and failed.score == 0.0
    item = ReviewItem.objects.get(frame=frame)
    assert item.reason == ReviewItem.GOLD and item.annotators == [b.pk] and item.gold_check == failed
    assert gold.check(bad.pk) == failed and GoldCheck.objects.count() == 2  # idempotent
    assert frame_scoring.evaluate_frame(project.pk, frame.pk) is None  # gold frames get no consensus
    accuracy = {row["annotator"]: row for row in gold.accuracy(project)}
    assert accuracy[a.username]["accuracy"] == 1.0 and accuracy[b.username]["accuracy"] == 0.0
    versions = review.describe(item)["versions"]
    assert versions[0]["kind"] == "gold" and versions[0]["boxes"][0]["status"] == "confused"


# ------------------------------------------------------------------------------ API and figures

def test_review_api_for_qa_only(project, users, pair):
    frame, mine, item = _disputed(project, pair)
    assert api_client(users["annotator"]).get(f"/api/projects/{project.pk}/review/").status_code == 403
    assert api_client(users["outsider"]).get(f"/api/projects/{project.pk}/review/").status_code == 404
    qa = api_client(users["qa"])
    listed = qa.get(f"/api/projects/{project.pk}/review/", {"class": "car"}).json()
    assert [i["id"] for i in listed] == [item.pk]
    assert qa.get(f"/api/projects/{project.pk}/review/", {"class": "truck"}).json() == []
    assert qa.get(f"/api/projects/{project.pk}/review/", {"annotator": "x"}).status_code == 400
    detail = qa.get(f"/api/projects/{project.pk}/review/{item.pk}/").json()
    assert detail["pairs"][0]["confusions"] == [["person", "car"]]
    bad = qa.post(f"/api/projects/{project.pk}/review/{item.pk}/", {"decision": "accept"}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "annotation"
    done = qa.post(f"/api/projects/{project.pk}/review/{item.pk}/",
                   {"decision": "accept", "annotation": mine.pk, "comment": "ok"}, format="json")
    assert done.status_code == 201
    again = qa.post(f"/api/projects/{project.pk}/review/{item.pk}/", {"decision": "dismiss"}, format="json")
    assert again.status_code == 409


def test_annotators_flag_frames_for_qa(project, users):
    make_frames(project, 2)
    user = users["annotator"]
    assignment = queue.next_assignment(project, user)
    client = api_client(user)
    response = client.post(f"/api/assignments/{assignment.pk}/flag/", {"note": "is that a weapon?"}, format="json")
    assert response.status_code == 201
    item = ReviewItem.objects.get(pk=response.json()["review_item"])
    assert item.reason == ReviewItem.FLAGGED and "is that a weapon?" in item.note and item.opened_by == user
    assert api_client(users["qa"]).post(f"/api/assignments/{assignment.pk}/flag/", {}, format="json").status_code == 404


def test_quality_figures(project, users, pair):
    frames = make_frames(project, 4)
    a, b = pair
    for n in range(4):  # agree on the person; on the last two frames b calls the car a truck
        other = "car" if n < 2 else "truck"
        label(project, a, {"boxes": [box(x=10), box("car", x=300, y=300, w=40, h=30)]})
        label(project, b, {"boxes": [box(x=11), box(other, x=300, y=300, w=40, h=30)]})
    for frame in frames:
        frame_scoring.evaluate_frame(project.pk, frame.pk)
    figures = dashboard.summary(project)
    by_class = {row["class"]: row for row in figures["classes"]}
    assert by_class["person"]["f1"] == 1.0 and by_class["car"]["f1"] == pytest.approx(2 * 2 / (4 + 2))
    assert figures["pairs"]["names"] == sorted([a.username, b.username])
    assert figures["pairs"]["cells"][0][1][0] == pytest.approx(np.mean([1, 1, 0.5, 0.5]))
    expected = agreement.alpha(np.array([[1, 2] * 4, [1, 2, 1, 2, 1, 3, 1, 3]], dtype=float))
    assert figures["alpha"]["boxes"] == pytest.approx(expected)
    assert figures["alpha"]["per_class"]["person"] is None  # everyone agrees on every person: undefined
    assert figures["over_time"][0][2] == 4
    assert figures["backlog"][-1][1] == 2
    assert api_client(users["qa"]).get(f"/api/projects/{project.pk}/quality/").status_code == 200


def test_numeric_attributes_get_interval_alpha(db, users):
    """A numeric attribute (here a vehicle's estimated speed) is compared at the interval level
    over the objects that two annotators both drew."""
    from labeling.models import Dataset, Membership, Project
    from ontology import services as ontology_services
    from ontology.models import LabelClass

    version = ontology_services.create_ontology("Speeds")
    ontology_services.add_class(version, key="vehicle", name="Vehicle", kind=LabelClass.BOX, shortcut="1",
                                attributes=[{"key": "speed", "type": "number", "min": 0, "max": 200}])
    project = Project.objects.create(name="Speed project", dataset=Dataset.objects.create(name="Road"),
                                     ontology_version=ontology_services.publish(version))
    a, b = users["annotator"], users["qa"]
    for user in (a, b):
        Membership.objects.create(project=project, user=user)
    frames = make_frames(project, 4)
    speeds = [(30, 32), (50, 49), (80, 85), (10, 12)]
    for speed_a, speed_b in speeds:
        label(project, a, {"boxes": [box("vehicle", attributes={"speed": speed_a})]})
        label(project, b, {"boxes": [box("vehicle", x=11, attributes={"speed": speed_b})]})
    for frame in frames:
        frame_scoring.evaluate_frame(project.pk, frame.pk)
    assert FrameAgreement.objects.get(frame=frames[0]).attribute_units == {"vehicle.speed": [[30.0, 32.0]]}
    expected = agreement.alpha(np.array(speeds, dtype=float).T, level="interval")
    assert dashboard.alphas(project)["attributes"]["vehicle.speed"] == pytest.approx(expected)
    assert expected > 0.9  # close estimates agree at the interval level


def test_a_broker_outage_loses_no_work_and_score_pending_catches_up(project, users, pair, monkeypatch):
    from django.core.management import call_command

    from labeling.jobs import send

    def down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(send, "send_now", down)
    frame = make_frames(project, 1)[0]
    a, b = pair
    label(project, a, {"boxes": [box(x=10)]})
    stored = label(project, b, {"boxes": [box("car", x=10)]})
    frame_scoring.on_submitted(None, stored)  # what the commit hook runs: logs, does not raise
    assert Annotation.objects.filter(frame=frame, source=Annotation.HUMAN).count() == 2
    assert frame_scoring.pending_frames(project.pk) == [(project.pk, frame.pk)]
    call_command("score_pending", project=project.pk)
    assert ReviewItem.objects.filter(frame=frame, reason=ReviewItem.DISAGREEMENT).exists()
    assert frame_scoring.pending_frames(project.pk) == []
