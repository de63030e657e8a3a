"""Consensus: one approved annotation fused from several annotators' labels on a frame (pure).

- Boxes: each group of boxes that the pairwise matching links is one object. It is kept only if
  a quorum of annotators drew it (default: a strict majority). Its class is the majority class
  among its boxes (a tie keeps the class drawn by the earliest annotator in the group, and is
  reported); its coordinates are the mean of the boxes of that class (an oriented box's angle:
  the circular mean, modulo 180°, of theirs); each attribute is the
  majority value among them; its track id is the one the earliest of those annotators gave.
- Tags: a tag is set if a strict majority set it; a change verdict is the majority verdict.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from labeling.quality.agreement import ABSENT, Labels


@dataclass
class FusedBox:
    label: str
    x: float
    y: float
    w: float
    h: float
    attributes: dict
    track_id: int | None
    support: int  # how many annotators drew it
    tie: bool = False
    angle: float | None = None  # an oriented box's


@dataclass
class Consensus:
    boxes: list[FusedBox] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # key -> "set" / "changed" / "unchanged"
    tag_attributes: dict[str, dict] = field(default_factory=dict)  # key -> the majority's attributes
    dropped: int = 0  # groups below the quorum


def majority(n_annotators: int) -> int:
    return n_annotators // 2 + 1


def fuse(labels: list[Labels], groups: list, tag_units: dict, quorum: int | None = None) -> Consensus:
    quorum = quorum or majority(len(labels))
    out = Consensus()
    coords = [_rows(x.boxes) for x in labels]
    for group in groups:
        support = len({i for i, _ in group})
        if support < quorum:
            out.dropped += 1
            continue
        classes = [labels[i].classes[k] for i, k in group]
        votes = Counter(classes)
        ranked = votes.most_common()
        tie = len(ranked) > 1 and ranked[0][1] == ranked[1][1]
        top = ranked[0][1]
        label = next(c for c in classes if votes[c] == top)
        members = [member for member, c in zip(group, classes) if c == label]
        x, y, w, h = _mean_box([coords[i][k][:4] for i, k in members])
        angle = _mean_angle([coords[i][k][4] for i, k in members if len(coords[i][k]) > 4])
        attributes = _majority_attributes([_attrs(labels[i], k) for i, k in members])
        tracks = [labels[i].tracks[k] for i, k in sorted(members) if k < len(labels[i].tracks)]
        out.boxes.append(FusedBox(label, x, y, w, h, attributes, next((t for t in tracks if t), None), support, tie,
                                  angle))
    for key, values in tag_units.items():
        counts = Counter(v for v in values if v != ABSENT)
        if not counts:
            continue
        value, count = counts.most_common(1)[0]
        if count * 2 > len(labels):
            out.tags[key] = value
            # each attribute as the annotators who gave the winning value say it, by majority
            attributes = _majority_attributes([x.tag_attributes.get(key, {}) for x in labels
                                               if x.tags.get(key) == value])
            if attributes:
                out.tag_attributes[key] = attributes
    return out


def _mean_box(boxes: list[list[float]]) -> list[float]:
    """Coordinate-wise mean of a few boxes, in plain floats: the same bits as np.mean(boxes,
    axis=0), which sums the rows in order and divides (a tenth of its time on three boxes)."""
    total = boxes[0]
    for box in boxes[1:]:
        total = [s + v for s, v in zip(total, box)]
    return [s / len(boxes) for s in total]


def _rows(boxes) -> list[list[float]]:
    boxes = np.asarray(boxes, dtype=float)
    return boxes.reshape(-1, 5 if boxes.ndim == 2 and boxes.shape[1] == 5 else 4).tolist()


def _mean_angle(angles: list[float]) -> float | None:
    """Circular mean of angles that repeat every 180° (None: no oriented box among them)."""
    from labeling.work.oriented import normalize_angle

    angles = [a for a in angles if not np.isnan(a)]
    if not angles:
        return None
    doubled = np.radians(np.asarray(angles) * 2)
    return normalize_angle(float(np.degrees(np.arctan2(np.sin(doubled).sum(), np.cos(doubled).sum())) / 2))


def _attrs(labels: Labels, k: int) -> dict:
    return labels.attributes[k] if k < len(labels.attributes) else {}


def _majority_attributes(dicts: list[dict]) -> dict:
    """Each attribute's value that a strict majority of the boxes give it (else left out)."""
    out = {}
    for key in sorted({k for d in dicts for k in d}):
        votes = Counter(json.dumps(d[key], sort_keys=True) for d in dicts if key in d)
        value, count = votes.most_common(1)[0]
        if count * 2 > len(dicts):
            out[key] = json.loads(value)
    return out
