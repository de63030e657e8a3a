"""Agreement on a frame, from the database to the QA queue: the thin layer over `agreement`
(the math) and `consensus` (the fusion).

When the `overlap`-th annotator submits a frame, a Celery task calls `evaluate_frame`: it loads
every annotator's current revision of this round, scores every pair, stores the scores, and then
either writes the consensus as the frame's approved annotation (agreement ≥ the project's
threshold) or opens a review item for the QA leads (below it)."""
from __future__ import annotations

import json
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
from labeling.quality import agreement, gold, review_items
from labeling.quality.agreement import Labels
from labeling.quality.labels import (
    fused_labels,
    load_labels,
    params_of,
    round_annotations,
)
from labeling.work.payloads import CleanBox, CleanTag, as_payload
from labeling.work.submissions import head_revision, store

log = logging.getLogger(__name__)


def disputed_classes(result: agreement.FrameResult) -> list[str]:
    """Classes involved in a disagreement: objects not everyone drew, confusions, split tags."""
    found = set()
    for row in result.units:
        if len(set(row)) > 1:
            found.update(v for v in row if v not in (agreement.ABSENT, None))
    for key, values in result.tag_units.items():
        if len(set(values)) > 1:
            found.add(key)
    return sorted(found)


def _pair_rows(fa: FrameAgreement, labels: list[Labels], result: agreement.FrameResult) -> list[PairAgreement]:
    rows = []
    for i, j, pair in result.pairs:
        per_class: dict[str, list[int]] = {}
        for k in labels[i].classes:
            per_class.setdefault(k, [0, 0, 0])[1] += 1
        for k in labels[j].classes:
            per_class.setdefault(k, [0, 0, 0])[2] += 1
        for a, _ in pair.matches:
            per_class[labels[i].classes[a]][0] += 1
        rows.append(PairAgreement(
            agreement=fa, project_id=fa.project_id, annotator_a_id=labels[i].annotator,
            annotator_b_id=labels[j].annotator, precision=pair.precision, recall=pair.recall, f1=pair.f1,
            mean_iou=pair.mean_iou, matched=pair.tp, n_a=pair.n_a, n_b=pair.n_b,
            confusions=[[str(a), str(b)] for a, b in pair.confusions], per_class=per_class,
        ))
    return rows


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
        loaded = load_labels([a for a, _ in heads])
        labels = []
        for annotation_id, annotator_id in heads:
            loaded[annotation_id].annotator = annotator_id
            labels.append(loaded[annotation_id])
        result = agreement.frame_agreement(labels, params_of(project))
        passed = result.score is None or result.score >= project.agreement_threshold
        fa, created = FrameAgreement.objects.update_or_create(
            project=project, frame_id=frame_id, round=item.round,
            defaults=dict(sequence_id=item.frame.sequence_id, computed_at=timezone.now(),
                          annotators=[u for _, u in heads], annotations=[a for a, _ in heads], score=result.score,
                          box_score=result.box_score, tag_score=result.tag_score, units=result.units,
                          tag_units=result.tag_units, attribute_units=result.attribute_units, passed=passed),
        )
        if not created:
            fa.pairs.all().delete()
        PairAgreement.objects.bulk_create(_pair_rows(fa, labels, result))
        audit.record(None, "agreement.compute", fa, {"frame": frame_id, "round": item.round, "score": result.score,
                                                     "passed": passed, "annotations": fa.annotations})
        if passed:
            _approve_consensus(project, item, labels, result)
            review_items.close_agreed(project, frame_id, item.round)
        else:
            review_items.open_item(project, item.frame, ReviewItem.DISAGREEMENT, severity=result.score, round=item.round,
                             annotators=fa.annotators, classes=disputed_classes(result), agreement=fa)
    return fa


def _approve_consensus(project: Project, item: QueueItem, labels: list[Labels], result) -> Annotation | None:
    """The fused labels become the frame's approved revision, unless a QA lead already decided."""
    head = head_revision(project.pk, item.frame_id, None)
    if head is not None and head.source != Annotation.CONSENSUS:
        return None
    boxes, tags, dropped = fused_labels(project, labels, result)
    if head is not None and _same_labels(as_payload(head), boxes, tags):
        return head  # recomputed with the same outcome: no new revision
    approved = store(project=project, frame=item.frame, boxes=boxes, tags=tags, source=Annotation.CONSENSUS,
                     status=Annotation.APPROVED, created_by=None, supersedes=head,
                     note=f"consensus of {len(labels)} annotators")
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


def _same_labels(stored: dict, boxes: list[CleanBox], tags: list[CleanTag]) -> bool:
    mine = sorted((b.label_class.key, round(b.x, 3), round(b.y, 3), round(b.w, 3), round(b.h, 3), b.track_id,
                   json.dumps(b.attributes, sort_keys=True)) for b in boxes)
    theirs = sorted((b["class"], round(b["x"], 3), round(b["y"], 3), round(b["w"], 3), round(b["h"], 3),
                     b["track_id"], json.dumps(b["attributes"], sort_keys=True)) for b in stored["boxes"])
    return mine == theirs and sorted(
        (t.label_class.key, t.changed, json.dumps(t.attributes, sort_keys=True)) for t in tags) == sorted(
        (t["class"], t.get("changed"), json.dumps(t.get("attributes") or {}, sort_keys=True)) for t in stored["tags"])
