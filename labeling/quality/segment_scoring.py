"""Agreement on a segment, from the database to the QA queue: the annotators' tracks compared
(IDF1 and CLEAR-MOT per pair, `agreement.track_scores`), then either the fused tracks approved
(at or above the project's threshold), stitched to the neighbouring segments' identities, or a
review item for the QA leads.

The consensus is the frame rule applied frame by frame (`agreement.frame_agreement` and
`consensus.fuse`: an object kept where a quorum drew it, its class, box and attributes by
majority), its track id the earliest annotator's, so a fused track is one identity across the
segment. Idempotent: a segment whose round is approved already is left as it is."""
from __future__ import annotations

from itertools import combinations

import numpy as np
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from labeling import audit
from labeling.models import (
    Annotation,
    Assignment,
    Frame,
    Project,
    QueueItem,
    ReviewItem,
    Segment,
    SegmentAgreement,
)
from labeling.quality import agreement, review_items, stitching
from labeling.quality.labels import fused_labels, load_labels, params_of
from labeling.work.payloads import CleanBox, CleanTag
from labeling.work.segments import lease_heads
from labeling.work.submissions import Revision, store_many


def round_heads(item: QueueItem) -> list[tuple[int, int, dict[int, int]]]:
    """(assignment, annotator, {frame index: annotation id}) of each submission of the segment's
    current round, by annotator: each lease's own current revision of each frame."""
    out = []
    for assignment in Assignment.objects.filter(item=item, status=Assignment.SUBMITTED).order_by("annotator_id"):
        out.append((assignment.pk, assignment.annotator_id, {a.frame_index: a.pk for a in lease_heads(assignment.pk)}))
    return out


def _tracks(frames: dict[int, agreement.Labels]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """One annotator's frames as track_scores wants them: frame → (track ids, boxes)."""
    out = {}
    for index, labels in frames.items():
        ids = [t if t is not None else -(index * 10_000 + k + 1) for k, t in enumerate(labels.tracks)]
        boxes = np.asarray(labels.boxes, dtype=float)  # rows of 5 where oriented boxes are among them
        out[index] = (np.array(ids, dtype=int), boxes.reshape(-1, boxes.shape[1] if boxes.ndim == 2 else 4))
    return out


def evaluate_segment(project_id: int, segment_id: int) -> SegmentAgreement | None:
    """Score the segment's current round once every annotator of it has submitted; then approve
    the fused tracks or open a review item."""
    with transaction.atomic():
        item = (QueueItem.objects.select_for_update().select_related("project", "frame", "segment")
                .filter(project_id=project_id, segment_id=segment_id).first())
        if item is None:
            return None
        project, segment = item.project, item.segment
        heads = round_heads(item)
        if len(heads) < project.overlap or not heads:
            return None
        loaded = load_labels([a for _, _, frames in heads for a in frames.values()])
        per_annotator = []
        for _, annotator, frames in heads:
            labels = {}
            for index, annotation_id in frames.items():
                loaded[annotation_id].annotator = annotator
                labels[index] = loaded[annotation_id]
            per_annotator.append(labels)
        params = params_of(project)
        pairs = []
        for (i, a), (j, b) in combinations(enumerate(per_annotator), 2):
            scores = agreement.track_scores(_tracks(a), _tracks(b), params.iou_threshold)
            pairs.append({"a": heads[i][1], "b": heads[j][1], "idf1": scores.idf1, "mota": scores.mota,
                          "id_switches": scores.id_switches, "fp": scores.fp, "fn": scores.fn})
        per_frame = {index: agreement.frame_agreement([labels[index] for labels in per_annotator], params)
                     for index in range(segment.first_index, segment.last_index + 1)
                     if all(index in labels for labels in per_annotator)}
        idf1 = float(np.mean([p["idf1"] for p in pairs])) if pairs else None
        tag_scores = [r.tag_score for r in per_frame.values() if r.tag_score is not None]
        tag_score = float(np.mean(tag_scores)) if tag_scores else None
        parts = [s for s in (idf1, tag_score) if s is not None]
        score = min(parts) if parts else None
        passed = score is None or score >= project.agreement_threshold
        made, _ = SegmentAgreement.objects.update_or_create(
            segment=segment, round=item.round,
            defaults=dict(project=project, computed_at=timezone.now(), annotators=[h[1] for h in heads],
                          assignments=[h[0] for h in heads], score=score, idf1=idf1, tag_score=tag_score, pairs=pairs,
                          passed=passed))
        audit.record(None, "agreement.segment", made, {"segment": segment.pk, "round": item.round, "score": score,
                                                       "passed": passed, "project": project.pk})
        if passed:
            approve(project, segment, item.round, {index: fused_frame(project, [labels[index] for labels in
                                                                                per_annotator], per_frame[index])
                                                   for index in per_frame}, f"consensus of {len(heads)} annotators")
            review_items.close_agreed(project, item.frame_id, item.round)
        else:
            disputed = sorted({k for r in per_frame.values() for row in r.units if len(set(row)) > 1
                               for k in row if k not in (agreement.ABSENT, None)})
            review_items.open_item(project, item.frame, ReviewItem.DISAGREEMENT, severity=score, round=item.round,
                                   annotators=[h[1] for h in heads], classes=disputed, segment=segment)
    return made


def fused_frame(project: Project, labels: list[agreement.Labels], result) -> tuple[list[CleanBox], list[CleanTag]]:
    boxes, tags, _ = fused_labels(project, labels, result)
    return boxes, tags


def approve(project: Project, segment: Segment, round_: int, frames: dict[int, tuple[list, list]], why: str,
            user=None) -> int:
    """Write `frames` ({frame index: (boxes, tags)}) as the segment's approved revisions, their
    tracks taking the identities already approved on the frames shared with the neighbours
    (stitching), the frames' earlier approved work from a neighbour kept where it does not clash.
    Returns how many revisions were written (0: this round was approved already)."""
    marker = f"segment {segment.pk} round {round_}: {why}"
    frame_rows = {f.index: f for f in Frame.objects.filter(sequence_id=segment.sequence_id,
                                                           index__in=list(frames))}
    heads = {a.frame_id: a for a in Annotation.objects.select_for_update(of=("self",)).filter(
        project=project, annotator__isnull=True, status=Annotation.APPROVED, superseded_by__isnull=True,
        frame_id__in=[f.pk for f in frame_rows.values()]).prefetch_related("boxes__label_class")}
    if any(h.note == marker for h in heads.values()):
        return 0
    existing: dict[int, dict[int, tuple]] = {}
    for index, frame in frame_rows.items():
        head = heads.get(frame.pk)
        if head is not None and not head.note.startswith(f"segment {segment.pk} "):
            for box in head.boxes.all():
                if box.track_id is not None and not box.outside:
                    existing.setdefault(box.track_id, {})[index] = (box.x, box.y, box.w, box.h)
    new: dict[int, dict[int, tuple]] = {}
    for index, (boxes, _) in frames.items():
        for box in boxes:
            if box.track_id is not None and any(index in t for t in existing.values()):
                new.setdefault(box.track_id, {})[index] = (box.x, box.y, box.w, box.h)
    matched = stitching.stitch(existing, new)
    top = Annotation.objects.filter(project=project, annotator__isnull=True).aggregate(n=Max("max_track"))["n"] or 0
    ids = stitching.identities(sorted({b.track_id for boxes, _ in frames.values() for b in boxes
                                       if b.track_id is not None}), matched, top + 1)
    revisions = []
    for index, (boxes, tags) in sorted(frames.items()):
        frame = frame_rows[index]
        head = heads.get(frame.pk)
        mine = [CleanBox(b.label_class, b.x, b.y, b.w, b.h, b.attributes, ids.get(b.track_id) if b.track_id else None,
                         b.source, b.model_version_id, b.keyframe, b.outside, b.occluded) for b in boxes]
        kept = []
        if head is not None and not head.note.startswith(f"segment {segment.pk} "):  # a neighbour's work here
            taken = {b.track_id for b in mine}
            for box in head.boxes.all():
                clash = any(float(agreement.iou_matrix(np.array([[box.x, box.y, box.w, box.h]]),
                                                       np.array([[b.x, b.y, b.w, b.h]]))[0, 0]) >= 0.5 for b in mine)
                if box.track_id not in taken and not clash and not box.outside:
                    kept.append(CleanBox(box.label_class, box.x, box.y, box.w, box.h, box.attributes, box.track_id))
        revisions.append(Revision(project_id=project.pk, frame=frame, boxes=mine + kept, tags=tags,
                                  source=Annotation.CONSENSUS if user is None else Annotation.REVIEW,
                                  status=Annotation.APPROVED, ontology_version_id=project.ontology_version_id,
                                  created_by=user, supersedes=head, note=marker))
    store_many(revisions)
    audit.record(user, "segment.approve", segment, {"segment": segment.pk, "round": round_, "frames": len(revisions),
                                                    "stitched": len(matched), "project": project.pk})
    return len(revisions)


def pending_segments(project_id: int | None = None) -> list[tuple[int, int]]:
    """(project, segment) whose current round has every submission but no agreement yet."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT qi.project_id, qi.segment_id FROM labeling_queueitem qi
            JOIN labeling_project p ON p.id = qi.project_id
            WHERE qi.segment_id IS NOT NULL AND qi.submitted >= p.overlap
              AND (%(project)s::bigint IS NULL OR qi.project_id = %(project)s)
              AND NOT EXISTS (SELECT 1 FROM labeling_segmentagreement sa
                              WHERE sa.segment_id = qi.segment_id AND sa.round = qi.round)
            ORDER BY qi.project_id, qi.segment_id
            """, {"project": project_id})
        return cur.fetchall()


def catch_up(limit: int | None = 100, project_id: int | None = None) -> dict:
    """Segments no outbox message reached (housekeeping, manage.py score_pending)."""
    pending = pending_segments(project_id)[:limit]
    below = sum(bool(r and not r.passed) for r in (evaluate_segment(p, s) for p, s in pending))
    return {"segments_caught_up": len(pending), "segments_below_threshold": below}
