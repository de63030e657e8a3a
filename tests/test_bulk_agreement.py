"""Bulk agreement (labeling.quality.bulk_scoring, labeling.quality.rescoring): re-scoring a project
in batches stores exactly what the per-frame check stores (scores, pair rows, consensus
revisions, review items and their decisions, audit events), does nothing more when run again,
costs a fixed number of statements per batch, and runs as a chunked job on a real worker. A
change of the project's thresholds, the API and the admin start it."""
from __future__ import annotations

import time
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeling.models import (
    AgreementChunk,
    AgreementRun,
    Annotation,
    AuditEvent,
    FrameAgreement,
    Membership,
    PairAgreement,
    Project,
    QueueItem,
    ReviewDecision,
    ReviewItem,
)
from labeling.quality import bulk_scoring, frame_scoring, gold, rescoring
from labeling.work import projects, queue, submissions
from tests.conftest import api_client, make_frames


def box(cls, x=10, y=10, w=50, h=80, **extra):
    return {"class": cls, "x": x, "y": y, "w": w, "h": h, **extra}


CAR, PERSON = box("car"), box("person", 200, 100, 40, 90, attributes={"posture": "standing"})
# Per frame index, what each of the three annotators submits. With the project's first settings
# (IoU 0.5, agreement 0.7) and then the new ones (IoU 0.75, agreement 0.6):
WORK = {
    0: [{"boxes": [CAR, PERSON], "tags": [{"class": "crowd"}]}] * 3,  # agree: passes both
    1: [{"boxes": [CAR, PERSON]}, {"boxes": [CAR, PERSON]}, {"boxes": [CAR]}],  # 0.78: passes both
    2: [{"boxes": [CAR, PERSON]}, {"boxes": [box("truck"), PERSON]},  # a confusion, 0.67: fails, then passes
        {"boxes": [box("truck"), PERSON]}],
    3: [{"boxes": [box("car", 100, 100, 100, 100)]}, {"boxes": [box("car", 120, 100, 100, 100)]},  # IoU 0.67:
        {"boxes": [box("car", 101, 100, 100, 100)]}],  # passes at IoU 0.5, fails at 0.75
    4: [{"boxes": [CAR], "tags": [{"class": "crowd"}]}, {"boxes": [CAR], "tags": [{"class": "crowd"}]},
        {"boxes": [CAR]}],  # a split tag: fails both
    5: [{"boxes": [box("car", track_id=1), box("person", 300, 200, 30, 60, track_id=2)]},  # tracks: agree
        {"boxes": [box("car", 11, track_id=4), box("person", 301, 200, 30, 60, track_id=5)]},
        {"boxes": [box("car", 12, track_id=7), box("person", 300, 201, 30, 60)]}],
    6: [{"boxes": []}] * 3,  # nothing to see: no score, passes
    7: [{"boxes": [CAR]}, {"boxes": [box("truck")]}, {"boxes": [box("person")]}],  # made gold afterwards
    8: [{"boxes": [CAR]}, {"boxes": [box("truck")]}],  # the third annotator never submits: incomplete
}
OLD = dict(iou_threshold=0.5, agreement_threshold=0.7)
NEW = dict(iou_threshold=0.75, agreement_threshold=0.6)


def label_all(project, annotators, work=WORK):
    """Each annotator takes frames from the queue and submits their part of `work` for it."""
    for n, user in enumerate(annotators):
        todo = {i for i, parts in work.items() if len(parts) > n}
        while todo:
            assignment = queue.next_assignment(project, user)
            assert assignment is not None and assignment.frame.index in todo, "the queue hands out frames in order"
            submissions.submit(assignment, user, work[assignment.frame.index][n])
            todo.discard(assignment.frame.index)


@pytest.fixture
def crew(users, make_user):
    return [users["annotator"], make_user("hana", "annotator"), make_user("hugo", "annotator")]


def twin(name, users, crew, frames=len(WORK)):
    """A project with overlap 3 and the first settings, its frames, and the crew's work."""
    from labeling.models import Dataset

    project = Project.objects.create(name=name, dataset=Dataset.objects.create(name=f"{name} footage"),
                                     ontology_version_id=Project.objects.get(name="Test project").ontology_version_id,
                                     overlap=3, gold_rate=0, **OLD)
    for user in (*crew, users["qa"], users["admin"]):
        Membership.objects.create(project=project, user=user)
    made = make_frames(project, frames)
    label_all(project, crew)
    return project, made


def score_per_frame(project, frames):
    for frame in frames:
        frame_scoring.evaluate_frame(project.pk, frame.pk)


def change_settings(project, user, **values):
    for name, value in values.items():
        setattr(project, name, value)
    return projects.save_project(project, user)


def state(project, frames) -> dict:
    """Everything agreement wrote in a project, by frame position (ids of its own rows left out)."""
    at = {f.pk: f.index for f in frames}
    annotator_of = dict(Annotation.objects.filter(project=project).values_list("pk", "annotator_id"))
    agreements = {at[fa.frame_id]: (fa.round, fa.score, fa.box_score, fa.tag_score, fa.units, fa.tag_units,
                                    fa.attribute_units, fa.passed, fa.annotators,
                                    [annotator_of[a] for a in fa.annotations])
                  for fa in FrameAgreement.objects.filter(project=project)}
    pairs = sorted((at[p.agreement.frame_id], p.annotator_a_id, p.annotator_b_id, p.precision, p.recall, p.f1,
                    p.mean_iou, p.matched, p.n_a, p.n_b, p.confusions, p.per_class)
                   for p in PairAgreement.objects.filter(project=project).select_related("agreement"))
    items = sorted((at[i.frame_id], i.round, i.reason, i.status, i.severity, i.annotators, i.classes, i.note,
                    i.agreement.frame_id == i.frame_id if i.agreement_id else None,
                    [(d.decision, d.comment, d.decided_by_id) for d in i.decisions.order_by("pk")])
                   for i in ReviewItem.objects.filter(project=project))
    superseded = set(Annotation.objects.filter(project=project, supersedes__isnull=False)
                     .values_list("supersedes_id", flat=True))
    consensus = sorted(
        (at[a.frame_id], a.revision, a.status, a.note, a.pk not in superseded,
         sorted((b.label_class.key, b.x, b.y, b.w, b.h, b.track_id, b.attributes, b.occluded, b.source)
                for b in a.boxes.all()),
         sorted((t.label_class.key, t.changed, t.attributes) for t in a.tags.all()))
        for a in Annotation.objects.filter(project=project, source=Annotation.CONSENSUS)
        .prefetch_related("boxes__label_class", "tags__label_class"))
    return {"agreements": agreements, "pairs": pairs, "review_items": items, "consensus": consensus}


def audit_of(project, frames) -> Counter:
    """The agreement's audit events (verb and data, frames by position, revisions by annotator)."""
    at = {f.pk: f.index for f in frames}
    annotator_of = dict(Annotation.objects.filter(project=project).values_list("pk", "annotator_id"))
    out = Counter()
    for verb, data in AuditEvent.objects.filter(project=project, verb__in=[
            "agreement.compute", "annotation.consensus", "review.open", "review.agreed"]).values_list("verb", "data"):
        data = {**data, "frame": at[data["frame"]]}
        if "annotations" in data:
            data["annotations"] = [annotator_of[a] for a in data["annotations"]]
        out[(verb, repr(sorted(data.items())))] += 1
    return out


def test_bulk_rescore_after_a_threshold_change_equals_the_per_frame_path(users, crew, project,
                                                                           django_capture_on_commit_callbacks):
    per_frame, frames_a = twin("Per frame", users, crew)
    bulk, frames_b = twin("Bulk", users, crew)
    for p, frames in ((per_frame, frames_a), (bulk, frames_b)):
        score_per_frame(p, frames)
        gold.mark(p, frames[7], users["qa"], answer=Annotation.objects.get(project=p, frame=frames[7],
                                                                          annotator=crew[0]))
    assert state(per_frame, frames_a) == state(bulk, frames_b)
    before = state(bulk, frames_b)
    assert sorted(before["agreements"]) == [0, 1, 2, 3, 4, 5, 6, 7]  # not the incomplete frame 8
    assert [i[:4] for i in before["review_items"]] == [(2, 0, "disagreement", "open"), (4, 0, "disagreement", "open"),
                                                       (7, 0, "disagreement", "open")]

    # the per-frame path under the new settings (their own re-scoring job is not let run)
    with django_capture_on_commit_callbacks(execute=False) as sent:
        change_settings(per_frame, users["admin"], **NEW)
    assert len(sent) == 1, "a threshold change sends the re-scoring job"
    score_per_frame(per_frame, frames_a)
    # the bulk path: the job that the change sends, as a worker runs it (chunks of 3 frames)
    with django_capture_on_commit_callbacks(execute=True):
        change_settings(bulk, users["admin"], **NEW)
    run = AgreementRun.objects.get(project=bulk)
    assert run.status == AgreementRun.DONE and run.chunks_done == run.chunks_total == 1
    assert run.params["agreement_threshold"] == 0.6 and "agreement_threshold" in run.reason

    after = state(bulk, frames_b)
    assert after == state(per_frame, frames_a)
    assert audit_of(bulk, frames_b) == audit_of(per_frame, frames_a)
    # what changed: frame 2 passes now (its item closed as agreed, its consensus approved),
    # frame 3 fails at the stricter IoU (an item opened; its consensus stays), the gold frame 7
    # and the incomplete frame 8 are left alone
    items = {i[0]: i for i in after["review_items"]}
    assert items[2][3] == "resolved" and items[2][9] == [("agreed", bulk_scoring.AGREED_COMMENT, None)]
    assert items[3][3] == "open" and items[4][3] == "open"
    assert after["agreements"][3][1] < 0.6 <= after["agreements"][2][1]
    assert after["agreements"][7] == before["agreements"][7]
    assert [c[0] for c in after["consensus"] if c[4]] == [0, 1, 2, 3, 5, 6]
    tracks = next(c for c in after["consensus"] if c[0] == 5)[5]
    assert sorted(b[5] for b in tracks) == [1, 2]  # the earliest annotator's track ids
    assert run.counts == {"scored": 7, "passed": 5, "below": 2, "consensus": 1, "review_opened": 1,
                          "review_refreshed": 1, "review_closed": 1}
    verbs = list(AuditEvent.objects.filter(object_type="labeling.agreementrun").values_list("verb", flat=True))
    assert sorted(verbs) == ["agreement.rescore.done", "agreement.rescore.start"]

    # idempotent: a second run writes no revision, item or decision, and changes no score
    rows = (Annotation.objects.count(), ReviewItem.objects.count(), ReviewDecision.objects.count())
    with django_capture_on_commit_callbacks(execute=True):
        again = rescoring.start_run(bulk, reason="again", user=users["qa"], chunk_size=4)
    again.refresh_from_db()
    assert again.status == AgreementRun.DONE and again.chunks_total == 2
    assert (again.counts["consensus"], again.counts.get("review_opened", 0), again.counts.get("review_closed", 0)) \
        == (0, 0, 0)
    assert (Annotation.objects.count(), ReviewItem.objects.count(), ReviewDecision.objects.count()) == rows
    assert state(bulk, frames_b) == after


def test_a_qa_decision_stands_and_a_quarantined_annotator_does_not_count(users, crew, project,
                                                                         django_capture_on_commit_callbacks):
    """Where a QA lead approved a version, re-scoring writes no consensus over it (as the
    per-frame path); a batch skips frames whose round lost a submission."""
    from labeling.quality import review

    bulk, frames = twin("Bulk", users, crew)
    score_per_frame(bulk, frames)
    item = ReviewItem.objects.get(project=bulk, frame=frames[2])
    review.accept(bulk, item.pk, Annotation.objects.get(project=bulk, frame=frames[2], annotator=crew[0]).pk,
                  users["qa"])
    head = Annotation.objects.get(project=bulk, frame=frames[2], annotator__isnull=True, superseded_by__isnull=True)
    change_settings(bulk, users["admin"], **NEW)
    counts = bulk_scoring.evaluate_batch(bulk.pk, [f.pk for f in frames])
    assert counts["scored"] == 8 and counts["consensus"] == 0
    assert Annotation.objects.get(project=bulk, frame=frames[2], annotator__isnull=True,
                                  superseded_by__isnull=True) == head


def test_statements_per_batch_do_not_grow_with_the_batch(users, crew, project):
    work = {i: WORK[i % 5] for i in range(12)}  # agreeing and disagreeing frames, twice over and more
    bulk = Project.objects.create(name="Bulk", dataset=project.dataset, ontology_version=project.ontology_version,
                                  overlap=3, gold_rate=0)
    for user in crew:
        Membership.objects.create(project=bulk, user=user)
    frames = make_frames(bulk, 12)
    label_all(bulk, crew, work)
    small, large = [f.pk for f in frames[:5]], [f.pk for f in frames[5:]]

    def statements(frame_ids):
        with CaptureQueriesContext(connection) as ctx:
            counts = bulk_scoring.evaluate_batch(bulk.pk, frame_ids)
        assert counts["scored"] == len(frame_ids) and counts["consensus"] and counts["review_opened"]
        return len(ctx.captured_queries)

    first_small, first_large = statements(small), statements(large)
    assert first_small == first_large, "a first scoring: the same statements for 5 frames as for 7"
    bulk.agreement_threshold = 0.6  # again, now over rows that exist: items close, consensus is written
    bulk.save(update_fields=["agreement_threshold"])
    with CaptureQueriesContext(connection) as ctx:
        counts = bulk_scoring.evaluate_batch(bulk.pk, small)
    with CaptureQueriesContext(connection) as ctx_large:
        counts_large = bulk_scoring.evaluate_batch(bulk.pk, large)
    assert counts["review_closed"] and counts_large["review_closed"]
    assert len(ctx.captured_queries) == len(ctx_large.captured_queries) <= 25


def test_bad_requests_are_refused_and_write_nothing(users, crew, project):
    with pytest.raises(rescoring.RescoreError, match="reason"):
        rescoring.start_run(project, reason="  ")
    with pytest.raises(rescoring.RescoreError, match="chunk_size"):
        rescoring.start_run(project, reason="x", chunk_size=0)
    project.work_unit = Project.SEGMENT
    with pytest.raises(rescoring.RescoreError, match="segment"):
        rescoring.start_run(project, reason="x")
    assert not AgreementRun.objects.exists() and not AgreementChunk.objects.exists()
    assert not AuditEvent.objects.filter(verb__startswith="agreement.rescore").exists()


def test_api_and_admin_start_a_run_for_qa_leads_and_admins_only(users, crew, project,
                                                               django_capture_on_commit_callbacks):
    bulk, frames = twin("Bulk", users, crew)
    url = f"/api/projects/{bulk.pk}/agreement/rescore/"
    assert api_client(crew[0]).post(url, {"reason": "mine"}, format="json").status_code == 403
    assert api_client(users["outsider"]).post(url, {}, format="json").status_code == 404
    assert api_client(users["qa"]).post(url, {"reason": "x" * 300}, format="json").status_code == 400
    assert not AgreementRun.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        answer = api_client(users["qa"]).post(url, {"reason": "new ontology"}, format="json")
    assert answer.status_code == 202, answer.content
    assert (answer.data["reason"], answer.data["frames_total"], answer.data["created_by"]) == \
        ("new ontology", 9, users["qa"].pk)  # every non-gold frame with a submission (8 is incomplete)
    listed = api_client(users["qa"]).get(url).data
    assert listed[0]["status"] == "done" and listed[0]["counts"]["scored"] == 8
    assert FrameAgreement.objects.filter(project=bulk).count() == 8
    start = AuditEvent.objects.get(verb="agreement.rescore.start")
    assert start.actor == users["qa"] and start.data["frames"] == 9

    admin = api_client(users["admin"])
    answer = admin.post("/admin/labeling/project/", {"action": "rescore_agreement", "_selected_action": [bulk.pk]})
    assert answer.status_code == 302
    assert AgreementRun.objects.filter(project=bulk, reason="re-score by hand (admin)").exists()


@pytest.mark.django_db(transaction=True)
def test_a_chunked_run_completes_on_a_real_worker(celery_worker_app, users, crew, project):
    bulk, frames = twin("Bulk", users, crew)
    run = rescoring.start_run(bulk, reason="worker test", user=users["qa"], chunk_size=3)  # commits: sent
    assert run.chunks_total == 3
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status == AgreementRun.DONE:
            break
        time.sleep(0.2)
    assert run.status == AgreementRun.DONE, f"run stuck at {run.chunks_done}/{run.chunks_total}"
    assert run.counts["scored"] == 8 and run.frames_done == 9
    assert set(AgreementChunk.objects.filter(run=run).values_list("status", flat=True)) == {"done"}
    assert FrameAgreement.objects.filter(project=bulk).count() == 8
    assert QueueItem.objects.filter(project=bulk, frame=frames[8], submitted=2).exists()
    assert AuditEvent.objects.filter(verb="agreement.rescore.done", object_id=str(run.pk)).exists()


def test_an_ontology_migration_rescores_on_the_migrated_labels(users, crew, project,
                                                                django_capture_on_commit_callbacks):
    """A migration writes each annotator's labels again on the new version (source 'migration');
    the project moving to that version scores its frames again on them: the round is the migrated
    revisions, a consensus already made stays (its migrated copy has the same labels), and a
    disagreement the migration resolved (car against truck, merged into vehicle) now passes and is
    approved. A migration applied to a project already on its target version starts the run too."""
    from labeling.exchange import ontology_migration
    from ontology import services

    bulk, frames = twin("Bulk", users, crew)
    score_per_frame(bulk, frames)
    assert not FrameAgreement.objects.get(project=bulk, frame=frames[2]).passed  # car vs truck
    draft = services.derive(bulk.ontology_version)
    draft.classes.filter(key__in=["car", "truck"]).delete()
    services.add_class(draft, key="vehicle", name="Vehicle", shortcut="2")
    v2 = services.publish(draft)
    migration = services.create_migration(bulk.ontology_version, v2, {"car": "vehicle", "truck": "vehicle",
                                                                      "person": "person", "crowd": "crowd"})
    before = dict(Annotation.objects.filter(project=bulk, source=Annotation.CONSENSUS, superseded_by__isnull=True)
                  .values_list("frame_id", "pk"))
    with django_capture_on_commit_callbacks(execute=True):
        ontology_migration.apply(migration, user=users["admin"])
    assert not AgreementRun.objects.filter(project=bulk).exists()  # still on the old version: nothing yet
    with django_capture_on_commit_callbacks(execute=True):
        bulk.ontology_version = v2
        projects.save_project(bulk, users["admin"])
    run = AgreementRun.objects.get(project=bulk)
    assert run.status == AgreementRun.DONE and run.reason == "ontology_version changed"
    latest = {fa.frame_id: fa for fa in FrameAgreement.objects.filter(project=bulk).order_by("round", "pk")}
    migrated = set(Annotation.objects.filter(project=bulk, source=Annotation.MIGRATION).values_list("pk", flat=True))
    scored = [fa for fa in latest.values() if fa.annotations]
    assert len(scored) == 8 and all(set(fa.annotations) <= migrated for fa in scored)  # the round: migrated labels
    assert latest[frames[2].pk].passed  # vehicle against vehicle
    head = Annotation.objects.get(project=bulk, frame=frames[2], annotator__isnull=True, superseded_by__isnull=True)
    assert head.source == Annotation.CONSENSUS and head.status == Annotation.APPROVED
    assert sorted(head.boxes.values_list("label_class__key", flat=True)) == ["person", "vehicle"]
    assert head.ontology_version_id == v2.pk
    from labeling.quality import review

    split = ReviewItem.objects.get(project=bulk, frame=frames[4], status=ReviewItem.OPEN)  # still split on crowd
    assert {a.pk for a in review.candidates(split)} == set(latest[frames[4].pk].annotations)  # QA picks among them
    for frame_id, old in before.items():  # the consensus made before stays, as its migrated copy
        now = Annotation.objects.get(project=bulk, frame_id=frame_id, annotator__isnull=True,
                                     superseded_by__isnull=True)
        assert now.source == Annotation.MIGRATION and now.supersedes_id == old

    # a second migration, applied while the project is on its source and target's source already
    draft = services.derive(v2)
    services.add_class(draft, key="boat", name="Boat", shortcut="5")
    v3 = services.publish(draft)
    with django_capture_on_commit_callbacks(execute=True):
        bulk.ontology_version = v3
        projects.save_project(bulk, users["admin"])
    third = services.create_migration(v2, v3, {"vehicle": "vehicle", "person": "person", "crowd": "crowd"})
    with django_capture_on_commit_callbacks(execute=True):
        ontology_migration.apply(third, user=users["admin"])
    last = AgreementRun.objects.filter(project=bulk).order_by("-pk").first()
    assert last.reason == f"ontology migration {third.pk} applied" and last.status == AgreementRun.DONE
    assert not Annotation.objects.filter(project=bulk, source=Annotation.CONSENSUS,
                                         created_at__gt=last.created_at).exists()  # nothing changed: no new consensus
