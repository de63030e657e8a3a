"""Stand-in annotators for the demo: OpenCV's HOG people detector (the default people detector
bundled inside the opencv package: `cv2.HOGDescriptor_getDefaultPeopleDetector()`, nothing is
downloaded) finds the people in a frame, and each stand-in turns those detections into what a
person of their habits would have drawn: boxes a little off, a missed person now and then, a
wrong class sometimes. One stand-in is careful, the other hasty, so they agree on most frames
and disagree on some, the way two people do.

Everything here is deterministic: the detector is, and each stand-in's slips are drawn from a
random generator seeded by the stand-in's name and the frame's content hash (not by the order
in which frames come), so the demo's history is the same on every machine."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

#: detections scoring below this (the SVM's margin) are left out: mostly lamp posts and bins
MIN_WEIGHT = 0.5
#: detections below this are "faint" people: small, half hidden; the hasty stand-in misses more of them
FAINT_WEIGHT = 1.0
#: frames are scaled so their longest side is about this before detection (the detector's window
#: is 64×128 px: people in the demo's campus footage are smaller than that at full size)
DETECT_SIDE = 960


@dataclass(frozen=True)
class StandIn:
    """One stand-in annotator's habits. Shares are per box; jitter is the standard deviation of a
    box edge, as a share of the box's size."""

    username: str
    full_name: str
    jitter: float
    miss: float
    miss_faint: float
    wrong_class: float
    wrong_as: str = "bicycle"


STANDINS = (
    StandIn("standin_careful", "Cara Careful", jitter=0.03, miss=0.03, miss_faint=0.10, wrong_class=0.01),
    StandIn("standin_hasty", "Hal Hasty", jitter=0.07, miss=0.08, miss_faint=0.35, wrong_class=0.07),
)


def _detector():
    import cv2

    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    return hog


_HOG = None


def detect_people(pixels: np.ndarray) -> np.ndarray:
    """People in an RGB frame (H×W×3 uint8) as an (n, 5) array of x, y, w, h, weight in the
    frame's pixels, strongest first."""
    import cv2

    global _HOG
    if _HOG is None:
        _HOG = _detector()
    height, width = pixels.shape[:2]
    scale = DETECT_SIDE / max(height, width)
    gray = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    if abs(scale - 1) > 0.01:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    rects, weights = _HOG.detectMultiScale(gray, winStride=(8, 8), padding=(8, 8), scale=1.05)
    if len(rects) == 0:
        return np.zeros((0, 5))
    found = np.hstack([np.asarray(rects, dtype=float) / scale, np.asarray(weights, dtype=float).reshape(-1, 1)])
    found = found[found[:, 4] >= MIN_WEIGHT]
    return found[np.argsort(-found[:, 4], kind="stable")]


def rng_for(standin: StandIn, frame_key: str) -> np.random.Generator:
    """The stand-in's slips on one frame: seeded by who and which frame (its sha256)."""
    seed = int.from_bytes(hashlib.sha256(f"{standin.username}:{frame_key}".encode()).digest()[:8], "big")
    return np.random.default_rng(seed)


def boxes_of(standin: StandIn, detections: np.ndarray, frame_key: str, width: int, height: int) -> list[dict]:
    """What the stand-in draws on a frame, in the labeling page's payload shape."""
    rng = rng_for(standin, frame_key)
    n = len(detections)
    if n == 0:
        return []
    faint = detections[:, 4] < FAINT_WEIGHT
    kept = rng.random(n) >= np.where(faint, standin.miss_faint, standin.miss)
    wrong = rng.random(n) < standin.wrong_class
    noise = rng.normal(0.0, standin.jitter, size=(n, 4)) * detections[:, [2, 3, 2, 3]]
    x0 = detections[:, 0] + noise[:, 0]
    y0 = detections[:, 1] + noise[:, 1]
    x1 = detections[:, 0] + detections[:, 2] + noise[:, 2]
    y1 = detections[:, 1] + detections[:, 3] + noise[:, 3]
    x0, x1 = np.clip(x0, 0, width), np.clip(x1, 0, width)
    y0, y1 = np.clip(y0, 0, height), np.clip(y1, 0, height)
    out = []
    for i in np.flatnonzero(kept & (x1 - x0 >= 4) & (y1 - y0 >= 4)):
        box = {"class": standin.wrong_as if wrong[i] else "person", "x": round(float(x0[i]), 1),
               "y": round(float(y0[i]), 1), "w": round(float(x1[i] - x0[i]), 1), "h": round(float(y1[i] - y0[i]), 1)}
        if not wrong[i]:
            box["attributes"] = {"posture": "walking"}
        out.append(box)
    return out


def answer_of(detections: np.ndarray, width: int, height: int) -> list[dict]:
    """The detector's own boxes, unperturbed (the demo's gold answers)."""
    out = []
    for x, y, w, h, _ in detections:
        x0, y0 = max(0.0, x), max(0.0, y)
        x1, y1 = min(float(width), x + w), min(float(height), y + h)
        if x1 - x0 >= 4 and y1 - y0 >= 4:
            out.append({"class": "person", "x": round(x0, 1), "y": round(y0, 1), "w": round(x1 - x0, 1),
                        "h": round(y1 - y0, 1), "attributes": {"posture": "walking"}})
    return out
