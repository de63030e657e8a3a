"""Oriented boxes (rotated rectangles): pure geometry over floats and numpy arrays.

An oriented box is stored as the axis-aligned rectangle it is before turning (x, y, w, h: its
top-left corner and size, in frame pixels) and `angle`: degrees, clockwise as seen on screen
(image y points down), about the rectangle's centre. The canonical range is (-90, 90]: a
rectangle turned by 180° covers the same pixels, so angles are normalised modulo 180 (which
swaps the order of its corners, not the box).

Corners come in the order of the unrotated rectangle's top-left, top-right, bottom-right,
bottom-left, each turned: clockwise on screen, which is the order DOTA and YOLO-OBB use."""
from __future__ import annotations

import math

import numpy as np


def normalize_angle(angle: float) -> float:
    """The same rotation in (-90, 90]."""
    out = 90.0 - ((90.0 - float(angle)) % 180.0)
    return 0.0 if out == 0 else out  # no -0.0


def corners(x: float, y: float, w: float, h: float, angle: float | None) -> list[tuple[float, float]]:
    """The four corners (clockwise on screen, from the unrotated top-left)."""
    cx, cy = x + w / 2, y + h / 2
    if not angle:
        return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    out = []
    for dx, dy in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)):
        out.append((cx + dx * c - dy * s, cy + dx * s + dy * c))
    return out


def enclosing(x: float, y: float, w: float, h: float, angle: float | None) -> tuple[float, float, float, float]:
    """The smallest axis-aligned box (x, y, w, h) holding the oriented box."""
    if not angle:
        return x, y, w, h
    pts = corners(x, y, w, h, angle)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def is_rectangle(points, tolerance: float = 1e-3) -> bool:
    """Whether four points (in order around the shape) are the corners of a rectangle: equal
    diagonals and a shared midpoint, relative to the size."""
    p = np.asarray(points, dtype=float).reshape(4, 2)
    d1, d2 = np.linalg.norm(p[2] - p[0]), np.linalg.norm(p[3] - p[1])
    scale = max(d1, d2, 1e-9)
    mid = np.linalg.norm((p[0] + p[2]) / 2 - (p[1] + p[3]) / 2)
    return abs(d1 - d2) <= tolerance * scale and mid <= tolerance * scale


def from_corners(points) -> tuple[float, float, float, float, float] | None:
    """(x, y, w, h, angle) of the rectangle with these corners, in the order `corners` gives
    them (the first edge is the unrotated top edge); None when they do not form a rectangle of
    some size. Quadrilaterals that are not rectangles: see `fit`."""
    p = np.asarray(points, dtype=float).reshape(4, 2)
    if not is_rectangle(p):
        return None
    w = float(np.linalg.norm(p[1] - p[0]))
    h = float(np.linalg.norm(p[2] - p[1]))
    if w <= 0 or h <= 0:
        return None
    if (p[1] - p[0])[0] * (p[2] - p[1])[1] - (p[1] - p[0])[1] * (p[2] - p[1])[0] < 0:
        # counter-clockwise on screen: read it the other way round (same rectangle)
        p = p[[0, 3, 2, 1]]
        w, h = h, w
    angle = math.degrees(math.atan2(p[1][1] - p[0][1], p[1][0] - p[0][0]))
    cx, cy = float(p[:, 0].mean()), float(p[:, 1].mean())
    normal = normalize_angle(angle)
    if abs(normal) < 1e-9:
        normal = 0.0
    return cx - w / 2, cy - h / 2, w, h, normal


def fit(points) -> tuple[float, float, float, float, float] | None:
    """The minimum-area rectangle around any four points (OpenCV), as (x, y, w, h, angle)."""
    import cv2

    p = np.asarray(points, dtype=np.float32).reshape(4, 2)
    (cx, cy), (w, h), angle = cv2.minAreaRect(p)
    if w <= 0 or h <= 0:
        return None
    return float(cx - w / 2), float(cy - h / 2), float(w), float(h), normalize_angle(float(angle))


def inside(x: float, y: float, w: float, h: float, angle: float | None, width: float, height: float,
           tolerance: float = 0.0) -> bool:
    """Whether every corner lies in the width × height frame (within `tolerance` pixels)."""
    return all(-tolerance <= px <= width + tolerance and -tolerance <= py <= height + tolerance
               for px, py in corners(x, y, w, h, angle))


def rotated_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every oriented box in `a` against every one in `b` (rows x, y, w, h, angle):
    intersections by OpenCV's rotatedRectangleIntersection, then its polygon's area."""
    import cv2

    a = np.asarray(a, dtype=float).reshape(-1, 5)
    b = np.asarray(b, dtype=float).reshape(-1, 5)
    out = np.zeros((len(a), len(b)))
    rect = lambda r: ((r[0] + r[2] / 2, r[1] + r[3] / 2), (r[2], r[3]), r[4])  # noqa: E731
    area_a, area_b = a[:, 2] * a[:, 3], b[:, 2] * b[:, 3]
    for i, ra in enumerate(a):
        for j, rb in enumerate(b):
            kind, pts = cv2.rotatedRectangleIntersection(rect(ra), rect(rb))
            if kind == cv2.INTERSECT_NONE or pts is None or len(pts) < 3:
                continue
            inter = float(cv2.contourArea(cv2.convexHull(pts.astype(np.float32))))
            union = area_a[i] + area_b[j] - inter
            out[i, j] = min(1.0, inter / union) if union > 0 else 0.0
    return out
