"""The queue rules, leases and the hook for policies."""
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.models import Assignment, AuditEvent, QueueItem
from labeling.work import policies, queue, submissions
from tests.conftest import make_frames

pytestmark = pytest.mark.django_db


@pytest.fixture
def more_annotators(make_user, project):
    from labeling.models import Membership

    people = [make_user(f"a{i}", "annotator") for i in range(3)]
    for person in people:
        Membership.objects.create(project=project, user=person)
    return people


def take(project, user):
    assignment = queue.next_assignment(project, user)
    return assignment.frame.index if assignment else None


def test_sequence_order_with_the_project_stride(project, users):
    project.frame_stride = 3
    project.save()
    make_frames(project, 7)
    order = []
    for _ in range(7):
        a = queue.next_assignment(project, users["annotator"])
        order.append(a.frame.index)
        submissions.submit(a, users["annotator"], {"boxes": [], "tags": []})
    assert order == [0, 3, 6, 1, 4, 2, 5]  # every 3rd frame first, then the frames between
    assert queue.next_assignment(project, users["annotator"]) is None


def test_scores_come_first_highest_first(project, users):
    frames = make_frames(project, 5)
    QueueItem.objects.filter(frame=frames[3]).update(priority=0.9)
    QueueItem.objects.filter(frame=frames[1]).update(priority=0.4)
    got = []
    for _ in range(3):
        a = queue.next_assignment(project, users["annotator"])
        got.append(a.frame.index)
        queue.skip(a, users["annotator"], "test")
    assert got == [3, 1, 0]


def test_overlap_and_no_frame_twice(project, users, more_annotators):
    project.overlap = 2
    project.save()
    make_frames(project, 2)
    a, b, c = more_annotators
    assert take(project, a) == 0
    assert take(project, b) == 0  # second annotator on frame 0
    assert take(project, c) == 1  # frame 0 is full
    held = queue.current_assignment(project, a)
    assert take(project, a) == 0  # the same lease again, not a new frame
    submissions.submit(held, a, {"boxes": [], "tags": []})
    assert take(project, a) == 1  # a never gets frame 0 again
    assert queue.next_assignment(project, users["annotator"]) is None  # both frames have 2 annotators
    item = QueueItem.objects.get(frame__index=0)
    assert (item.assigned, item.submitted, item.is_open) == (2, 1, False)


def test_expired_lease_returns_the_frame(project, users, more_annotators):
    project.overlap = 1
    project.save()
    make_frames(project, 1)
    a, b, _ = more_annotators
    first = queue.next_assignment(project, a)
    assert queue.next_assignment(project, b) is None
    Assignment.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    second = queue.next_assignment(project, b)
    assert second is not None and second.frame_id == first.frame_id
    assert Assignment.objects.get(pk=first.pk).status == Assignment.EXPIRED
    assert QueueItem.objects.get().assigned == 1


def test_work_submitted_after_the_lease_expired_is_kept_and_flagged(project, users, published_version):
    project.overlap = 1
    project.save()
    make_frames(project, 1)
    a = queue.next_assignment(project, users["annotator"])
    Assignment.objects.filter(pk=a.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    queue.expire_leases(project.pk)
    submitted = submissions.submit(a, users["annotator"], {"boxes": [
        {"class": "car", "x": 1, "y": 1, "w": 10, "h": 10}], "tags": []})
    annotation = submitted.annotation
    assignment = Assignment.objects.get(pk=a.pk)
    assert assignment.status == Assignment.SUBMITTED and assignment.late and submitted.late
    assert annotation.boxes.count() == 1
    event = AuditEvent.objects.get(verb="annotation.submit", object_id=str(annotation.pk))
    assert event.actor == users["annotator"] and event.data == {"frame": a.frame_id, "boxes": 1, "tags": 0,
                                                                 "late": True}
    item = QueueItem.objects.get()
    assert (item.assigned, item.submitted, item.is_open) == (1, 1, False)  # it took its slot back
    assert queue.next_assignment(project, users["qa"]) is None


def test_renew_extends_the_lease(project, users):
    make_frames(project, 1)
    a = queue.next_assignment(project, users["annotator"])
    Assignment.objects.filter(pk=a.pk).update(expires_at=timezone.now() + timedelta(minutes=1))
    renewed = queue.renew(a, users["annotator"])
    assert renewed.expires_at > timezone.now() + timedelta(minutes=14)
    with pytest.raises(queue.QueueError, match="someone else"):
        queue.renew(a, users["qa"])


def test_skip_needs_a_reason_and_frees_the_frame(project, users, more_annotators):
    project.overlap = 1
    project.save()
    make_frames(project, 1)
    a, b, _ = more_annotators
    lease = queue.next_assignment(project, a)
    with pytest.raises(queue.QueueError, match="why"):
        queue.skip(lease, a, "  ")
    queue.skip(lease, a, "too dark to see anything")
    assert Assignment.objects.get(pk=lease.pk).skip_reason == "too dark to see anything"
    assert queue.next_assignment(project, a) is None  # a skipped it
    assert take(project, b) == 0  # b may have it


def test_new_frames_join_the_queue_of_projects_on_the_dataset(project, users):
    make_frames(project, 2)
    make_frames(project, 3, sequence_name="later")
    assert QueueItem.objects.filter(project=project).count() == 5
    assert queue.queue_size(project, users["annotator"]) == 5


class NoSensitiveFrames:
    candidates = 1

    def sql_filter(self, project, user):
        return "NOT f.sensitive AND %s", [True]

    def choose(self, project, user, candidates):
        return candidates


class EvenIndexOnly:
    candidates = 10

    def sql_filter(self, project, user):
        return None

    def choose(self, project, user, candidates):
        return [c for c in candidates if c.index % 2 == 0]


def test_policies_filter_and_reorder_candidates(project, users):
    make_frames(project, 6, sensitive={0, 2})
    extra = (NoSensitiveFrames(), EvenIndexOnly())
    for policy in extra:
        policies.register(policy)
    try:
        a = queue.next_assignment(project, users["annotator"])
        assert a.frame.index == 4  # 0 and 2 are sensitive, odd frames are dropped
    finally:
        for policy in extra:
            policies.unregister(policy)
    from labeling.protection import policy as protection_policy
    from labeling.protection import state as protection_state

    # without them, sequence order (frame 0 is sensitive: annotator protection serves it to people
    # who opted in)
    protection_state.set_consent(users["qa"], True, protection_policy.consent_version())
    assert queue.next_assignment(project, users["qa"]).frame.index == 0
