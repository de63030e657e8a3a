"""Review items: opening one for a frame QA must look at (a disagreement, a failed gold check, an
annotator's flag), closing one that resolved itself, and recording a decision on one.

The agreement and gold checks open items; the QA lead's decisions (`review`) resolve them. Both
write through here, so an item and its decision rows are written one way (append-only
ReviewDecision rows, an audit event each)."""
from __future__ import annotations

from django.utils import timezone

from labeling import audit
from labeling.models import Frame, Project, ReviewDecision, ReviewItem

MAX_COMMENT = 4000


def open_item(project: Project, frame: Frame, reason: str, *, severity: float | None, round: int = 0,
              annotators=(), classes=(), agreement=None, gold_check=None, opened_by=None, note: str = "",
              segment=None) -> ReviewItem:
    """Open a review item, or refresh the open one for the same frame, reason and round. A
    segment's item is opened on its first frame, with `segment` set."""
    values = dict(severity=0.0 if severity is None else severity, annotators=list(annotators),
                  classes=list(classes), agreement=agreement, gold_check=gold_check, note=note[:MAX_COMMENT],
                  segment=segment)
    item = ReviewItem.objects.filter(project=project, frame=frame, reason=reason, round=round,
                                     status=ReviewItem.OPEN).first()
    if item is not None and reason != ReviewItem.FLAGGED:
        for key, value in values.items():
            setattr(item, key, value)
        item.save(update_fields=list(values))
        return item
    if item is not None:  # a second flag on the same frame adds its note
        item.note = f"{item.note}\n{note}".strip()[:MAX_COMMENT]
        item.annotators = sorted(set(item.annotators) | set(annotators))
        item.save(update_fields=["note", "annotators"])
        return item
    item = ReviewItem.objects.create(project=project, frame=frame, sequence_id=frame.sequence_id, round=round,
                                     reason=reason, opened_by=opened_by, **values)
    audit.record(opened_by, "review.open", item, {"frame": frame.pk, "reason": reason, "severity": item.severity})
    return item


def close_agreed(project: Project, frame_id: int, round: int) -> None:
    """Annotators' own revisions brought the frame above the threshold: its disagreement item closes."""
    for item in ReviewItem.objects.select_for_update().filter(
            project=project, frame_id=frame_id, round=round, reason=ReviewItem.DISAGREEMENT, status=ReviewItem.OPEN):
        resolve(item, None, ReviewDecision.AGREED, "agreement reached after revisions")


def resolve(item: ReviewItem, user, decision: str, comment: str, *, accepted=None, result=None) -> ReviewDecision:
    made = ReviewDecision.objects.create(item=item, decision=decision, comment=comment[:MAX_COMMENT],
                                         decided_by=user if getattr(user, "is_authenticated", False) else None,
                                         accepted=accepted, result=result)
    item.status, item.resolved_at = ReviewItem.RESOLVED, timezone.now()
    item.save(update_fields=["status", "resolved_at"])
    audit.record(user, f"review.{decision}", item, {"frame": item.frame_id, "comment": comment[:MAX_COMMENT],
                                                    "accepted": accepted.pk if accepted else None,
                                                    "result": result.pk if result else None})
    return made
