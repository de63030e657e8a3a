"""Tracks across frames: what the labeling page needs to continue a track, copy boxes from the
previous labeled frame, and show interpolated boxes between two keyframes.

A keyframe is a frame the annotator submitted. Between two consecutive keyframes of the same
sequence, a track present in both is linearly interpolated; the interpolated box is shown
(and editable) on the frames between, and becomes a real box when the annotator submits it."""
from __future__ import annotations

import numpy as np

from .models import Annotation, AnnotationBox, Frame


def interpolate(prev_index: int, prev_boxes: dict[int, dict], next_index: int, next_boxes: dict[int, dict],
                index: int) -> list[dict]:
    """Boxes of the tracks present at both keyframes, linearly interpolated to `index`.
    Boxes are dicts with x, y, w, h (and class, attributes, which come from the earlier one)."""
    if not prev_index < index < next_index:
        return []
    shared = sorted(set(prev_boxes) & set(next_boxes))
    if not shared:
        return []
    t = (index - prev_index) / (next_index - prev_index)
    a = np.array([[prev_boxes[k][c] for c in "xywh"] for k in shared], dtype=float)
    b = np.array([[next_boxes[k][c] for c in "xywh"] for k in shared], dtype=float)
    mixed = a + (b - a) * t
    out = []
    for k, (x, y, w, h) in zip(shared, mixed):
        out.append({**prev_boxes[k], "x": round(float(x), 2), "y": round(float(y), 2), "w": round(float(w), 2),
                    "h": round(float(h), 2), "track_id": k, "interpolated": True})
    return out


def _heads(project_id: int, user_id: int, sequence_id: int):
    return Annotation.objects.filter(project_id=project_id, annotator_id=user_id, frame__sequence_id=sequence_id,
                                     status=Annotation.SUBMITTED, superseded_by__isnull=True)


def _boxes_of(annotation_id: int) -> list[dict]:
    rows = (AnnotationBox.objects.filter(annotation_id=annotation_id).order_by("pk")
            .values("label_class__key", "x", "y", "w", "h", "attributes", "track_id"))
    return [{"class": r["label_class__key"], "x": r["x"], "y": r["y"], "w": r["w"], "h": r["h"],
             "attributes": r["attributes"], "track_id": r["track_id"]} for r in rows]


def track_context(project_id: int, user_id: int, frame: Frame) -> dict:
    """The annotator's neighbouring keyframes in this sequence and what follows from them."""
    heads = _heads(project_id, user_id, frame.sequence_id)
    before = (heads.filter(frame__index__lt=frame.index).order_by("-frame__index")
              .values("pk", "frame_id", "frame__index").first())
    after = (heads.filter(frame__index__gt=frame.index).order_by("frame__index")
             .values("pk", "frame_id", "frame__index").first())
    prev_boxes = _boxes_of(before["pk"]) if before else []
    next_boxes = _boxes_of(after["pk"]) if after else []
    interpolated = []
    if before and after:
        interpolated = interpolate(
            before["frame__index"], {b["track_id"]: b for b in prev_boxes if b["track_id"]},
            after["frame__index"], {b["track_id"]: b for b in next_boxes if b["track_id"]},
            frame.index,
        )
    max_track = (AnnotationBox.objects.filter(annotation__in=heads, track_id__isnull=False)
                 .order_by("-track_id").values_list("track_id", flat=True).first()) or 0
    return {
        "previous": {"frame_id": before["frame_id"], "index": before["frame__index"], "boxes": prev_boxes}
        if before else None,
        "next": {"frame_id": after["frame_id"], "index": after["frame__index"]} if after else None,
        "interpolated": interpolated,
        "next_track_id": max_track + 1,
    }
