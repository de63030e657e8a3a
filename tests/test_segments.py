"""Segments: video as the unit of tracking work. The queue's guarantees hold for segments (overlap,
nobody twice, no over-assignment under 50 clients, late work kept, one submission per lease, 409
on a stale edit); tracks are interpolated between keyframes, pause where the object is outside,
and come back as they were drawn; interval tags mark every frame of their range."""
from collections import Counter

import pytest

from labeling.models import (
    Annotation,
    AnnotationBox,
    Assignment,
    Membership,
    QueueItem,
    Segment,
)
from labeling.protection import flags
from labeling.work import queue, segment_tracks, segments
from labeling.work.payloads import SubmissionError, classes_of
from labeling.work.submissions import AlreadySubmitted
from tests import crowd
from tests.conftest import api_client, make_frames

pytestmark = pytest.mark.django_db


@pytest.fixture
def segment_project(project):
    project.work_unit, project.segment_length, project.segment_shared, project.overlap = "segment", 20, 4, 2
    project.save()
    frames = make_frames(project, 50, width=320, height=240)
    return project, frames


def person(x=10, frame=0, **extra):
    return {"frame": frame, "x": x, "y": 20, "w": 30, "h": 40, **extra}


def test_a_sequence_is_cut_into_segments_sharing_frames(segment_project):
    project, frames = segment_project
    cut = list(Segment.objects.filter(project=project).order_by("number").values_list("first_index", "last_index"))
    assert cut == [(0, 19), (16, 35), (32, 49)]  # 20 frames, 4 shared with the next; the last one shorter
    items = QueueItem.objects.filter(project=project).order_by("order_key")
    assert [(i.segment.first_index, i.frame.index) for i in items] == [(0, 0), (16, 16), (32, 32)]
    assert queue.sync_queue(project) == 0  # again: nothing changes


def test_a_segment_becomes_sensitive_with_any_of_its_frames(segment_project, users):
    project, frames = segment_project
    flags.mark_sequence(frames[0].sequence, users["admin"], first_index=34, last_index=34, note="one frame")
    assert list(Segment.objects.filter(project=project).order_by("number").values_list("sensitive", flat=True)) == [
        False, True, True]  # frame 34 is in the second and the third segment


def test_segments_go_to_overlap_annotators_and_nobody_twice(segment_project, users, make_user):
    project, _ = segment_project
    a, b, c = users["annotator"], users["qa"], make_user("cleo", "annotator")
    Membership.objects.create(project=project, user=c)
    first = queue.next_lease(project, a)
    assert first.assignment.frame.index == 0 and not first.resumed
    assert queue.next_lease(project, a).resumed  # the same lease while it is held
    assert queue.next_lease(project, b).assignment.item_id == first.assignment.item_id
    third = queue.next_lease(project, c)
    assert third.assignment.item_id != first.assignment.item_id  # two annotators already hold segment 0


def tracks_payload(**extra):
    return {"tracks": [{"track_id": 1, "class": "person", "attributes": {"posture": "standing"},
                        "keyframes": [person(10, 0), person(30, 10, occluded=True), person(30, 14, outside=True),
                                      person(50, 16)]}],
            "tags": [{"class": "crowd", "from": 2, "to": 5}], **extra}


def test_tracks_are_stored_per_frame_and_come_back_as_drawn(segment_project, users):
    project, _ = segment_project
    lease = queue.next_lease(project, users["annotator"])
    done = segments.submit(lease.assignment.pk, users["annotator"], tracks_payload())
    assert done.frames == 20 and not done.late and done.submitted == 1
    heads = {a.frame_index: a for a in Annotation.objects.filter(assignment=lease.assignment)}
    assert sorted(heads) == list(range(20))
    boxes = {i: list(heads[i].boxes.all()) for i in heads}
    assert [(b.x, b.keyframe, b.source, b.occluded) for b in boxes[5]] == [(20.0, False, "interpolated", False)]
    assert [(b.x, b.keyframe, b.occluded) for b in boxes[12]] == [(30.0, False, True)]  # occluded holds
    assert [(b.outside, b.keyframe) for b in boxes[14]] == [(True, True)]  # the marker
    assert boxes[15] == []  # outside: the track pauses
    assert [b.x for b in boxes[19]] == [50.0]  # after the last keyframe it stays to the segment's end
    assert [heads[i].tags.count() for i in range(8)] == [0, 0, 1, 1, 1, 1, 0, 0]
    back = segments.tracks_of(Assignment.objects.get(pk=lease.assignment.pk))
    sent = tracks_payload()
    assert back["tracks"][0]["keyframes"] == [{k: v for k, v in kf.items()} for kf in sent["tracks"][0]["keyframes"]]
    assert back["tags"] == [{"class": "crowd", "from": 2, "to": 5, "attributes": {}}]
    item = QueueItem.objects.get(pk=lease.assignment.item_id)
    assert (item.assigned, item.submitted) == (1, 1)
    with pytest.raises(AlreadySubmitted):
        segments.submit(lease.assignment.pk, users["annotator"], tracks_payload())
    again = segments.submit(lease.assignment.pk, users["annotator"], tracks_payload(), repeat=True)
    assert again.revision == 1 and Annotation.objects.filter(assignment=lease.assignment).count() == 20


@pytest.mark.parametrize("change, field", [
    ({"tracks": [{"track_id": 1, "class": "person", "keyframes": [person(frame=25)]}]}, "tracks[0].keyframes[0].frame"),
    ({"tracks": [{"track_id": 1, "class": "person", "keyframes": [person(x=300)]}]}, "tracks[0].keyframes[0]"),
    ({"tracks": [{"track_id": 1, "class": "person", "keyframes": [person(frame=5), person(frame=3)]}]},
     "tracks[0].keyframes[1].frame"),
    ({"tracks": [{"track_id": 1, "class": "person", "keyframes": [person(outside=True)]}]},
     "tracks[0].keyframes[0].outside"),
    ({"tracks": [{"track_id": 1, "class": "crowd", "keyframes": [person()]}]}, "tracks[0].class"),
    ({"tracks": [{"track_id": 1, "class": "person", "keyframes": []}]}, "tracks[0].keyframes"),
    ({"tracks": [{"track_id": 2, "class": "car", "keyframes": [person()]},
                 {"track_id": 2, "class": "car", "keyframes": [person()]}]}, "tracks[1].track_id"),
    ({"tags": [{"class": "crowd", "from": 5, "to": 2}]}, "tags[0].to"),
    ({"tags": [{"class": "crowd", "from": 1, "to": 5}, {"class": "crowd", "from": 5, "to": 6}]}, "tags[1]"),
    ({"tags": [{"class": "person", "from": 1}]}, "tags[0].class"),
    ({"tracks": [{"track_id": 1, "class": "person",
                  "keyframes": [person(source="suggestion")]}]}, "tracks[0].keyframes[0].model_version"),
    ({"boxes": []}, "boxes"),
])
def test_bad_segment_work_names_the_field_and_stores_nothing(segment_project, users, change, field):
    project, _ = segment_project
    lease = queue.next_lease(project, users["annotator"])
    payload = {"tracks": [], "tags": [], **change}
    with pytest.raises(SubmissionError) as refused:
        segments.submit(lease.assignment.pk, users["annotator"], payload)
    assert refused.value.field == field
    assert not Annotation.objects.exists() and Assignment.objects.get(pk=lease.assignment.pk).status == "active"


def test_a_stale_edit_answers_409_and_changes_nothing(segment_project, users):
    project, _ = segment_project
    lease = queue.next_lease(project, users["annotator"])
    segments.submit(lease.assignment.pk, users["annotator"], tracks_payload())
    moved = tracks_payload(base_revision=1)
    moved["tracks"][0]["keyframes"][0]["x"] = 11
    edited = segments.revise(lease.assignment.pk, users["annotator"], moved)
    assert edited.revision == 2 and edited.payload["tracks"][0]["keyframes"][0]["x"] == 11
    assert Annotation.objects.filter(assignment=lease.assignment).count() == 40  # history kept
    with pytest.raises(segments.Conflict) as conflict:
        segments.revise(lease.assignment.pk, users["annotator"], tracks_payload(base_revision=1))
    assert conflict.value.current["revision"] == 2
    assert Annotation.objects.filter(assignment=lease.assignment).count() == 40


def test_late_segment_work_is_kept_and_flagged(segment_project, users):
    from django.utils import timezone

    project, _ = segment_project
    lease = queue.next_lease(project, users["annotator"])
    Assignment.objects.filter(pk=lease.assignment.pk).update(expires_at=timezone.now() - timezone.timedelta(minutes=1))
    queue.expire_leases(project.pk)
    done = segments.submit(lease.assignment.pk, users["annotator"], tracks_payload())
    assert done.late and Assignment.objects.get(pk=lease.assignment.pk).late
    item = QueueItem.objects.get(pk=lease.assignment.item_id)
    assert (item.assigned, item.submitted) == (1, 1)


def test_a_frame_submission_on_a_segment_lease_is_refused(segment_project, users):
    project, _ = segment_project
    lease = queue.next_lease(project, users["annotator"])
    client = api_client(users["annotator"])
    refused = client.post(f"/api/assignments/{lease.assignment.pk}/submit/", {"boxes": []}, format="json")
    assert refused.status_code == 400 and refused.data["field"] == "tracks"
    assert not Annotation.objects.exists()


def test_the_segment_api_round_trip(segment_project, users):
    project, _ = segment_project
    client = api_client(users["annotator"])
    state = client.post(f"/api/projects/{project.pk}/next/").data
    assert state["segment"]["first"] == 0 and state["segment"]["last"] == 19 and len(state["frames"]) == 20
    assert state["segment"]["shared_after"] == [16, 17, 18, 19] and state["segment"]["shared_before"] == []
    assert state["segment"]["fps"] == pytest.approx(25.0)
    lease = state["assignment"]["id"]
    assert client.put(f"/api/assignments/{lease}/draft/", {"tracks": [1]}, format="json").status_code == 204
    assert client.post(f"/api/projects/{project.pk}/next/").data["draft"] == {"tracks": [1]}  # resumed
    submitted = client.post(f"/api/assignments/{lease}/submit/", tracks_payload(), format="json")
    assert submitted.status_code == 201 and submitted.data["revision"] == 1 and not submitted.data["late"]
    reopened = client.get(f"/api/assignments/{lease}/segment/").data
    assert reopened["revision"]["tracks"][0]["track_id"] == 1 and reopened["draft"] is None
    stale = client.post(f"/api/assignments/{lease}/revise/", tracks_payload(base_revision=0), format="json")
    assert stale.status_code == 409 and stale.data["current"]["revision"] == 1


def test_expand_and_collapse_are_inverse_on_keyframes(project):
    classes = classes_of(project.ontology_version_id)
    sizes = {i: (100, 100) for i in range(10, 20)}
    payload = {"tracks": [{"track_id": 4, "class": "car", "keyframes": [
        {"frame": 10, "x": 0, "y": 0, "w": 10, "h": 10}, {"frame": 12, "outside": True},
        {"frame": 15, "x": 50, "y": 50, "w": 20, "h": 20, "source": "propagated"}]}],
        "tags": [{"class": "crowd", "from": 11, "to": 11}, {"class": "crowd", "from": 13, "to": 14}]}
    tracks, tags = segment_tracks.validate(payload, classes, 10, 19, sizes)
    frames = segment_tracks.expand(tracks, tags, 10, 19)
    assert [len(frames[i][0]) for i in range(10, 20)] == [1, 1, 1, 0, 0, 1, 1, 1, 1, 1]
    assert frames[11][0][0].x == 0 and frames[11][0][0].source == AnnotationBox.INTERPOLATED
    back = segment_tracks.collapse(frames)
    assert back["tracks"][0]["keyframes"] == [
        {"frame": 10, "x": 0, "y": 0, "w": 10, "h": 10}, {"frame": 12, "x": 0, "y": 0, "w": 10, "h": 10,
                                                          "outside": True},
        {"frame": 15, "x": 50, "y": 50, "w": 20, "h": 20, "source": "propagated"}]
    assert [(t["from"], t["to"]) for t in back["tags"]] == [(11, 11), (13, 14)]


@pytest.mark.django_db(transaction=True)
def test_fifty_annotators_take_segments_at_once(project, make_user):
    project.work_unit, project.segment_length, project.segment_shared, project.overlap = "segment", 10, 2, 2
    project.save()
    make_frames(project, 200)  # 25 segments
    people = [make_user(f"crowd{i}", "annotator") for i in range(50)]
    Membership.objects.bulk_create(Membership(project=project, user=p) for p in people)
    taken = Counter()

    def work(who):
        for round_ in range(3):
            lease = queue.next_assignment(project, who)
            if lease is None:
                return
            taken[lease.item_id] += 1
            if round_ % 2 == 0:
                segments.submit(lease.pk, who, {"tracks": [], "tags": []})
            else:
                queue.skip(lease, who, "testing")

    assert crowd.at_once(people, work) == []
    per_item = Counter(Assignment.objects.filter(status__in=["active", "submitted"]).values_list("item_id", flat=True))
    assert per_item and max(per_item.values()) <= 2
    assert max(Counter(Assignment.objects.values_list("item_id", "annotator_id")).values()) == 1
    for item in QueueItem.objects.all():
        live = Assignment.objects.filter(item=item, status__in=["active", "submitted"]).count()
        done = Assignment.objects.filter(item=item, status="submitted").count()
        assert (item.assigned, item.submitted, item.is_open) == (live, done, live < 2)
    assert sum(taken.values()) == Assignment.objects.count()
    submitted = Assignment.objects.filter(status="submitted").select_related("item__segment")
    assert Annotation.objects.filter(source="human").count() == sum(a.item.segment.frame_count for a in submitted)


def test_the_work_unit_changes_only_until_labeling_starts(project, users):
    from labeling.work import projects

    make_frames(project, 30)
    assert QueueItem.objects.filter(project=project, segment__isnull=True).count() == 30
    project.work_unit, project.segment_length, project.segment_shared = "segment", 20, 4
    projects.save_project(project, users["admin"])
    assert QueueItem.objects.filter(project=project).count() == 2  # queued anew, as segments
    queue.next_lease(project, users["annotator"])
    project.segment_length = 10
    with pytest.raises(projects.ProjectError, match="labeling has started"):
        projects.save_project(project, users["admin"])
    project.refresh_from_db()
    assert project.segment_length == 20


def test_shared_frames_keep_one_history_and_each_segment_its_own_work(segment_project, users):
    project, frames = segment_project
    project.overlap = 1
    project.save()
    me = users["annotator"]
    first = queue.next_lease(project, me).assignment
    segments.submit(first.pk, me, {"tracks": [{"track_id": 1, "class": "car", "keyframes": [person(10, 15)]}]})
    second = queue.next_lease(project, me).assignment
    assert segments.segment_of(second).first_index == 16
    segments.submit(second.pk, me, {"tracks": [{"track_id": 7, "class": "car", "keyframes": [person(99, 16)]}]})
    on_17 = Annotation.objects.filter(frame=frames[17], annotator=me).order_by("revision")
    assert [(a.revision, a.assignment_id) for a in on_17] == [(1, first.pk), (2, second.pk)]
    assert on_17[1].supersedes_id == on_17[0].pk  # one line of history per frame
    assert Annotation.objects.filter(frame=frames[17], annotator=me, superseded_by__isnull=True).count() == 1
    mine_first = segments.tracks_of(first)  # the first segment still reads its own frames
    assert [t["track_id"] for t in mine_first["tracks"]] == [1]
    assert segments.tracks_of(second)["tracks"][0]["keyframes"][0]["x"] == 99


def test_protection_holds_inside_segments(project, users):
    """A segment with sensitive frames counts every one of them toward the daily cap and one lease
    toward interleaving; a segment leased under the cap that passes it is finished blurred (its
    reveals refused), and then no sensitive segment is leased until tomorrow."""
    from labeling.models import Exposure
    from labeling.protection import reveal
    from tests.test_protection import consent, set_policy

    project.work_unit, project.segment_length, project.segment_shared, project.overlap = "segment", 10, 2, 1
    project.save()
    frames = make_frames(project, 34, sensitive=set(range(0, 8)) | set(range(26, 34)))  # segments 0–9, 8–17, 16–25, 24–33
    set_policy(project, daily_sensitive_frames=6, max_sensitive_in_a_row=1, break_after_sensitive=0,
               break_after_minutes=0)
    me = users["annotator"]
    consent(me)
    first = queue.next_lease(project, me)
    assert first.assignment.frame.index == 0 and first.notes["protection"]["sensitive"]
    assert Exposure.objects.filter(user=me, kind="frame").count() == 8  # its eight sensitive frames, not one
    with pytest.raises(reveal.RevealRefused) as refused:  # past the cap: finished blurred
        reveal.issue(me, frames[3], project)
    assert refused.value.kind == "cap" and "sensitive frames" in refused.value.message
    segments.submit(first.assignment.pk, me, {"tracks": [], "tags": []})
    for _ in range(2):
        lease = queue.next_lease(project, me)
        assert not lease.notes["protection"]["sensitive"]  # plain segments only now (the cap)
        segments.submit(lease.assignment.pk, me, {"tracks": [], "tags": []})
    with pytest.raises(queue.Withheld) as withheld:
        queue.next_lease(project, me)
    assert withheld.value.kind == "cap"


def test_a_segment_project_has_no_gold_frames(segment_project, users):
    from labeling.quality import gold

    project, frames = segment_project
    project.gold_rate = 0.5
    project.save()
    with pytest.raises(gold.GoldError, match="segment project"):
        gold.mark(project, frames[3], users["qa"], payload={"boxes": [], "tags": []})
    assert not gold.GoldFrame.objects.exists()
    assert gold.GoldPolicy().pick(project, users["annotator"]) is None
    lease = queue.next_lease(project, users["annotator"])
    assert lease.assignment.item.segment_id is not None


def test_the_sampler_ranks_segments_by_their_most_uncertain_frame_and_spreads_neighbours(project, users):
    """A segment scores as its most uncertain frame (not its first), every frame of an open segment
    is scored, and a segment next to a chosen one waits behind farther ones (temporal diversity)."""
    from labeling.models import FrameScore, ModelVersion, QueueItem, ScoringRun
    from labeling.sampling import scoring

    project.work_unit, project.segment_length, project.segment_shared, project.sampling_batch = "segment", 20, 4, 0
    project.save()
    frames = make_frames(project, 84, width=64, height=48)  # segments start at 0, 16, 32, 48, 64
    queue.sync_queue(project)
    assert sorted(scoring._frames_to_score(project)) == sorted(f.pk for f in frames)
    peak = {1: (25, 0.9), 2: (40, 0.85), 3: (60, 0.3), 4: (70, 0.2), 0: (3, 0.1)}  # segment: (frame, score)
    scores = {f.index: 0.01 for f in frames}
    for index, score in peak.values():
        scores[index] = score
    version = ModelVersion.objects.create(project=project, kind=ModelVersion.DETECTOR, architecture="test",
                                          ontology_version=project.ontology_version, class_map=["person"],
                                          blob_name="none", sha256="0" * 64, signature="-", key_id="-")
    run = ScoringRun.objects.create(project=project, detector=version, strategy="margin", reason="test",
                                    status=ScoringRun.RUNNING, chunks_total=0)
    FrameScore.objects.bulk_create(FrameScore(run=run, frame=f, score=scores[f.index], embedding=[0.0])
                                   for f in frames)
    assert scoring.finalize(run.pk).status == ScoringRun.DONE
    order = list(QueueItem.objects.filter(project=project).order_by("-priority")
                 .values_list("segment__number", flat=True))
    # tier 0: segment 1 (0.9 at frame 25) then 3 (not 2, segment 1's neighbour); then the rest by score
    assert order == [1, 3, 2, 4, 0]
    first = queue.next_lease(project, users["annotator"])
    assert first.assignment.item.segment.number == 1

