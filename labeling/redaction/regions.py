"""The redaction regions of frames: what the detector found, the boxes of `redact` classes in
approved annotations, and what QA leads and admins add or remove by hand.

A region is never deleted: removing one marks it (when, who, why) and the history stays. The
writes people make are in `edits` (they re-render, which sits above this module)."""
from __future__ import annotations

import math

import numpy as np
from django.db import connection
from django.utils import timezone

from labeling.access import roles
from labeling.models import FaceScan, Frame, RedactionRegion

MAX_REASON = 2000


class RegionError(ValueError):
    """The request is refused, naming the field; nothing changed."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def may_edit(user) -> bool:
    """QA leads and admins add and remove regions by hand and start redaction runs."""
    return roles.can_review(user)


def clean_reason(value) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise RegionError("reason", "say why (it goes into the audit trail)")
    if len(text) > MAX_REASON:
        raise RegionError("reason", f"at most {MAX_REASON} characters")
    return text


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RegionError(name, "a number of frame pixels")
    try:
        number = float(value)
    except ValueError:
        raise RegionError(name, "a number of frame pixels") from None
    if not math.isfinite(number):
        raise RegionError(name, "a finite number")
    return number


def clean_box(frame: Frame, x, y, w, h) -> tuple[float, float, float, float]:
    """(x, y, w, h) checked against the frame: numbers, a positive size, inside the frame."""
    x, y, w, h = _number("x", x), _number("y", y), _number("w", w), _number("h", h)
    if w < 1:
        raise RegionError("w", "at least 1 pixel")
    if h < 1:
        raise RegionError("h", "at least 1 pixel")
    if not 0 <= x < frame.width:
        raise RegionError("x", f"inside the frame (0 to {frame.width - 1})")
    if not 0 <= y < frame.height:
        raise RegionError("y", f"inside the frame (0 to {frame.height - 1})")
    if x + w > frame.width + 0.5:
        raise RegionError("w", f"the region ends outside the frame (width {frame.width})")
    if y + h > frame.height + 0.5:
        raise RegionError("h", f"the region ends outside the frame (height {frame.height})")
    return x, y, min(w, frame.width - x), min(h, frame.height - y)


def add_detections(found: dict[int, np.ndarray], detector: str) -> int:
    """Store the detector's faces ({frame id: (x, y, w, h, score) rows}) and that each frame was
    scanned by this detector version (so it is not scanned again, and a removed detection stays
    removed). Frames already scanned by it are skipped. Returns the regions added."""
    if not found:
        return 0
    # the frames' rows locked (in id order): two writers of one frame's detections take turns, and
    # the second finds the first's scan (callers hold a transaction)
    list(Frame.objects.select_for_update(no_key=True).filter(pk__in=list(found)).order_by("pk").values_list("pk"))
    already = set(FaceScan.objects.filter(frame_id__in=list(found), detector=detector)
                  .values_list("frame_id", flat=True))
    fresh = {fid: rows for fid, rows in found.items() if fid not in already}
    FaceScan.objects.bulk_create([FaceScan(frame_id=fid, detector=detector, faces=len(rows))
                                  for fid, rows in fresh.items()], ignore_conflicts=True)
    made = RedactionRegion.objects.bulk_create([
        RedactionRegion(frame_id=fid, x=float(r[0]), y=float(r[1]), w=float(r[2]), h=float(r[3]),
                        score=round(float(r[4]), 4), source=RedactionRegion.DETECTOR, detector=detector,
                        reason="face detector")
        for fid, rows in fresh.items() for r in rows])
    return len(made)


def scanned(frame_ids: list[int], detector: str) -> set[int]:
    return set(FaceScan.objects.filter(frame_id__in=frame_ids, detector=detector).values_list("frame_id", flat=True))


_REDACT_BOXES = """
SELECT a.frame_id, b.id, a.id, c.key, b.x, b.y, b.w, b.h
FROM labeling_annotation a
JOIN labeling_annotationbox b ON b.annotation_id = a.id
JOIN ontology_labelclass c ON c.id = b.label_class_id
WHERE a.frame_id = ANY(%s) AND a.annotator_id IS NULL AND a.status = 'approved' AND c.redact AND NOT b.outside
  AND b.w > 0 AND b.h > 0
  AND NOT EXISTS (SELECT 1 FROM labeling_annotation n WHERE n.supersedes_id = a.id)
"""


def sync_annotation_regions(frame_ids: list[int]) -> tuple[int, int]:
    """Boxes of `redact` classes in the frames' approved annotations (the head revision of each
    project's approved annotation) become regions; regions of boxes no longer in an approved
    head are marked removed (the approval changed). Returns (added, removed)."""
    with connection.cursor() as cur:
        cur.execute(_REDACT_BOXES, [list(frame_ids)])
        boxes = {row[1]: row for row in cur.fetchall()}
    live = dict(RedactionRegion.objects.filter(frame_id__in=frame_ids, source=RedactionRegion.ANNOTATION,
                                               removed_at__isnull=True).values_list("annotation_box_id", "pk"))
    gone = [pk for box_id, pk in live.items() if box_id not in boxes]
    if gone:
        RedactionRegion.objects.filter(pk__in=gone).update(
            removed_at=timezone.now(), remove_reason="the approved annotation changed: its box is not in it any more")
    added = RedactionRegion.objects.bulk_create([
        RedactionRegion(frame_id=frame_id, annotation_box_id=box_id, annotation_id=annotation_id, label_class=key,
                        x=x, y=y, w=w, h=h, source=RedactionRegion.ANNOTATION,
                        reason=f"a box of the redact class {key} in an approved annotation")
        for box_id, (frame_id, _, annotation_id, key, x, y, w, h) in boxes.items() if box_id not in live])
    return len(added), len(gone)


def live(frame_ids: list[int]) -> dict[int, list[RedactionRegion]]:
    out: dict[int, list[RedactionRegion]] = {fid: [] for fid in frame_ids}
    for region in RedactionRegion.objects.filter(frame_id__in=frame_ids, removed_at__isnull=True) \
            .select_related("created_by").order_by("pk"):
        out[region.frame_id].append(region)
    return out
