"""Quarantine of an annotator's submissions: agreement and consensus without them, the frame back
in the queue when too few remain, lifting, audit, permissions, and the model versions flagged."""
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.governance import quarantine as qmod
from labeling.governance.quarantine import QuarantineDenied, QuarantineError
from labeling.models import (
    AgreementRun,
    Annotation,
    AuditEvent,
    FrameAgreement,
    Membership,
    ModelVersion,
    Quarantine,
    QueueItem,
)
from labeling.quality import frame_scoring
from labeling.quality.labels import round_annotations
from labeling.work import queue, submissions
from tests.conftest import make_frames


def box(cls, x=10, y=10, w=50, h=80):
    return {"class": cls, "x": x, "y": y, "w": w, "h": h}


def label(project, user, payload):
    assignment = queue.next_assignment(project, user)
    assert assignment is not None, f"{user} got no frame"
    return submissions.submit(assignment, user, payload).annotation


@pytest.fixture
def crew(project, users, make_user):
    """Overlap 3: two honest annotators, a poisoner, and a spare who has not labelled yet."""
    people = {"h1": users["annotator"], "h2": make_user("hana", "annotator"), "p": make_user("pete", "annotator"),
              "h3": make_user("hugo", "annotator")}
    for key in ("h2", "p", "h3"):
        Membership.objects.create(project=project, user=people[key])
    project.overlap, project.agreement_threshold = 3, 0.0
    project.save(update_fields=["overlap", "agreement_threshold"])
    return people


def labelled_frame(project, crew):
    """One frame: h1 a car; h2 a car and a person; the poisoner a truck (the car) and the person.
    The consensus of three keeps the car and the person (two of three drew it)."""
    frame = make_frames(project, 2)[0]
    label(project, crew["h1"], {"boxes": [box("car")]})
    label(project, crew["h2"], {"boxes": [box("car"), box("person", x=300, y=200)]})
    label(project, crew["p"], {"boxes": [box("truck", x=11), box("person", x=302, y=201)]})
    frame_scoring.evaluate_frame(project.pk, frame.pk)  # what the submission's job does after the commit
    return frame


def approved(project, frame):
    head = (Annotation.objects.filter(project=project, frame=frame, status=Annotation.APPROVED,
                                      superseded_by__isnull=True).first())
    return head, sorted(b.label_class.key for b in head.boxes.all()) if head else None


def window():
    now = timezone.now()
    return now - timedelta(hours=1), now + timedelta(hours=1)


def test_too_few_left_sends_the_frame_back_to_the_queue_and_the_next_annotator_refuses(project, users, crew,
                                                                                      django_capture_on_commit_callbacks):
    frame = labelled_frame(project, crew)
    _, classes = approved(project, frame)
    assert classes == ["car", "person"]
    assert not QueueItem.objects.get(project=project, frame=frame).is_open

    start, end = window()
    q = qmod.quarantine(project, crew["p"], start, end, "flips cars to trucks", users["qa"])

    item = QueueItem.objects.get(project=project, frame=frame)
    assert (item.submitted, item.assigned, item.is_open) == (2, 2, True)
    assert [a for _, a in round_annotations(project.pk, frame.pk)] == sorted([crew["h1"].pk, crew["h2"].pk])
    assert Annotation.objects.filter(annotator=crew["p"]).count() == 1  # nothing deleted
    # the poisoner is never handed the frame again; a fresh annotator is, and their submission re-fuses it
    assert queue.next_assignment(project, crew["p"]).frame_id != frame.pk
    label(project, crew["h3"], {"boxes": [box("car", x=12)]})
    frame_scoring.evaluate_frame(project.pk, frame.pk)
    fa = FrameAgreement.objects.get(project=project, frame=frame, round=0)
    assert sorted(fa.annotators) == sorted([crew["h1"].pk, crew["h2"].pk, crew["h3"].pk])
    head, classes = approved(project, frame)
    assert classes == ["car"]  # the person had only h2 left: below the quorum
    assert head.note == "consensus of 3 annotators"

    # lifting counts the poisoner again: four submissions, re-scored with them by an agreement run
    # (labeling.quality.rescoring) once the lift commits
    with django_capture_on_commit_callbacks(execute=True):
        qmod.lift(q, users["qa"], "checked by hand: honest mistakes")
    run = AgreementRun.objects.get(project=project)
    assert (run.status, run.whole_project, run.frames_total, run.counts["scored"]) == ("done", False, 1, 1)
    item.refresh_from_db()
    assert (item.submitted, item.is_open) == (4, False)
    fa.refresh_from_db()
    assert crew["p"].pk in fa.annotators and len(fa.annotators) == 4
    verbs = list(AuditEvent.objects.filter(object_type="labeling.quarantine", object_id=str(q.pk))
                 .order_by("pk").values_list("verb", flat=True))
    assert verbs == ["quarantine.create", "quarantine.lift"]
    q.refresh_from_db()
    assert q.lifted_by == users["qa"] and q.lift_reason == "checked by hand: honest mistakes"


def test_enough_left_rescores_and_refuses_at_once(project, users, crew, django_capture_on_commit_callbacks):
    frame = labelled_frame(project, crew)
    head_before, _ = approved(project, frame)
    project.overlap = 2  # the project now asks two annotators per frame: three submitted here
    project.save(update_fields=["overlap"])
    start, end = window()
    with django_capture_on_commit_callbacks(execute=True) as sent:  # the agreement run, once this commits
        q = qmod.quarantine(project, crew["p"], start, end, "flips cars to trucks", users["qa"])
    assert sent, "the re-scoring is sent as a background job"
    head, classes = approved(project, frame)
    assert classes == ["car"] and head.supersedes_id == head_before.pk
    fa = FrameAgreement.objects.get(project=project, frame=frame, round=0)
    assert sorted(fa.annotators) == sorted([crew["h1"].pk, crew["h2"].pk])
    assert not QueueItem.objects.get(project=project, frame=frame).is_open

    with django_capture_on_commit_callbacks(execute=True):
        qmod.lift(q, users["qa"], "false alarm")
    head, classes = approved(project, frame)
    assert classes == ["car", "person"]  # fused from all three again
    assert FrameAgreement.objects.get(project=project, frame=frame, round=0).annotators.__len__() == 3


def test_only_the_range_is_quarantined(project, users, crew):
    frame = labelled_frame(project, crew)
    later = timezone.now() + timedelta(minutes=5)
    qmod.quarantine(project, crew["p"], later, later + timedelta(hours=1), "from tomorrow on", users["qa"])
    assert crew["p"].pk in [a for _, a in round_annotations(project.pk, frame.pk)]
    assert not QueueItem.objects.get(project=project, frame=frame).is_open


def test_annotators_and_other_projects_leads_are_refused_and_nothing_changes(project, users, crew, make_user):
    labelled_frame(project, crew)
    start, end = window()
    with pytest.raises(QuarantineDenied):
        qmod.quarantine(project, crew["p"], start, end, "I do not like them", crew["h1"])
    stranger = make_user("stan", "qa_lead")  # a QA lead, not on this project
    with pytest.raises(QuarantineDenied):
        qmod.quarantine(project, crew["p"], start, end, "reason", stranger)
    assert not Quarantine.objects.exists()
    assert not AuditEvent.objects.filter(verb__startswith="quarantine.").exists()


@pytest.mark.parametrize("change, message", [
    (dict(reason="  "), "reason"),
    (dict(ends_at="start"), "end after"),
    (dict(starts_at="naive"), "time zone"),
    (dict(starts_at="2024-01-01"), "date and time"),
])
def test_bad_input_is_refused_with_a_clear_error(project, users, crew, change, message):
    start, end = window()
    args = dict(starts_at=start, ends_at=end, reason="poisoned")
    for key, value in change.items():
        args[key] = {"start": start, "naive": start.replace(tzinfo=None)}.get(value, value)
    with pytest.raises(QuarantineError, match=message):
        qmod.quarantine(project, crew["p"], args["starts_at"], args["ends_at"], args["reason"], users["qa"])
    assert not Quarantine.objects.exists()


def test_lifting_twice_or_without_reason_is_refused(project, users, crew):
    start, end = window()
    q = qmod.quarantine(project, crew["p"], start, end, "poisoned", users["admin"])
    with pytest.raises(QuarantineError, match="reason"):
        qmod.lift(q, users["qa"], "")
    with pytest.raises(QuarantineDenied):
        qmod.lift(q, crew["h1"], "let me go")
    qmod.lift(q, users["qa"], "done")
    with pytest.raises(QuarantineError, match="already"):
        qmod.lift(q, users["qa"], "again")


def _version(project, **lineage):
    return ModelVersion.objects.create(project=project, kind=ModelVersion.DETECTOR, architecture="test",
                                       ontology_version=project.ontology_version, class_map=["car"], blob_name="none",
                                       sha256="0" * 64, signature="-", key_id="-", lineage=lineage)


def test_model_versions_trained_on_quarantined_work_are_flagged(project, users, crew):
    frame = labelled_frame(project, crew)
    consensus, _ = approved(project, frame)
    used = _version(project, approved_snapshot={"frames": 1, "annotation_ids": [consensus.pk]})
    clean = _version(project, approved_snapshot={"frames": 1, "annotation_ids": [consensus.pk + 1000]})
    old_style = _version(project, approved_snapshot={"frames": 1})  # judged by when it was registered
    before = _version(project, approved_snapshot={"frames": 1})
    ModelVersion.objects.filter(pk=before.pk).update(created_at=timezone.now() - timedelta(days=1))

    start, end = window()
    q = qmod.quarantine(project, crew["p"], start, end, "flips cars to trucks", users["qa"])
    for version in (used, clean, old_style, before):
        version.refresh_from_db()
    assert used.lineage["quarantine_flags"] == [
        {**used.lineage["quarantine_flags"][0], "quarantine": q.pk, "annotator": crew["p"].pk, "count": 1,
         "lifted": False}]
    assert qmod.open_flags(old_style) and not qmod.open_flags(clean) and not qmod.open_flags(before)
    assert "quarantine_flags" not in clean.lineage
    flag_event = AuditEvent.objects.get(verb="quarantine.flag_models")
    assert sorted(flag_event.data["versions"]) == sorted([used.pk, old_style.pk])

    qmod.lift(q, users["qa"], "false alarm")
    used.refresh_from_db()
    assert used.lineage["quarantine_flags"][0]["lifted"] is True and not qmod.open_flags(used)


def test_training_lineage_records_the_approved_revisions(project, users, crew):
    from labeling.sampling import examples, training

    frame = labelled_frame(project, crew)
    consensus, _ = approved(project, frame)
    found, _ = examples.approved_examples(project)
    assert [ex.annotation_id for ex in found] == [consensus.pk]
    assert training._snapshot(found)["annotation_ids"] == [consensus.pk]
