"""The QA review queue: items are opened for frames below the agreement threshold, failed gold
checks and frames an annotator flagged; a QA lead resolves each one.

Decisions (each a ReviewDecision row, append-only, and an audit event; nothing is overwritten):
- accept: one annotator's version becomes the frame's approved revision;
- edit: the QA lead's own corrected labels become the approved revision;
- relabel: the frame goes back to the queue for annotators who have not labeled it (the current
  round's work is kept, marked returned, and no longer counts towards agreement);
- dismiss: nothing to change (e.g. a flag that needs no action).
"""
from __future__ import annotations

import numpy as np
from django.db import transaction
from django.db.models import F

from labeling.models import (
    Annotation,
    Assignment,
    Frame,
    GoldFrame,
    Project,
    QueueItem,
    ReviewDecision,
    ReviewItem,
)
from labeling.quality import agreement, gold, segment_review
from labeling.quality.labels import load_labels, params_of, without_provenance
from labeling.quality.review_items import open_item, resolve
from labeling.work.payloads import classes_of, clean_from, validate
from labeling.work.submissions import head_revision, store


class ReviewError(ValueError):
    """The decision cannot be made (e.g. the item was resolved meanwhile); nothing changed."""


def flag(project: Project, frame: Frame, user, note: str) -> ReviewItem:
    """An annotator asks QA to look at a frame (with an optional note)."""
    note = (note or "").strip()
    with transaction.atomic():
        round_ = QueueItem.objects.filter(project=project, frame=frame).values_list("round", flat=True).first() or 0
        return open_item(project, frame, ReviewItem.FLAGGED, severity=0.0, round=round_, annotators=[user.pk],
                         opened_by=user, note=f"{user.username}: {note}" if note else user.username)


def _locked_open(item_id: int, project: Project) -> ReviewItem:
    item = ReviewItem.objects.select_for_update().select_related("frame").filter(pk=item_id, project=project).first()
    if item is None:
        raise LookupError("no such review item in this project")
    if item.status != ReviewItem.OPEN:
        last = item.decisions.order_by("-decided_at").select_related("decided_by").first()
        who = f" by {last.decided_by.username}" if last and last.decided_by else ""
        raise ReviewError(f"this item was already resolved{who}; nothing changed")
    return item


def _approve(project: Project, frame: Frame, user, boxes, tags, note: str) -> Annotation:
    head = head_revision(project.pk, frame.pk, None)
    return store(project=project, frame=frame, boxes=boxes, tags=tags, source=Annotation.REVIEW,
                 status=Annotation.APPROVED, created_by=user, supersedes=head, note=note)


def candidates(item: ReviewItem) -> list[Annotation]:
    """The annotators' versions a QA lead can accept for this item: everyone's current revision
    on the frame (in this round for a disagreement)."""
    heads = Annotation.objects.filter(  # an annotator's work, or an ontology migration's copy of it
        project_id=item.project_id, frame_id=item.frame_id, source__in=[Annotation.HUMAN, Annotation.MIGRATION],
        assignment__isnull=False, superseded_by__isnull=True).select_related("annotator", "assignment")
    if item.reason == ReviewItem.DISAGREEMENT and item.agreement_id:
        return [a for a in heads.order_by("annotator_id") if a.assignment and a.assignment.status == Assignment.SUBMITTED]
    return list(heads.order_by("annotator_id"))


def accept(project: Project, item_id: int, annotation_id: int, user, comment: str = "") -> ReviewDecision:
    with transaction.atomic():
        item = _locked_open(item_id, project)
        if item.segment_id:  # a segment: one annotator's tracks, every frame
            handle = next((h for _, h in segment_review.versions(item) if h.pk == annotation_id), None)
            if handle is None:
                raise ReviewError(f"annotation {annotation_id} is not one of the versions under review")
            approved = segment_review.accept(project, item, annotation_id, user, comment)
            return resolve(item, user, ReviewDecision.ACCEPT, comment, accepted=handle, result=approved)
        chosen = next((a for a in candidates(item) if a.pk == annotation_id), None)
        if chosen is None:
            raise ReviewError(f"annotation {annotation_id} is not one of the versions under review")
        boxes, tags = clean_from(chosen)
        approved = _approve(project, item.frame, user, boxes, tags,
                            comment or f"accepted {chosen.annotator.username}'s version")
        if item.reason == ReviewItem.GOLD and item.gold_check_id:
            gold.replace_answer(project, item.frame, approved, user)
        return resolve(item, user, ReviewDecision.ACCEPT, comment, accepted=chosen, result=approved)


def edit(project: Project, item_id: int, payload, user, comment: str = "") -> ReviewDecision:
    """The QA lead's corrected labels (validated like a submission) become the approved revision."""
    with transaction.atomic():
        item = _locked_open(item_id, project)
        if item.segment_id:  # a segment: the corrected tracks, in the segment page's shape
            approved = segment_review.edit(project, item, payload, user, comment)
            return resolve(item, user, ReviewDecision.EDIT, comment, result=approved)
        boxes, tags = validate(payload, classes_of(project.ontology_version_id), item.frame)
        approved = _approve(project, item.frame, user, boxes, tags, comment or "edited in review")
        return resolve(item, user, ReviewDecision.EDIT, comment, result=approved)


def relabel(project: Project, item_id: int, user, comment: str = "") -> ReviewDecision:
    """Send the frame back: this round's submissions are kept but returned, and the frame
    re-enters the queue for annotators who have not labeled it."""
    if not (comment or "").strip():
        raise ReviewError("say why the frame goes back (comment): the next annotators read it")
    with transaction.atomic():
        item = _locked_open(item_id, project)
        queued = QueueItem.objects.select_for_update().get(project=project, frame=item.frame)
        if queued.gold:
            raise ReviewError("a gold frame is not relabelled: accept a version or dismiss")
        returned = Assignment.objects.filter(item=queued, status=Assignment.SUBMITTED).update(
            status=Assignment.RETURNED)
        QueueItem.objects.filter(pk=queued.pk).update(
            assigned=F("assigned") - returned, submitted=F("submitted") - returned, round=F("round") + 1,
            is_open=True)
        return resolve(item, user, ReviewDecision.RELABEL, comment)


def dismiss(project: Project, item_id: int, user, comment: str = "") -> ReviewDecision:
    with transaction.atomic():
        return resolve(_locked_open(item_id, project), user, ReviewDecision.DISMISS, comment)


def review_queue(project: Project, *, klass: str | None = None, annotator: int | None = None,
                 sequence: int | None = None, reason: str | None = None):
    """Open items, lowest agreement first, filterable by class, annotator, sequence and reason."""
    items = ReviewItem.objects.filter(project=project, status=ReviewItem.OPEN)
    if klass:
        items = items.filter(classes__contains=[klass])
    if annotator:
        items = items.filter(annotators__contains=[annotator])
    if sequence:
        items = items.filter(sequence_id=sequence)
    if reason:
        items = items.filter(reason=reason)
    return items.select_related("frame", "sequence").order_by("severity", "opened_at", "pk")


# ------------------------------------------------------------------------------ what the QA lead sees

def describe(item: ReviewItem) -> dict:
    """Everything the review page and API show: each version's boxes marked matched, unmatched
    (others did not draw it) or confused (others gave another class), the pair scores and the tags."""
    if item.segment_id:
        return segment_review.describe(item)
    project = item.project
    versions = [{"annotation": a, "who": a.annotator.username, "kind": "annotator"} for a in candidates(item)]
    if item.reason == ReviewItem.GOLD:
        answer = GoldFrame.objects.filter(project=project, frame=item.frame, active=True).select_related("answer").first()
        if answer:
            versions.insert(0, {"annotation": answer.answer, "who": "gold answer", "kind": "gold"})
    loaded = load_labels([v["annotation"].pk for v in versions])
    labels = [loaded[v["annotation"].pk] for v in versions]
    result = agreement.frame_agreement(labels, params_of(project))
    status: dict[tuple[int, int], str] = {}
    for group in result.groups:
        who = {i for i, _ in group}
        kinds = {labels[i].classes[k] for i, k in group}
        mark = "unmatched" if len(who) < len(labels) else ("confused" if len(kinds) > 1 else "matched")
        for member in group:
            status[member] = mark
    out = []
    for i, v in enumerate(versions):
        x = labels[i]
        out.append({
            "annotation": v["annotation"].pk, "who": v["who"], "kind": v["kind"], "index": i,
            "boxes": [{"class": x.classes[k], "x": float(x.boxes[k][0]), "y": float(x.boxes[k][1]),
                       "w": float(x.boxes[k][2]), "h": float(x.boxes[k][3]), "attributes": without_provenance(x.attributes[k])[0],
                       "track_id": x.tracks[k], "status": status.get((i, k), "matched"),
                       **_angle(x.boxes[k])}
                      for k in range(len(x.classes))],
            "tags": x.tags,
        })
    pairs = [{"a": versions[i]["who"], "b": versions[j]["who"], "precision": p.precision, "recall": p.recall,
              "f1": p.f1, "mean_iou": p.mean_iou, "confusions": [[str(c), str(d)] for c, d in p.confusions]}
             for i, j, p in result.pairs]
    tag_keys = sorted(result.tag_units)
    return {"id": item.pk, "reason": item.reason, "reason_label": item.get_reason_display(), "status": item.status,
            "severity": item.severity, "note": item.note, "frame": item.frame_id, "round": item.round,
            "sequence": item.sequence.name, "frame_index": item.frame.index,
            "width": item.frame.width, "height": item.frame.height, "sensitive": item.frame.sensitive,
            "label_size": max(12, item.frame.height // 24),
            "score": result.score, "versions": out, "pairs": pairs,
            "tags": [{"class": k, "values": result.tag_units[k], "agree": len(set(result.tag_units[k])) == 1}
                     for k in tag_keys]}


def _angle(row) -> dict:
    """An oriented box's angle for the review page (rows of 5 with a number there)."""
    return {"angle": float(row[4])} if len(row) > 4 and not np.isnan(row[4]) else {}
