"""Agreement on a frame, from the database to the QA queue: the thin layer over `agreement`
(the math) and `consensus` (the fusion).

When the `overlap`-th annotator submits a frame, a Celery task calls `evaluate_frame`: it loads
every annotator's current revision of this round, scores every pair, stores the scores, and then
either writes the consensus as the frame's approved annotation (agreement ≥ the project's
threshold) or opens a review item for the QA leads (below it). What it decides comes from
`outcome`, which re-scoring a whole project in batches (`bulk_scoring`) shares."""
from __future__ import annotations

import logging

from django.db import connection, transaction
from django.utils import timezone

from labeling import audit
from labeling.jobs import outbox
from labeling.models import (
    Annotation,
    FrameAgreement,
    PairAgreement,
    Project,
    QueueItem,
    ReviewItem,
)
from labeling.quality import gold, outcome, review_items
from labeling.quality.agreement import Labels
from labeling.quality.labels import (
    by_consensus,
    fused_labels,
    labels_of_round,
    load_labels,
    params_of,
    round_annotations,
)
from labeling.work.payloads import as_payload
from labeling.work.submissions import head_revision, store

log = logging.getLogger(__name__)


def evaluate_frame(project_id: int, frame_id: int) -> FrameAgreement | None:
    """Score the current round of a frame once every annotator of it has submitted; then approve
    the consensus or open a review item. Idempotent: running it again recomputes the same round
    (an annotator's revision changes the result)."""
    with transaction.atomic():
        item = (QueueItem.objects.select_for_update().select_related("project", "frame")
                .filter(project_id=project_id, frame_id=frame_id).first())
        if item is None or item.gold or item.segment_id:  # segments: segment_scoring
            return None
        project = item.project
        heads = round_annotations(project_id, frame_id)
        if len(heads) < project.overlap:
            return None
        labels = labels_of_round(heads, load_labels([a for a, _ in heads]))
        decided = outcome.decide(labels, params_of(project), project.agreement_threshold)
        result, passed = decided.result, decided.passed
        fa, created = FrameAgreement.objects.update_or_create(
            project=project, frame_id=frame_id, round=item.round,
            defaults=dict(sequence_id=item.frame.sequence_id, computed_at=timezone.now(),
                          annotators=[u for _, u in heads], annotations=[a for a, _ in heads],
                          **outcome.frame_values(decided)),
        )
        if not created:
            fa.pairs.all().delete()
        PairAgreement.objects.bulk_create(PairAgreement(agreement=fa, project_id=fa.project_id, **values)
                                          for values in outcome.pair_values(labels, result))
        audit.record(None, "agreement.compute", fa, outcome.compute_audit(frame_id, item.round, decided,
                                                                          fa.annotations))
        if passed:
            _approve_consensus(project, item, labels, result)
            review_items.close_agreed(project, frame_id, item.round)
        else:
            review_items.open_item(project, item.frame, ReviewItem.DISAGREEMENT, severity=result.score, round=item.round,
                             annotators=fa.annotators, classes=outcome.disputed_classes(result), agreement=fa)
    return fa


def _approve_consensus(project: Project, item: QueueItem, labels: list[Labels], result) -> Annotation | None:
    """The fused labels become the frame's approved revision, unless a QA lead already decided."""
    head = head_revision(project.pk, item.frame_id, None)
    if head is not None and head.pk not in by_consensus([head]):
        return None
    boxes, tags, dropped = fused_labels(project, labels, result)
    if head is not None and outcome.same_labels(as_payload(head), boxes, tags):
        return head  # recomputed with the same outcome: no new revision
    approved = store(project=project, frame=item.frame, boxes=boxes, tags=tags, source=Annotation.CONSENSUS,
                     status=Annotation.APPROVED, created_by=None, supersedes=head,
                     note=outcome.CONSENSUS_NOTE.format(n=len(labels)))
    audit.record(None, "annotation.consensus", approved, {"frame": item.frame_id, "boxes": len(boxes),
                                                          "dropped": dropped})
    return approved


def on_submitted(sender, annotation: Annotation, queue_state: tuple | None = None, **_) -> None:
    """After a submission commits: a gold frame is checked, and the overlap-th submission of a
    frame (or a revision after it) has the frame's agreement computed, in the background within
    a fraction of a second (labeling.jobs.outbox batches the messages)."""
    row = queue_state or (
        QueueItem.objects.filter(project_id=annotation.project_id, frame_id=annotation.frame_id)
        .values_list("gold", "submitted", "project__overlap").first())
    if row is None:
        return
    is_gold, submitted, overlap = row
    try:
        if is_gold:
            outbox.add("gold_check", annotation.pk)
        elif submitted >= overlap:
            outbox.add("frame_agreement", annotation.project_id, annotation.frame_id)
    except Exception:  # noqa: BLE001 - the work is stored; housekeeping and `manage.py score_pending` catch up
        log.exception("could not queue the quality check of annotation %s; run manage.py score_pending",
                      annotation.pk)


def catch_up(limit: int | None = 500, project_id: int | None = None) -> dict:
    """What no outbox delivered (a web process killed before it sent, a broker outage): score up
    to `limit` pending frames and run up to `limit` pending gold checks (None: all), of one
    project or all. Idempotent; celery beat's housekeeping and `manage.py score_pending` run it."""
    frames = pending_frames(project_id)[:limit]
    below = sum(bool(r and not r.passed) for r in (evaluate_frame(p, f) for p, f in frames))
    checks = gold.pending_checks(project_id)[:limit]
    failed = sum(bool(r and not r.passed) for r in (gold.check(a) for a in checks))
    return {"frames_caught_up": len(frames), "frames_below_threshold": below,
            "gold_checks_caught_up": len(checks), "gold_checks_failed": failed}


def pending_frames(project_id: int | None = None) -> list[tuple[int, int]]:
    """(project, frame) of non-gold frames whose current round has every submission but no
    agreement yet (e.g. the broker was down when the last one landed)."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT qi.project_id, qi.frame_id FROM labeling_queueitem qi
            JOIN labeling_project p ON p.id = qi.project_id
            WHERE NOT qi.gold AND qi.segment_id IS NULL AND qi.submitted >= p.overlap AND (%(project)s::bigint IS NULL OR qi.project_id = %(project)s)
              AND NOT EXISTS (SELECT 1 FROM labeling_frameagreement fa
                              WHERE fa.project_id = qi.project_id AND fa.frame_id = qi.frame_id
                                AND fa.round = qi.round)
            ORDER BY qi.project_id, qi.frame_id
            """,
            {"project": project_id},
        )
        return cur.fetchall()
