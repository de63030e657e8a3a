"""Detections of consecutive frames joined into tracks, and tracks thinned to keyframes. Pure
functions over arrays.

- `associate`: frame by frame, each live track predicts its next box with a constant velocity
  (the last step's motion), and predictions are matched to the frame's detections of the same
  class with the Hungarian algorithm on IoU (scipy's linear_sum_assignment), a match counting at
  IoU ≥ `iou_min`. An unmatched detection starts a track; a track unmatched for more than
  `max_gap` frames ends. The same rule as SORT, without a Kalman filter: segments are short and
  the frames dense.
- `keyframes`: the fewest frames of a track from which linear interpolation reproduces every
  box of it at IoU ≥ `iou_min` (greedy from the start: extend the span while it holds)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from labeling.quality.agreement import iou_matrix


@dataclass
class Detection:
    label: str
    score: float
    box: tuple[float, float, float, float]  # x, y, w, h


@dataclass
class AssociatedTrack:
    label: str
    frames: list[int] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    @property
    def score(self) -> float:
        return float(np.mean(self.scores)) if self.scores else 0.0

    def predict(self, frame: int) -> tuple[float, float, float, float]:
        """The box at `frame` if the track kept its last step's motion (its box if it has one)."""
        last = np.array(self.boxes[-1], dtype=float)
        if len(self.boxes) < 2:
            return tuple(last)
        step = (last - np.array(self.boxes[-2], dtype=float)) / max(1, self.frames[-1] - self.frames[-2])
        return tuple(last + step * (frame - self.frames[-1]))


def associate(detections: dict[int, list[Detection]], *, iou_min: float = 0.3, max_gap: int = 3,
              min_length: int = 2) -> list[AssociatedTrack]:
    """Tracks from per-frame detections (`detections[frame index]`); tracks shorter than
    `min_length` frames are dropped (a detection seen once is noise more often than an object)."""
    live: list[AssociatedTrack] = []
    done: list[AssociatedTrack] = []
    for frame in sorted(detections):
        found = detections[frame]
        still = []
        for track in live:
            (still if frame - track.frames[-1] <= max_gap + 1 else done).append(track)
        live = still
        used: set[int] = set()
        for label in sorted({d.label for d in found} | {t.label for t in live}):
            tracks = [t for t in live if t.label == label]
            dets = [i for i, d in enumerate(found) if d.label == label]
            if not tracks or not dets:
                continue
            iou = iou_matrix(np.array([t.predict(frame) for t in tracks], dtype=float),
                             np.array([found[i].box for i in dets], dtype=float))
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols):
                if iou[r, c] >= iou_min:
                    det = found[dets[c]]
                    tracks[r].frames.append(frame)
                    tracks[r].boxes.append(tuple(map(float, det.box)))
                    tracks[r].scores.append(det.score)
                    used.add(dets[c])
        for i, det in enumerate(found):
            if i not in used:
                live.append(AssociatedTrack(det.label, [frame], [tuple(map(float, det.box))], [det.score]))
    return [t for t in done + live if len(t.frames) >= min_length]


def _interpolated(a, b, fa: int, fb: int, frame: int) -> np.ndarray:
    t = (frame - fa) / (fb - fa)
    return np.asarray(a, dtype=float) + (np.asarray(b, dtype=float) - np.asarray(a, dtype=float)) * t


def keyframes(frames: list[int], boxes: list, *, iou_min: float = 0.85) -> list[int]:
    """Positions (into `frames`) of the keyframes that reproduce the track by interpolation. Frames
    with no box between two kept ones are interpolated too, as the segment page does."""
    if len(frames) <= 2:
        return list(range(len(frames)))
    kept = [0]
    start = 0
    end = 2
    while end < len(frames):
        fits = all(
            float(iou_matrix(_interpolated(boxes[start], boxes[end], frames[start], frames[end], frames[k])[None],
                             np.asarray(boxes[k], dtype=float)[None])[0, 0]) >= iou_min
            for k in range(start + 1, end))
        if fits:
            end += 1
            continue
        start = end - 1
        kept.append(start)
        end = start + 2
    kept.append(len(frames) - 1)
    return kept
