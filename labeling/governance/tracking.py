"""Tracking metrics of a detector on an evaluation set: the detector's boxes are linked into tracks
by a plain IoU association from frame to frame (what a downstream tracker without appearance
features would do), then compared with the approved tracks by IDF1 and CLEAR-MOT
(`labeling.quality.agreement.track_scores`, the same code that scores two annotators' tracks).

So the figures say how well the detector supports tracking: a detector whose boxes flicker or
jump breaks tracks even when its per-frame mAP is fair. Only frames whose frozen revision holds
tracked boxes (a track id) count, per sequence, in frame order.

Pure: detections and truth in, numbers out."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from labeling.quality.agreement import TrackScores, track_scores

from . import metrics

SCORE_MIN = 0.5  # detections below this confidence are not tracked
LINK_IOU = 0.3  # a detection continues a track whose last box it overlaps this much (same class)
MAX_GAP = 2  # frames a track may miss before it ends


def associate(frames: list[tuple[int, list[dict]]], score_min: float = SCORE_MIN, link_iou: float = LINK_IOU,
              max_gap: int = MAX_GAP) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Link one sequence's detections into tracks. `frames`: (frame index, detections
    [{class, score, x, y, w, h}]) in any order. Returns frame index → (track ids, boxes (n, 4))."""
    from scipy.optimize import linear_sum_assignment

    live: list[dict] = []  # {"id", "cls", "box", "seen"}
    next_id = 1
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for index, dets in sorted(frames, key=lambda f: f[0]):
        dets = [d for d in dets if d.get("score", 1.0) >= score_min]
        live = [t for t in live if index - t["seen"] <= max_gap + 1]
        boxes = np.array([[d["x"], d["y"], d["w"], d["h"]] for d in dets], dtype=float).reshape(-1, 4)
        ids = np.zeros(len(dets), dtype=int)
        if live and dets:
            iou = metrics.iou_matrix(np.array([t["box"] for t in live]), boxes)
            same = np.array([[t["cls"] == d["class"] for d in dets] for t in live])
            cost = np.where(same & (iou >= link_iou), 1 - iou, 1e6)
            for r, c in zip(*linear_sum_assignment(cost)):
                if cost[r, c] < 1e6:
                    ids[c] = live[r]["id"]
                    live[r]["box"], live[r]["seen"] = boxes[c], index
        for c in np.nonzero(ids == 0)[0]:
            ids[c] = next_id
            live.append({"id": next_id, "cls": dets[c]["class"], "box": boxes[c], "seen": index})
            next_id += 1
        out[index] = (ids, boxes)
    return out


def evaluate(truth: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]],
             detections: dict[str, list[tuple[int, list[dict]]]], iou_threshold: float = 0.5) -> dict | None:
    """IDF1, MOTA and identity switches overall and per sequence. `truth`: sequence → frame index →
    (track ids, boxes); `detections`: sequence → [(frame index, detections)] for the same frames.
    None when no frame carries an approved track."""
    if not any(len(ids) for frames in truth.values() for ids, _ in frames.values()):
        return None
    per_sequence, total = {}, TrackScores(0, 0, 0, 0, 0, 0, 0)
    for name in sorted(truth):
        scores = track_scores(truth[name], associate(detections.get(name, [])), iou_threshold)
        per_sequence[name] = _figures(scores)
        total = TrackScores(*(getattr(total, k) + getattr(scores, k) for k in (
            "idtp", "idfp", "idfn", "fp", "fn", "id_switches", "num_gt")))
    return {"overall": _figures(total), "sequences": per_sequence,
            "params": {"score_min": SCORE_MIN, "link_iou": LINK_IOU, "max_gap": MAX_GAP, "match_iou": iou_threshold}}


def _figures(s: TrackScores) -> dict:
    return {"idf1": round(s.idf1, 4), "mota": round(s.mota, 4), "id_switches": s.id_switches,
            "gt_boxes": s.num_gt, "fp": s.fp, "fn": s.fn}


def truth_tracks(rows, frames: dict[str, list[int]]) -> dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """rows: (sequence name, frame index, track id, x, y, w, h) of the truth boxes; `frames`: each
    sequence's frame indexes in the set (a frame without a box is in the truth, empty)."""
    grouped: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for seq, indexes in frames.items():
        for index in indexes:
            grouped[seq][index]  # noqa: B018 - present, even when empty
    for seq, index, track, x, y, w, h in rows:
        grouped[seq][index].append((track, x, y, w, h))
    return {seq: {i: (np.array([r[0] for r in rs], dtype=int), np.array([r[1:] for r in rs], dtype=float).reshape(-1, 4))
                  for i, rs in frames.items()} for seq, frames in grouped.items()}
