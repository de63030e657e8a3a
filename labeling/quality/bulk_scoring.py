"""Agreement of many frames at once: re-scoring a project (a new IoU or agreement threshold, a
quarantine, an ontology migration) with a fixed number of statements per batch of frames.

`frame_scoring.evaluate_frame` checks one frame as its last submission lands: about twenty round
trips (lock, load, upsert, pairs, audit, consensus, review item), fine once per frame, the limit
when a whole project is scored again. `evaluate_batch` does the same for a batch of frames with
one statement per kind of row: lock the queue items, load the rounds' revisions, their boxes and
tags, the consensus heads and their labels, the open review items; upsert the agreements, replace
their pair rows, write the consensus revisions (labeling.work.submissions.store_many), open,
refresh and close review items, and store every audit event, each in one multi-row statement.

The decisions themselves come from `outcome` (shared with the per-frame check), so both paths
store the same scores, consensus revisions, review items and audit events; tests compare them."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from labeling import audit
from labeling.models import (
    Annotation,
    FrameAgreement,
    PairAgreement,
    Project,
    QueueItem,
    ReviewDecision,
    ReviewItem,
)
from labeling.quality import outcome
from labeling.quality.agreement import Labels
from labeling.quality.labels import (
    by_consensus, fused_labels, labels_of_round, load_labels, params_of, round_annotations_many,
)
from labeling.quality.review_items import MAX_COMMENT
from labeling.models.bulk_copy import as_json, copy_rows
from labeling.work.submissions import Revision, store_many

PAIR_COLUMNS = ("annotator_a_id", "annotator_b_id", "precision", "recall", "f1", "mean_iou", "matched", "n_a", "n_b",
                "confusions", "per_class")  # outcome.pair_values' keys
JSON_PAIR_COLUMNS = ("confusions", "per_class")
AGREEMENT_TYPE = FrameAgreement._meta.label_lower
AGREED_COMMENT = "agreement reached after revisions"  # as review_items.close_agreed says it


@dataclass
class _Frame:
    item: QueueItem
    heads: list[tuple[int, int]]
    labels: list[Labels]
    decided: outcome.Outcome
    agreement_id: int | None = None


def evaluate_batch(project_id: int, frame_ids: list[int]) -> Counter:
    """Score the current round of each frame (non-gold frames of a frame project whose round has
    every submission; others are skipped, as `evaluate_frame` skips them), approve the consensus
    or open a review item. Idempotent. Returns counts: scored, passed, below, consensus,
    review_opened, review_refreshed, review_closed."""
    counts: Counter = Counter()
    with transaction.atomic():
        project = Project.objects.get(pk=project_id)
        items = list(QueueItem.objects.select_for_update(of=("self",)).select_related("frame")
                     .filter(project_id=project_id, frame_id__in=list(frame_ids), gold=False, segment__isnull=True)
                     .order_by("pk"))
        heads = round_annotations_many(project_id, [i.frame_id for i in items])
        ready = [(i, heads[i.frame_id]) for i in items if len(heads.get(i.frame_id, ())) >= project.overlap]
        if not ready:
            return counts
        loaded = load_labels([a for _, h in ready for a, _ in h])
        params = params_of(project)
        frames = []
        for item, h in ready:
            labels = labels_of_round(h, loaded)
            frames.append(_Frame(item, h, labels, outcome.decide(labels, params, project.agreement_threshold)))
        events = _store_agreements(project, frames)
        events += _approve_consensus(project, [f for f in frames if f.decided.passed], counts)
        events += _review_items(project, frames, counts)
        audit.record_many(events)
        counts["scored"] += len(frames)
        counts["passed"] += sum(f.decided.passed for f in frames)
        counts["below"] += sum(not f.decided.passed for f in frames)
    return counts


# One statement for a batch's FrameAgreement rows, new or recomputed (ids kept: review items
# point at them), the rows given as one JSON document: `bulk_create` would dump two Python lists
# per row (the annotators, the annotations), a fifth of a millisecond each.
_UPSERT = """
INSERT INTO labeling_frameagreement (project_id, frame_id, sequence_id, round, computed_at, annotators, annotations,
                                     score, box_score, tag_score, units, tag_units, attribute_units, passed)
SELECT %(project)s, t.frame_id, t.sequence_id, t.round, %(now)s, t.annotators, t.annotations, t.score, t.box_score,
       t.tag_score, t.units, t.tag_units, t.attribute_units, t.passed
FROM jsonb_to_recordset(%(rows)s::jsonb) AS t(frame_id bigint, sequence_id bigint, round integer, annotators bigint[],
     annotations bigint[], score float8, box_score float8, tag_score float8, units jsonb, tag_units jsonb,
     attribute_units jsonb, passed boolean)
ON CONFLICT (project_id, frame_id, round) DO UPDATE SET
    sequence_id = EXCLUDED.sequence_id, computed_at = EXCLUDED.computed_at, annotators = EXCLUDED.annotators,
    annotations = EXCLUDED.annotations, score = EXCLUDED.score, box_score = EXCLUDED.box_score,
    tag_score = EXCLUDED.tag_score, units = EXCLUDED.units, tag_units = EXCLUDED.tag_units,
    attribute_units = EXCLUDED.attribute_units, passed = EXCLUDED.passed
RETURNING id, frame_id, round
"""


def _store_agreements(project: Project, frames: list[_Frame]) -> list:
    """Upsert the FrameAgreement rows (one statement), replace their pair rows (two)."""
    rows = [{"frame_id": f.item.frame_id, "sequence_id": f.item.frame.sequence_id, "round": f.item.round,
             "annotators": [u for _, u in f.heads], "annotations": [a for a, _ in f.heads],
             **outcome.frame_values(f.decided)} for f in frames]
    with connection.cursor() as cur:
        cur.execute(_UPSERT, {"project": project.pk, "now": timezone.now(), "rows": as_json(rows)})
        ids = {(frame_id, round_): pk for pk, frame_id, round_ in cur.fetchall()}
    for f in frames:
        f.agreement_id = ids[(f.item.frame_id, f.item.round)]
    PairAgreement.objects.filter(agreement_id__in=list(ids.values())).delete()
    copy_rows(PairAgreement, ("agreement_id", "project_id", *PAIR_COLUMNS),
              ((f.agreement_id, project.pk, *(as_json(v[k]) if k in JSON_PAIR_COLUMNS else v[k] for k in PAIR_COLUMNS))
               for f in frames for v in outcome.pair_values(f.labels, f.decided.result)))
    return [audit.event(None, "agreement.compute", object_type=AGREEMENT_TYPE, object_id=f.agreement_id,
                        project=project.pk, data=outcome.compute_audit(f.item.frame_id, f.item.round, f.decided,
                                                                       [a for a, _ in f.heads]))
            for f in frames]


_HEADS = """
SELECT DISTINCT ON (a.frame_id) a.id FROM labeling_annotation a
WHERE a.project_id = %s AND a.frame_id = ANY(%s) AND a.annotator_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM labeling_annotation n WHERE n.supersedes_id = a.id)
ORDER BY a.frame_id, a.id DESC
"""


def _approved_heads(project_id: int, frame_ids: list[int]) -> dict[int, Annotation]:
    """Each frame's current approved-track revision (what `head_revision(project, frame, None)`
    gives one frame at a time): frame id -> annotation."""
    with connection.cursor() as cur:
        cur.execute(_HEADS, [project_id, frame_ids])
        ids = [r[0] for r in cur.fetchall()]
    return {a.frame_id: a for a in Annotation.objects.filter(pk__in=ids)
            .only("id", "frame_id", "source", "revision", "project_id")}


def stored_labels(annotation_ids: list[int]) -> dict[int, dict]:
    """Annotations' boxes and tags in the page's shape (as `payloads.as_payload` gives one), two
    queries for all: what `outcome.same_labels` compares a new consensus with."""
    out = {a: {"boxes": [], "tags": []} for a in annotation_ids}
    if not annotation_ids:
        return out
    with connection.cursor() as cur:
        cur.execute("""
            SELECT b.annotation_id, c.key, b.x, b.y, b.w, b.h, b.track_id, b.attributes
            FROM labeling_annotationbox b JOIN ontology_labelclass c ON c.id = b.label_class_id
            WHERE b.annotation_id = ANY(%s) ORDER BY b.id""", [annotation_ids])
        for ann, key, x, y, w, h, track, attributes in cur.fetchall():
            out[ann]["boxes"].append({"class": key, "x": x, "y": y, "w": w, "h": h, "track_id": track,
                                      "attributes": _json(attributes)})
        cur.execute("""
            SELECT t.annotation_id, c.key, t.changed, t.attributes
            FROM labeling_annotationtag t JOIN ontology_labelclass c ON c.id = t.label_class_id
            WHERE t.annotation_id = ANY(%s) ORDER BY t.id""", [annotation_ids])
        for ann, key, changed, attributes in cur.fetchall():
            out[ann]["tags"].append({"class": key, "attributes": _json(attributes),
                                     **({"changed": changed} if changed is not None else {})})
    return out


def _json(value):
    """A jsonb column read through a plain cursor arrives as text (Django's psycopg set-up)."""
    return json.loads(value) if isinstance(value, str) else value


def _approve_consensus(project: Project, frames: list[_Frame], counts: Counter) -> list:
    """The fused labels of passing frames become their approved revisions (one store_many),
    except where a QA lead already decided or the stored consensus is the same."""
    if not frames:
        return []
    heads = _approved_heads(project.pk, [f.item.frame_id for f in frames])
    replaceable = by_consensus(heads.values())
    stored = stored_labels(sorted(replaceable))
    revisions, dropped = [], []
    for f in frames:
        head = heads.get(f.item.frame_id)
        if head is not None and head.pk not in replaceable:
            continue
        boxes, tags, lost = fused_labels(project, f.labels, f.decided.result)
        if head is not None and outcome.same_labels(stored[head.pk], boxes, tags):
            continue
        revisions.append(Revision(project_id=project.pk, frame=f.item.frame, boxes=boxes, tags=tags,
                                  source=Annotation.CONSENSUS, status=Annotation.APPROVED,
                                  ontology_version_id=project.ontology_version_id, created_by=None, supersedes=head,
                                  note=outcome.CONSENSUS_NOTE.format(n=len(f.labels))))
        dropped.append(lost)
    written = store_many(revisions) if revisions else []
    counts["consensus"] += len(written)
    return [audit.event(None, "annotation.consensus", a, {"frame": r.frame.pk, "boxes": len(r.boxes), "dropped": d})
            for a, r, d in zip(written, revisions, dropped)]


def _review_items(project: Project, frames: list[_Frame], counts: Counter) -> list:
    """Close the open disagreement items of passing frames (review_items.close_agreed), open or
    refresh one for each frame below the threshold (review_items.open_item)."""
    at = {(f.item.frame_id, f.item.round): f for f in frames}
    open_items = {(i.frame_id, i.round): i for i in ReviewItem.objects.select_for_update().filter(
        project_id=project.pk, frame_id__in=[f for f, _ in at], reason=ReviewItem.DISAGREEMENT,
        status=ReviewItem.OPEN).order_by("pk") if (i.frame_id, i.round) in at}
    events = []
    now = timezone.now()
    closing = [i for key, i in open_items.items() if at[key].decided.passed]
    if closing:
        ReviewDecision.objects.bulk_create(ReviewDecision(item=i, decision=ReviewDecision.AGREED,
                                                          comment=AGREED_COMMENT[:MAX_COMMENT]) for i in closing)
        ReviewItem.objects.filter(pk__in=[i.pk for i in closing]).update(status=ReviewItem.RESOLVED, resolved_at=now)
        events += [audit.event(None, f"review.{ReviewDecision.AGREED}", i, {
            "frame": i.frame_id, "comment": AGREED_COMMENT[:MAX_COMMENT], "accepted": None, "result": None})
            for i in closing]
        counts["review_closed"] += len(closing)
    refreshed, opened = [], []
    for key, f in at.items():
        if f.decided.passed:
            continue
        score = f.decided.score
        values = dict(severity=0.0 if score is None else score, annotators=[u for _, u in f.heads],
                      classes=outcome.disputed_classes(f.decided.result), agreement_id=f.agreement_id,
                      gold_check=None, note="", segment=None)
        item = open_items.get(key)
        if item is None:
            opened.append(ReviewItem(project_id=project.pk, frame_id=f.item.frame_id,
                                     sequence_id=f.item.frame.sequence_id, round=f.item.round,
                                     reason=ReviewItem.DISAGREEMENT, opened_by=None, **values))
            continue
        for name, value in values.items():
            setattr(item, name, value)
        refreshed.append(item)
    if refreshed:
        ReviewItem.objects.bulk_update(refreshed, ["severity", "annotators", "classes", "agreement", "gold_check",
                                                   "note", "segment"])
    if opened:
        ReviewItem.objects.bulk_create(opened)
        events += [audit.event(None, "review.open", i, {"frame": i.frame_id, "reason": i.reason,
                                                       "severity": i.severity}) for i in opened]
    counts["review_refreshed"] += len(refreshed)
    counts["review_opened"] += len(opened)
    return events
