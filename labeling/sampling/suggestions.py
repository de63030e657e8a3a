"""Model suggestions: the current detector's boxes on a frame (kept by the scoring run with each
frame's score), offered to the annotator to accept, adjust or ignore; in segments, the same boxes
joined into tracks and thinned to keyframes (`association`).

Suggestions anchor people: whoever sees the model's boxes tends to draw them. So the first
`blind_annotators` people of each frame or segment (a project setting; 1 by default) are shown
none, and agreement still compares work done independently of the model."""
from __future__ import annotations

import json

from django.db import connection

from labeling.access import cache
from labeling.models import Assignment, ModelVersion, Project
from labeling.sampling import association


def current_detector(project_id: int) -> int | None:
    """The id of the project's current detector; asked on every lease, cached a few seconds."""
    return cache.cached("detector", project_id, lambda: ModelVersion.objects.filter(
        project_id=project_id, kind=ModelVersion.DETECTOR, is_current=True).values_list("pk", flat=True).first())


def hidden_for(project: Project, assignment: Assignment) -> bool:
    """Is this lease among the first `blind_annotators` of its frame or segment?"""
    if project.blind_annotators <= 0:
        return False
    earlier = Assignment.objects.filter(item_id=assignment.item_id, leased_at__lt=assignment.leased_at).exclude(
        status=Assignment.EXPIRED).exclude(pk=assignment.pk).count()
    return earlier < project.blind_annotators


def latest(detector_id: int, frame_ids: list[int]) -> dict[int, list[dict]]:
    """Each frame's boxes from the newest scoring of it by this detector version."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT DISTINCT ON (fs.frame_id) fs.frame_id, fs.detections
            FROM labeling_framescore fs JOIN labeling_scoringrun r ON r.id = fs.run_id
            WHERE r.detector_id = %s AND fs.frame_id = ANY(%s) AND fs.detections IS NOT NULL
            ORDER BY fs.frame_id, fs.scored_at DESC
            """, [detector_id, list(frame_ids)])
        return {frame_id: json.loads(boxes) if isinstance(boxes, str) else boxes for frame_id, boxes in cur.fetchall()}


def _offered(project: Project, assignment: Assignment | None) -> tuple[int | None, bool]:
    """The detector whose boxes this lease is offered, and whether it is withheld: the project has
    a current detector but this lease is among the first, who see none (the page says so, so that
    nobody takes an empty list for a model that found nothing). One look at the lease's order."""
    detector = current_detector(project.pk)
    if detector is None:
        return None, False
    if assignment is not None and hidden_for(project, assignment):
        return None, True
    return detector, False


def for_frame(project: Project, frame_id: int, assignment: Assignment | None) -> dict:
    """What the frame page gets: `suggestions` (None: no current detector, not scored yet, or
    withheld) and `suggestions_withheld`."""
    detector, withheld = _offered(project, assignment)
    boxes = latest(detector, [frame_id]).get(frame_id) if detector is not None else None
    return {"suggestions": {"model_version": detector, "boxes": boxes} if boxes is not None else None,
            "suggestions_withheld": withheld}


def for_segment(project: Project, frames: list, assignment: Assignment | None) -> dict:
    """The detector's boxes on a segment's frames as suggested tracks, thinned to keyframes:
    `suggestions` and `suggestions_withheld`, as `for_frame`."""
    detector, withheld = _offered(project, assignment)
    found = latest(detector, [f.pk for f in frames]) if detector is not None else {}
    if not found:
        return {"suggestions": None, "suggestions_withheld": withheld}
    index_of = {f.pk: f.index for f in frames}
    detections = {index_of[fid]: [association.Detection(b["class"], b["score"], (b["x"], b["y"], b["w"], b["h"]))
                                  for b in boxes] for fid, boxes in found.items()}
    tracks = association.associate(detections)
    last_frame = max(index_of.values())
    out = []
    for number, track in enumerate(sorted(tracks, key=lambda t: (t.frames[0], -t.score)), start=1):
        keep = association.keyframes(track.frames, track.boxes)
        keys = [{"frame": track.frames[k], "x": round(track.boxes[k][0], 1), "y": round(track.boxes[k][1], 1),
                 "w": round(track.boxes[k][2], 1), "h": round(track.boxes[k][3], 1)} for k in keep]
        if track.frames[-1] < last_frame:  # the detector lost it: the track ends there, not at the segment's end
            keys.append({"frame": track.frames[-1] + 1, "outside": True})
        out.append({"suggestion": number, "class": track.label, "score": round(track.score, 3),
                    "first": track.frames[0], "last": track.frames[-1], "keyframes": keys})
    return {"suggestions": {"model_version": detector, "tracks": out}, "suggestions_withheld": False}
