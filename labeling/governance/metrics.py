"""Detector metrics on plain arrays: COCO mAP and mAP@0.5 (pycocotools) overall, per class and
per slice of frames, the operating threshold of each class (the score cut with the best F1) and
the most frequent confusions. Pure: boxes in, numbers out (no models, no database).

Boxes are (x, y, w, h) in frame pixels. `Truth` and `Preds` hold one row per box with the index
of its frame (`image`) and its class key.

COCOeval runs `evaluate` once over every frame and class; each class and each slice is then an
`accumulate` over a subset of frames or classes (COCOeval supports accumulating a subset of what
it evaluated), so a slice costs an accumulation, not another matching. A metric that cannot be
computed (no truth box among the frames or the class) is None: COCO leaves such cells at -1.
"""
from __future__ import annotations

import contextlib
import copy
import io
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

IOU_MATCH = 0.5


@dataclass
class Boxes:
    image: np.ndarray  # (n,) frame index 0..n_images-1
    classes: list[str]
    boxes: np.ndarray  # (n, 4) x, y, w, h
    scores: np.ndarray | None = None  # predictions only

    @classmethod
    def from_rows(cls, rows, with_scores: bool = False) -> "Boxes":
        """rows: (image, class, x, y, w, h[, score])."""
        rows = list(rows)
        return cls(np.array([r[0] for r in rows], dtype=np.int64),
                   [r[1] for r in rows],
                   np.array([r[2:6] for r in rows], dtype=float).reshape(-1, 4),
                   np.array([r[6] for r in rows], dtype=float) if with_scores else None)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every (x, y, w, h) box of `a` (n, 4) against every one of `b` (m, 4): (n, m)."""
    a, b = np.asarray(a, dtype=float).reshape(-1, 4), np.asarray(b, dtype=float).reshape(-1, 4)
    ax2, ay2, bx2, by2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


@dataclass
class Evaluation:
    """One COCOeval over all frames and classes, ready to accumulate subsets."""

    classes: list[str]
    n_images: int
    coco: object = None
    cat_of: dict[str, int] = field(default_factory=dict)


def _coco(n_images: int, sizes, classes: list[str], truth: Boxes, preds: Boxes):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    cat_of = {key: i + 1 for i, key in enumerate(classes)}
    images = [{"id": i + 1, "width": int(w), "height": int(h)} for i, (w, h) in enumerate(sizes)]
    categories = [{"id": c} for c in cat_of.values()]
    gt_anns = [{"id": j + 1, "image_id": int(truth.image[j]) + 1, "category_id": cat_of[truth.classes[j]],
                "bbox": [float(v) for v in truth.boxes[j]], "area": float(truth.boxes[j, 2] * truth.boxes[j, 3]),
                "iscrowd": 0} for j in range(len(truth.classes))]
    dt_anns = [{"id": j + 1, "image_id": int(preds.image[j]) + 1, "category_id": cat_of[preds.classes[j]],
                "bbox": [float(v) for v in preds.boxes[j]], "area": float(preds.boxes[j, 2] * preds.boxes[j, 3]),
                "score": float(preds.scores[j]), "iscrowd": 0} for j in range(len(preds.classes))]
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints as it goes
        gt, dt = COCO(), COCO()
        gt.dataset = {"images": images, "categories": categories, "annotations": gt_anns}
        dt.dataset = {"images": images, "categories": categories, "annotations": dt_anns}
        gt.createIndex()
        dt.createIndex()
        ev = COCOeval(gt, dt, "bbox")
        ev.params.imgIds = [im["id"] for im in images]
        ev.params.catIds = list(cat_of.values())
        ev.evaluate()
    return ev, cat_of


def _maps(ev, image_idx=None, cat_ids=None) -> tuple[float | None, float | None]:
    """(mAP, mAP@0.5) of the frames `image_idx` (0-based) and classes `cat_ids` (all when None).

    COCOeval.accumulate(p) with a subset in `p` looks up its per-image results by the position in
    the subset, not in what was evaluated (wrong unless the subset is a prefix), so the subset's
    results are picked here, in evaluate's order (class, area, image), and accumulated alone."""
    pe = ev._paramsEval
    imgs = pe.imgIds if image_idx is None else [int(i) + 1 for i in image_idx]
    cats = pe.catIds if cat_ids is None else list(cat_ids)
    if not imgs or not cats:
        return None, None
    n_img, n_area = len(pe.imgIds), len(pe.areaRng)
    k_at, i_at = {c: k for k, c in enumerate(pe.catIds)}, {i: n for n, i in enumerate(pe.imgIds)}
    sub = copy.copy(ev)
    sub.evalImgs = [ev.evalImgs[k_at[c] * n_area * n_img + a * n_img + i_at[i]]
                    for c in cats for a in range(n_area) for i in imgs]
    sub.params = sub._paramsEval = copy.copy(pe)
    sub.params.imgIds, sub.params.catIds = list(imgs), cats
    with contextlib.redirect_stdout(io.StringIO()):
        sub.accumulate()
    precision = sub.eval["precision"][:, :, :, 0, -1]  # IoU thresholds × recall × class; all areas, 100 dets
    valid = precision > -1
    if not valid.any():
        return None, None
    at50 = precision[0][valid[0]]
    return round(float(precision[valid].mean()), 4), round(float(at50.mean()), 4) if at50.size else None


def _threshold(ev, cat_id: int) -> dict:
    """The score cut with the best F1 for one class (COCO's matching at IoU 0.5), with its
    precision and recall. No truth box: nothing to measure (None)."""
    scores, hits, positives = [], [], 0
    for e in ev.evalImgs:
        if e is None or e["category_id"] != cat_id or e["aRng"] != ev.params.areaRng[0]:
            continue
        positives += int(np.sum(~np.asarray(e["gtIgnore"], dtype=bool)))
        keep = ~np.asarray(e["dtIgnore"][0], dtype=bool)
        scores.extend(np.asarray(e["dtScores"])[keep])
        hits.extend(np.asarray(e["dtMatches"][0])[keep] > 0)
    if positives == 0:
        return {"threshold": None, "precision": None, "recall": None}
    if not scores:
        return {"threshold": None, "precision": None, "recall": 0.0}
    order = np.argsort(-np.asarray(scores), kind="stable")
    s, tp = np.asarray(scores)[order], np.cumsum(np.asarray(hits)[order])
    precision, recall = tp / np.arange(1, len(s) + 1), tp / positives
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    cuts = np.flatnonzero(np.append(s[1:] != s[:-1], True))  # a cut keeps every detection of a tied score
    best = int(cuts[np.argmax(f1[cuts])])
    return {"threshold": round(float(s[best]), 4), "precision": round(float(precision[best]), 4),
            "recall": round(float(recall[best]), 4)}


def confusions(truth: Boxes, preds: Boxes, thresholds: dict[str, float | None], n_images: int,
               iou: float = IOU_MATCH, default_threshold: float = 0.5) -> list[dict]:
    """Predictions (at or above their class's operating threshold) matched one-to-one to a truth
    box of *another* class at IoU ≥ `iou` (Hungarian matching on IoU, class-agnostic), counted per
    (truth, predicted) pair, most frequent first."""
    counts: dict[tuple[str, str], int] = {}
    cut = np.array([thresholds.get(k) if thresholds.get(k) is not None else default_threshold
                    for k in preds.classes]) if len(preds.classes) else np.zeros(0)
    kept = np.flatnonzero(preds.scores >= cut) if len(preds.classes) else np.zeros(0, dtype=int)
    t_by_image = _group(truth.image, n_images)
    p_by_image = _group(preds.image[kept], n_images)
    for i in range(n_images):
        t, p = t_by_image[i], kept[p_by_image[i]]
        if not len(t) or not len(p):
            continue
        m = iou_matrix(truth.boxes[t], preds.boxes[p])
        rows, cols = linear_sum_assignment(-m)
        for r, c in zip(rows, cols):
            a, b = truth.classes[t[r]], preds.classes[p[c]]
            if m[r, c] >= iou and a != b:
                counts[(a, b)] = counts.get((a, b), 0) + 1
    return [{"truth": a, "predicted": b, "count": n}
            for (a, b), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _group(image: np.ndarray, n_images: int) -> list[np.ndarray]:
    order = np.argsort(image, kind="stable")
    bounds = np.searchsorted(image[order], np.arange(n_images + 1))
    return [order[bounds[i]:bounds[i + 1]] for i in range(n_images)]


def evaluate(sizes, truth: Boxes, preds: Boxes, classes: list[str],
             slices: dict[str, list[int]] | None = None) -> dict:
    """The metrics document of an evaluation run (the shared contract): overall, per class, per
    slice (frame indices), thresholds per class and confusions. `sizes`: (width, height) per
    frame; `classes`: every class key to report (truth and model classes)."""
    classes = list(dict.fromkeys([*classes, *truth.classes, *preds.classes]))
    n = len(sizes)
    ev, cat_of = _coco(n, sizes, classes, truth, preds)
    overall_map, overall_50 = _maps(ev)
    per_class, thresholds = {}, {}
    for key in classes:
        ap, ap50 = _maps(ev, cat_ids=[cat_of[key]])
        per_class[key] = {"ap": ap, "ap50": ap50, "boxes": int(sum(1 for k in truth.classes if k == key))}
        thresholds[key] = _threshold(ev, cat_of[key])
    out_slices = {}
    for name, members in (slices or {}).items():
        m, m50 = _maps(ev, image_idx=members)
        out_slices[name] = {"map": m, "map50": m50, "frames": len(members)}
    return {"overall": {"map": overall_map, "map50": overall_50, "frames": n, "boxes": len(truth.classes)},
            "per_class": per_class, "slices": out_slices, "thresholds": thresholds,
            "confusions": confusions(truth, preds, {k: v["threshold"] for k, v in thresholds.items()}, n)}
