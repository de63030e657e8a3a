"""Track identities across neighbouring segments. Pure functions.

Neighbouring segments share a few frames. When a segment's approved tracks are written, each is
matched to a track already approved on those shared frames (by the neighbour): the pair whose
boxes overlap most over the shared frames (mean IoU over the frames either has a box on, so a
track present on only some of them scores lower), one-to-one by the Hungarian algorithm, a pair
counting at `iou_min` or above. A matched track takes the neighbour's identity, so an exported
MOT track does not break at a segment border; an unmatched one gets a new identity."""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from labeling.quality.agreement import iou_matrix

Box = tuple[float, float, float, float]


def overlap(a: dict[int, Box], b: dict[int, Box]) -> float:
    """Mean IoU of two tracks over the frames either has a box on (0 where only one has)."""
    frames = sorted(set(a) | set(b))
    if not frames:
        return 0.0
    total = sum(float(iou_matrix(np.array([a[f]]), np.array([b[f]]))[0, 0]) for f in frames if f in a and f in b)
    return total / len(frames)


def stitch(existing: dict[int, dict[int, Box]], new: dict[int, dict[int, Box]],
           iou_min: float = 0.5) -> dict[int, int]:
    """Which new track (id → {frame: box} on the shared frames) continues which existing one:
    {new id: existing id}."""
    old_ids, new_ids = sorted(existing), sorted(new)
    if not old_ids or not new_ids:
        return {}
    score = np.array([[overlap(existing[o], new[n]) for n in new_ids] for o in old_ids])
    rows, cols = linear_sum_assignment(-score)
    return {new_ids[c]: old_ids[r] for r, c in zip(rows, cols) if score[r, c] >= iou_min}


def identities(new_ids: list[int], matched: dict[int, int], next_id: int) -> dict[int, int]:
    """Every new track's identity: the matched neighbour's, else the next free one, in order."""
    out = {}
    for track in sorted(new_ids):
        if track in matched:
            out[track] = matched[track]
        else:
            out[track] = next_id
            next_id += 1
    return out
