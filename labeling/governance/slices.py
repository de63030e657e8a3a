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
