"""50 annotators asking for frames at once: never more than `overlap` per frame, never the same
frame twice to one person, no deadlock."""
from collections import Counter

import pytest
from labeling.work import queue, submissions
from labeling.models import Assignment, Membership, QueueItem
from tests import crowd
from tests.conftest import make_frames


@pytest.mark.django_db(transaction=True)
def test_fifty_annotators_at_once(project, make_user):
    project.overlap = 2
    project.save()
    make_frames(project, 60)
    people = [make_user(f"crowd{i}", "annotator") for i in range(50)]
    Membership.objects.bulk_create(Membership(project=project, user=p) for p in people)
    taken = Counter()

    def work(person):
        for round_ in range(4):
            lease = queue.next_assignment(project, person)
            if lease is None:
                return
            taken[lease.frame_id] += 1
            if round_ % 2 == 0:
                submissions.submit(lease, person, {"boxes": [], "tags": []})
            else:
                queue.skip(lease, person, "testing")

    assert crowd.at_once(people, work) == []

    per_frame = Counter(Assignment.objects.filter(status__in=["active", "submitted"])
                        .values_list("frame_id", flat=True))
    assert per_frame and max(per_frame.values()) <= 2
    pairs = Counter(Assignment.objects.values_list("frame_id", "annotator_id"))
    assert max(pairs.values()) == 1
    for item in QueueItem.objects.all():  # the counters agree with the rows
        live = Assignment.objects.filter(item=item, status__in=["active", "submitted"]).count()
        done = Assignment.objects.filter(item=item, status="submitted").count()
        assert (item.assigned, item.submitted, item.is_open) == (live, done, live < 2)
    assert sum(taken.values()) == Assignment.objects.count()
