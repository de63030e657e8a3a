"""Tracks across frames: what the labeling page needs to continue a track, copy boxes from the
previous labeled frame, and show interpolated boxes between two keyframes.

A keyframe is a frame the annotator submitted. Between two consecutive keyframes of the same
sequence, a track present in both is linearly interpolated; the interpolated box is shown
(and editable) on the frames between, and becomes a real box when the annotator submits it."""
from __future__ import annotations

import json

import numpy as np

from labeling.models import Frame
from labeling.work import prepared


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


def _json(value) -> list:
    return json.loads(value) if isinstance(value, str) else (value or [])


def _rows_sql(sequence: str, index: str) -> str:
    """The track context's rows (side, id, frame_id, frame_index, boxes) for the frame at
    `sequence`, `index`: SQL expressions, parameters or an outer query's columns; the project and
    the person are %(project)s and %(user)s."""
    mine = f"""FROM labeling_annotation a WHERE a.project_id = %(project)s AND a.annotator_id = %(user)s
              AND a.sequence_id = {sequence} AND a.status = 'submitted'"""
    boxes_of = """(SELECT COALESCE(json_agg(json_build_object(
                       'class', c.key, 'x', b.x, 'y', b.y, 'w', b.w, 'h', b.h, 'attributes', b.attributes,
                       'track_id', b.track_id) ORDER BY b.id), '[]')
                   FROM labeling_annotationbox b JOIN ontology_labelclass c ON c.id = b.label_class_id
                   WHERE b.annotation_id = k.id)"""
    # Three index scans (annotation_keyframes_idx, annotation_tracks_idx) plus the two keyframes'
    # boxes. The latest revision of a frame is its head: revisions are linear.
    return f"""
            SELECT k.side, k.id, k.frame_id, k.frame_index, {boxes_of} AS boxes FROM (
                (SELECT 'before' AS side, a.id, a.frame_id, a.frame_index {mine} AND a.frame_index < {index}
                 ORDER BY a.frame_index DESC, a.revision DESC LIMIT 1)
                UNION ALL
                (SELECT 'after', a.id, a.frame_id, a.frame_index {mine} AND a.frame_index > {index}
                 ORDER BY a.frame_index, a.revision DESC LIMIT 1)
            ) k
            UNION ALL
            (SELECT 'max_track', a.max_track, NULL, NULL, NULL {mine} AND a.max_track IS NOT NULL
             ORDER BY a.max_track DESC LIMIT 1)
            """


_ROWS = _rows_sql("%(sequence)s", "%(index)s")


def rows_as_json(sequence: str, index: str) -> str:
    """The track context's rows as one JSON array: a scalar subquery for the select list of a
    statement that leases the frame at `sequence`, `index` (labeling.work.queue), so that the
    page's track context comes with its lease instead of in a round trip of its own."""
    return (f"(SELECT json_agg(json_build_array(t.side, t.id, t.frame_id, t.frame_index, t.boxes)) "
            f"FROM ({_rows_sql(sequence, index)}) t)")


def track_context(project_id: int, user_id: int, frame: Frame) -> dict:
    """The annotator's neighbouring keyframes in this sequence, their boxes, the highest track id
    used, and the boxes interpolated between the keyframes."""
    rows = prepared.fetchall(_ROWS, {"project": project_id, "user": user_id, "sequence": frame.sequence_id,
                                     "index": frame.index})
    return context_from_rows(rows, frame)


def context_from_rows(rows, frame: Frame) -> dict:
    """The track context from its rows: as `track_context` reads them, or the JSON array of
    `rows_as_json` (text or parsed; None when there are none)."""
    rows = {row[0]: row[1:] for row in _json(rows)}
    before, after = rows.get("before"), rows.get("after")
    boxes = {r[0]: _json(r[3]) for r in (before, after) if r}
    prev_boxes = boxes.get(before[0], []) if before else []
    next_boxes = boxes.get(after[0], []) if after else []
    interpolated = []
    if before and after:
        interpolated = interpolate(
            before[2], {b["track_id"]: b for b in prev_boxes if b["track_id"]},
            after[2], {b["track_id"]: b for b in next_boxes if b["track_id"]},
            frame.index,
        )
    return {
        "previous": {"frame_id": before[1], "index": before[2], "boxes": prev_boxes} if before else None,
        "next": {"frame_id": after[1], "index": after[2]} if after else None,
        "interpolated": interpolated,
        "next_track_id": (rows.get("max_track", (0,))[0] or 0) + 1,
    }
