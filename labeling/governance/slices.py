"""The slices an evaluation reports on, and the frozen truth it compares with.

Slices of a set's frames (names shared with the promotion and model-card parts):
`night` / `day`, `blurred` / `sharp`, `thermal` / `visible`, `altitude:<band>`, `view:<band>`
(FrameCondition, computed at ingest; a frame without one is in none of these), `tag:<class key>`
(the frame tags of the frozen revision) and `sequence:<sequence name>`."""
from __future__ import annotations

from django.db import connection

_CONDITIONS = """
SELECT f.id, s.name, c.night, c.blurred, c.thermal, c.altitude_band, c.view_band
FROM labeling_frame f JOIN labeling_sequence s ON s.id = f.sequence_id
LEFT JOIN labeling_framecondition c ON c.frame_id = f.id
WHERE f.id = ANY(%s)
"""

_TAGS = """
SELECT a.frame_id, c.key FROM labeling_annotationtag t
JOIN labeling_annotation a ON a.id = t.annotation_id
JOIN ontology_labelclass c ON c.id = t.label_class_id
WHERE t.annotation_id = ANY(%s) AND c.kind = 'tag'
"""

_BOXES = """
SELECT a.frame_id, c.key, b.x, b.y, b.w, b.h FROM labeling_annotationbox b
JOIN labeling_annotation a ON a.id = b.annotation_id
JOIN ontology_labelclass c ON c.id = b.label_class_id
WHERE b.annotation_id = ANY(%s) AND NOT b.outside
ORDER BY b.annotation_id, b.id
"""

_TRACKED = """
SELECT s.name, f.index, b.track_id, b.x, b.y, b.w, b.h, b.id FROM labeling_annotationbox b
JOIN labeling_annotation a ON a.id = b.annotation_id
JOIN labeling_frame f ON f.id = a.frame_id
JOIN labeling_sequence s ON s.id = f.sequence_id
JOIN ontology_labelclass c ON c.id = b.label_class_id
WHERE b.annotation_id = ANY(%s) AND NOT b.outside AND c.kind = 'box'
  AND f.sequence_id IN (SELECT f2.sequence_id FROM labeling_annotationbox b2
                        JOIN labeling_annotation a2 ON a2.id = b2.annotation_id
                        JOIN labeling_frame f2 ON f2.id = a2.frame_id
                        WHERE b2.annotation_id = ANY(%s) AND b2.track_id IS NOT NULL)
ORDER BY s.name, f.index, b.id
"""


def slices_of(frame_ids: list[int], annotation_ids: list[int]) -> dict[str, list[int]]:
    """{slice name: positions in `frame_ids`}, every slice with at least one frame."""
    at = {f: i for i, f in enumerate(frame_ids)}
    out: dict[str, list[int]] = {}

    def add(name: str, frame_id: int) -> None:
        out.setdefault(name, []).append(at[frame_id])

    with connection.cursor() as cur:
        cur.execute(_CONDITIONS, [list(frame_ids)])
        for fid, seq, night, blurred, thermal, altitude, view in cur.fetchall():
            add(f"sequence:{seq}", fid)
            if night is not None:
                add("night" if night else "day", fid)
            if blurred is not None:
                add("blurred" if blurred else "sharp", fid)
            if thermal is not None:
                add("thermal" if thermal else "visible", fid)
            if altitude:
                add(f"altitude:{altitude}", fid)
            if view:
                add(f"view:{view}", fid)
        cur.execute(_TAGS, [list(annotation_ids)])
        for fid, key in sorted(set(cur.fetchall())):
            add(f"tag:{key}", fid)
    return {name: sorted(members) for name, members in sorted(out.items())}


def truth_rows(frame_ids: list[int], annotation_ids: list[int]) -> list[tuple]:
    """(position, class key, x, y, w, h) of every box of the frozen revisions."""
    at = {f: i for i, f in enumerate(frame_ids)}
    with connection.cursor() as cur:
        cur.execute(_BOXES, [list(annotation_ids)])
        return [(at[fid], key, x, y, w, h) for fid, key, x, y, w, h in cur.fetchall()]


def tracked_rows(annotation_ids: list[int]) -> tuple[list[tuple], dict[str, list[int]]]:
    """The truth of sequences that carry tracks: (sequence name, frame index, track id, x, y, w, h)
    of every box, an untracked box being a track of its own (a negative id), and each such
    sequence's frame indexes in the set (frames with no box count too)."""
    with connection.cursor() as cur:
        cur.execute(_TRACKED, [list(annotation_ids), list(annotation_ids)])
        rows = [(seq, index, track if track is not None else -box_id, x, y, w, h)
                for seq, index, track, x, y, w, h, box_id in cur.fetchall()]
        sequences = sorted({r[0] for r in rows})
        cur.execute("""SELECT s.name, f.index FROM labeling_annotation a JOIN labeling_frame f ON f.id = a.frame_id
                       JOIN labeling_sequence s ON s.id = f.sequence_id
                       WHERE a.id = ANY(%s) AND s.name = ANY(%s)""", [list(annotation_ids), sequences])
        frames: dict[str, list[int]] = {}
        for seq, index in cur.fetchall():
            frames.setdefault(seq, []).append(index)
    return rows, {seq: sorted(set(i)) for seq, i in frames.items()}
