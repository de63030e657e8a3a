"""A submission through the process that leased its frame skips reading the lease
(labeling.work.lease_facts); what it assumed is checked by the write, and whatever changed since
the lease (the ontology version, the overlap, the membership, the lease itself) is judged on
what the database says, exactly as a submission through another process is."""
import pytest

from labeling.models import Annotation, Assignment, Membership, QueueItem
from labeling.work import lease_facts, queue, submissions
from ontology import services
from tests.conftest import make_frames

pytestmark = pytest.mark.django_db

BOX = {"class": "person", "x": 10, "y": 10, "w": 20, "h": 30, "attributes": {"posture": "standing"}}


@pytest.fixture
def reads(monkeypatch):
    """How often a submission read its lease from the database."""
    count = []
    real = submissions._read_lease

    def counted(*args):
        count.append(args)
        return real(*args)

    monkeypatch.setattr(submissions, "_read_lease", counted)
    return count


@pytest.fixture
def lease(project, users):
    make_frames(project, 3, width=200, height=100)
    return queue.next_assignment(project, users["annotator"])


def test_the_process_that_leased_the_frame_stores_without_reading_the_lease(lease, users, reads):
    done = submissions.submit(lease, users["annotator"], {"boxes": [BOX]})
    assert reads == []
    assert Annotation.objects.get(pk=done.annotation.pk).boxes.count() == 1
    assert lease_facts.recall(lease.pk, users["annotator"].pk) is None  # done with: forgotten


def test_another_process_reads_the_lease(lease, users, reads):
    lease_facts.clear()
    submissions.submit(lease, users["annotator"], {"boxes": [BOX]})
    assert len(reads) == 1 and Annotation.objects.filter(assignment=lease).count() == 1


def test_a_new_ontology_version_since_the_lease_is_the_one_the_work_is_stored_on(project, lease, users, reads):
    draft = services.derive(project.ontology_version)
    services.add_class(draft, key="boat", name="Boat")
    project.ontology_version = services.publish(draft)
    project.save()
    done = submissions.submit(lease, users["annotator"], {"boxes": [BOX]})  # valid on both versions
    assert len(reads) == 1  # the write refused the remembered version; the database's was read
    assert Annotation.objects.get(pk=done.annotation.pk).ontology_version_id == project.ontology_version_id


def test_a_class_the_new_version_dropped_is_refused(project, lease, users):
    draft = services.derive(project.ontology_version)
    services.remove_class(draft.classes.get(key="person"))
    project.ontology_version = services.publish(draft)
    project.save()
    with pytest.raises(submissions.SubmissionError, match="'person' is not a class"):
        submissions.submit(lease, users["annotator"], {"boxes": [BOX]})
    assert Annotation.objects.count() == 0 and Assignment.objects.get(pk=lease.pk).status == "active"


def test_a_member_removed_since_the_lease_cannot_submit(project, lease, users):
    Membership.objects.filter(project=project, user=users["annotator"]).delete()
    with pytest.raises(submissions.NotYours, match="no longer a member"):
        submissions.submit(lease, users["annotator"], {"boxes": [BOX]})
    assert Annotation.objects.count() == 0


def test_the_overlap_counted_is_the_projects_at_submission(project, lease, users):
    project.overlap = 1
    project.save(update_fields=["overlap"])
    submissions.submit(lease, users["annotator"], {"boxes": [BOX]})
    assert QueueItem.objects.get(pk=lease.item_id).is_open is False  # one submission is enough now


def test_a_lease_submitted_through_another_process_is_not_submitted_twice(lease, users):
    remembered = lease_facts.recall(lease.pk, users["annotator"].pk)
    submissions.submit(lease, users["annotator"], {"boxes": [BOX]})
    lease_facts.remember(lease, lease.project, remembered.frame)  # as if another process still held it
    with pytest.raises(submissions.AlreadySubmitted):
        submissions.submit(lease, users["annotator"], {"boxes": [BOX]})
    assert Annotation.objects.filter(assignment=lease).count() == 1


def test_someone_elses_lease_is_never_recalled(lease, users):
    assert lease_facts.recall(lease.pk, users["annotator"].pk) is not None
    assert lease_facts.recall(lease.pk, users["outsider"].pk) is None
    with pytest.raises(submissions.NotYours):
        submissions.submit(lease, users["outsider"], {"boxes": [BOX]})


def test_the_memory_is_bounded(monkeypatch, lease, users):
    monkeypatch.setattr(lease_facts, "CAPACITY", 2)
    remembered = lease_facts.recall(lease.pk, users["annotator"].pk)
    for fake_id in (10_001, 10_002):
        lease.pk = fake_id
        lease_facts.remember(lease, lease.project, remembered.frame)
    assert lease_facts.recall(remembered.id, users["annotator"].pk) is None  # the oldest went
    assert lease_facts.recall(10_002, users["annotator"].pk) is not None


def test_the_stored_annotations_frame_loads_its_sequence_whole(project, lease, users):
    """What a submission answers with reads like an annotation from the database: its frame's
    sequence is the whole row (the lease's own has only what the labeling page needs)."""
    done = submissions.submit(lease, users["annotator"], {"boxes": [BOX]})
    assert done.annotation.frame.sequence.dataset_id == project.dataset_id
