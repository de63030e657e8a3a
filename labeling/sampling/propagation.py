"""Propagating one box through the next (or previous) frames: a classical single-object tracker
that needs no learned weights (OpenCV's CSRT, from opencv-contrib), steered by the project's
current detector where it has one.

Frame by frame, CSRT follows the object; when the detector's boxes for that frame (kept by the
scoring run) hold one of the same class overlapping the tracker's at IoU ≥ SNAP_IOU, the box
snaps to the detection (it is sharper, and the tracker does not drift on its own) and CSRT starts
again from there. The tracker sees frames at most TRACK_SIDE pixels on their long side: CSRT's
cost grows with the image (decode frames that small: `sampling.images.decode(name, TRACK_SIDE)`), and
boxes are given and returned in frame pixels.

The functions take decoded frames and return boxes; the job around them (progress, Celery, what
the page sees as it arrives) is `propagation_runs`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from labeling.quality.agreement import iou_matrix

TRACK_SIDE = 640
SNAP_IOU = 0.5


@dataclass
class Step:
    """The box found on one frame: where, how (tracker or detector) and how sure."""

    frame: int
    x: float
    y: float
    w: float
    h: float
    method: str  # "tracker" or "detector"
    score: float
    lost: bool = False  # the tracker lost the object (the run stops there)


def new_tracker():
    import cv2

    return cv2.TrackerCSRT_create()


def _clip(box, width: int, height: int) -> tuple[float, float, float, float] | None:
    x, y, w, h = box
    x1, y1 = max(0.0, x), max(0.0, y)
    x2, y2 = min(float(width), x + w), min(float(height), y + h)
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None
    return x1, y1, x2 - x1, y2 - y1


def propagate(frames: Iterable[tuple[int, np.ndarray]], start: tuple[float, float, float, float], *,
              size: tuple[int, int], scale: float = 1.0, label: str | None = None,
              detections: Callable[[int], list[dict]] | None = None, tracker_factory=new_tracker) -> Iterator[Step]:
    """Follow the box `start` (x, y, w, h in frame pixels) through `frames`: (frame index, H×W×3
    uint8 image) in the order to go, the first being the frame the box is on, each image at
    `scale` of the frame's `size` (width, height) (decode them small: see TRACK_SIDE).
    `detections(frame index)` gives the detector's boxes for a frame ({class, score, x, y, w, h},
    frame pixels); only those of class `label` steer. Yields one Step per frame after the first;
    stops early when the object is lost."""
    width, height = size
    frames = iter(frames)
    _, first = next(frames)
    box = _clip(start, width, height)
    if box is None:
        return
    tracker = tracker_factory()
    tracker.init(first, _scaled(box, scale))
    for index, image in frames:
        found, small_box = tracker.update(image)
        guess = _clip(tuple(v / scale for v in small_box), width, height) if found else None
        snapped = _snap(guess or box, label, detections(index) if detections else [])
        if snapped is not None:
            box, score = snapped
            tracker = tracker_factory()
            tracker.init(image, _scaled(box, scale))
            yield Step(index, *box, method="detector", score=score)
            continue
        if guess is None:
            yield Step(index, *box, method="tracker", score=0.0, lost=True)
            return
        box = guess
        yield Step(index, *box, method="tracker", score=1.0)


def _scaled(box, scale: float) -> tuple[int, int, int, int]:
    x, y, w, h = (v * scale for v in box)
    return int(round(x)), int(round(y)), max(1, int(round(w))), max(1, int(round(h)))


def _snap(box, label: str | None, candidates: list[dict]) -> tuple[tuple, float] | None:
    """The detection of the same class that overlaps `box` most, if at SNAP_IOU or above."""
    same = [c for c in candidates if label is None or c.get("class") == label]
    if not same:
        return None
    iou = iou_matrix(np.array([box], dtype=float), np.array([[c["x"], c["y"], c["w"], c["h"]] for c in same]))[0]
    best = int(np.argmax(iou))
    if iou[best] < SNAP_IOU:
        return None
    c = same[best]
    return (float(c["x"]), float(c["y"]), float(c["w"]), float(c["h"])), float(c.get("score", 1.0))
