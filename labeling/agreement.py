"""Inter-annotator agreement: pure functions over numpy arrays (no database here).

- Boxes on one frame, between two annotators: one-to-one matching with the Hungarian algorithm
  (scipy's linear_sum_assignment) on IoU; a pair counts only at IoU ≥ a threshold and, if
  configured, only when the classes agree (a matched pair with different classes is a class
  confusion). Per pair: precision, recall, F1, mean IoU of the matches.
- Frame tags across annotators: Krippendorff's alpha (the maintained `krippendorff` package).
- Tracks, between two annotators on one sequence: IDF1 (Ristani et al. 2016: one global
  identity mapping) and the CLEAR-MOT counts (per-frame matching that keeps earlier pairs).

Boxes are arrays of shape (n, 4) holding x, y, w, h in frame pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import krippendorff
import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class ComparisonParams:
    """How two annotations are compared; projects set these, the defaults are CVAT's."""

    iou_threshold: float = 0.5
    match_classes: bool = True  # a pair with different classes is a confusion, not a match


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in `a` against every box in `b`: shape (len(a), len(b))."""
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    ax1, ay1, ax2, ay2 = a[:, 0:1], a[:, 1:2], a[:, 0:1] + a[:, 2:3], a[:, 1:2] + a[:, 3:4]
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0, None)
    ih = np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0, None)
    inter = iw * ih
    union = (a[:, 2:3] * a[:, 3:4]) + (b[:, 2] * b[:, 3]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _assign(iou: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian assignment maximising total IoU among pairs at or above the threshold."""
    if not iou.size:
        return np.empty(0, dtype=int), np.empty(0, dtype=int)
    eligible = iou >= threshold
    rows, cols = linear_sum_assignment(np.where(eligible, -iou, 0.0))
    keep = eligible[rows, cols]
    return rows[keep], cols[keep]


@dataclass
class PairResult:
    matches: np.ndarray  # (k, 2) indices into a and b: same class (or classes ignored)
    ious: np.ndarray  # (k,) IoU of each match
    confusions: list[tuple] = field(default_factory=list)  # (class in a, class in b) of overlapping pairs
    unmatched_a: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    unmatched_b: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    n_a: int = 0
    n_b: int = 0

    @property
    def tp(self) -> int:
        return len(self.matches)

    @property
    def precision(self) -> float:
        """Share of b's boxes that a agrees with (a as reference); 1 when neither drew anything."""
        return self.tp / self.n_b if self.n_b else float(self.n_a == 0)

    @property
    def recall(self) -> float:
        return self.tp / self.n_a if self.n_a else float(self.n_b == 0)

    @property
    def f1(self) -> float:
        total = self.n_a + self.n_b
        return 2 * self.tp / total if total else 1.0

    @property
    def mean_iou(self) -> float | None:
        return float(self.ious.mean()) if len(self.ious) else None


def match_boxes(a_boxes, a_classes, b_boxes, b_classes, params: ComparisonParams = ComparisonParams()) -> PairResult:
    """Match two annotators' boxes on one frame."""
    a_classes, b_classes = np.asarray(a_classes, dtype=object), np.asarray(b_classes, dtype=object)
    iou = iou_matrix(a_boxes, b_boxes)
    rows, cols = _assign(iou, params.iou_threshold)
    same = a_classes[rows] == b_classes[cols] if len(rows) else np.empty(0, dtype=bool)
    confusions = [(a_classes[r], b_classes[c]) for r, c in zip(rows[~same], cols[~same])]
    if params.match_classes:
        rows, cols = rows[same], cols[same]
    return PairResult(
        matches=np.stack([rows, cols], axis=1) if len(rows) else np.empty((0, 2), dtype=int),
        ious=iou[rows, cols] if len(rows) else np.empty(0),
        confusions=confusions,
        unmatched_a=np.setdiff1d(np.arange(len(a_classes)), rows),
        unmatched_b=np.setdiff1d(np.arange(len(b_classes)), cols),
        n_a=len(a_classes), n_b=len(b_classes),
    )


def alpha(reliability: np.ndarray, level: str = "nominal") -> float | None:
    """Krippendorff's alpha over an (annotators × units) matrix, NaN where an annotator did not
    code a unit. None when it is undefined (fewer than two values in play, or no unit coded
    twice): perfect but uninformative agreement is not reported as 1."""
    data = np.asarray(reliability, dtype=float)
    pairable = (np.sum(~np.isnan(data), axis=0) >= 2) if data.size else np.array([], dtype=bool)
    values = np.unique(data[:, pairable][~np.isnan(data[:, pairable])]) if pairable.any() else []
    if len(values) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))


def tag_reliability(tag_sets: list[dict[int, set[str]]], tag_keys: list[str]) -> np.ndarray:
    """An (annotators × units) matrix for frame tags: one unit per (frame, tag class), coded 1
    if the annotator set the tag on that frame, 0 if they labeled the frame without it, and
    missing (NaN) if they did not label the frame. `tag_sets[i]` maps frame id → tags of
    annotator i."""
    frames = sorted(set().union(*[set(t) for t in tag_sets])) if tag_sets else []
    data = np.full((len(tag_sets), len(frames) * len(tag_keys)), np.nan)
    for i, tags in enumerate(tag_sets):
        for f, frame in enumerate(frames):
            if frame in tags:
                for k, key in enumerate(tag_keys):
                    data[i, f * len(tag_keys) + k] = 1.0 if key in tags[frame] else 0.0
    return data


@dataclass
class TrackScores:
    idtp: int
    idfp: int
    idfn: int
    fp: int
    fn: int
    id_switches: int
    num_gt: int

    @property
    def idf1(self) -> float:
        denominator = 2 * self.idtp + self.idfp + self.idfn
        return 2 * self.idtp / denominator if denominator else 1.0

    @property
    def mota(self) -> float:
        return 1 - (self.fn + self.fp + self.id_switches) / self.num_gt if self.num_gt else 1.0


def track_scores(gt: dict[int, tuple[np.ndarray, np.ndarray]], pred: dict[int, tuple[np.ndarray, np.ndarray]],
                 iou_threshold: float = 0.5) -> TrackScores:
    """IDF1 and CLEAR-MOT counts of `pred` against `gt` (either annotator may play ground truth).
    Each maps frame index → (track ids (n,), boxes (n, 4))."""
    frames = sorted(set(gt) | set(pred))
    empty = (np.empty(0, dtype=int), np.empty((0, 4)))
    gt_ids = sorted({int(i) for f in gt.values() for i in f[0]})
    pred_ids = sorted({int(i) for f in pred.values() for i in f[0]})
    gi, pi = {g: n for n, g in enumerate(gt_ids)}, {p: n for n, p in enumerate(pred_ids)}
    overlap = np.zeros((len(gt_ids), len(pred_ids)))  # frames where the two identities coincide
    fp = fn = switches = num_gt = num_pred = 0
    last: dict[int, int] = {}  # gt id -> pred id it was last matched to
    for frame in frames:
        g_ids, g_boxes = gt.get(frame, empty)
        p_ids, p_boxes = pred.get(frame, empty)
        num_gt, num_pred = num_gt + len(g_ids), num_pred + len(p_ids)
        iou = iou_matrix(g_boxes, p_boxes)
        hit = iou >= iou_threshold
        for r, c in zip(*np.nonzero(hit)):
            overlap[gi[int(g_ids[r])], pi[int(p_ids[c])]] += 1
        # CLEAR-MOT: keep last frame's pairs that still overlap, assign the rest by Hungarian
        matched_g, matched_p = set(), set()
        for r, g in enumerate(g_ids):
            prev = last.get(int(g))
            if prev is None:
                continue
            where = np.nonzero(p_ids == prev)[0]
            if len(where) and hit[r, where[0]] and where[0] not in matched_p:
                matched_g.add(r)
                matched_p.add(int(where[0]))
        free_g = [r for r in range(len(g_ids)) if r not in matched_g]
        free_p = [c for c in range(len(p_ids)) if c not in matched_p]
        rows, cols = _assign(iou[np.ix_(free_g, free_p)], iou_threshold) if free_g and free_p else ([], [])
        for r, c in zip(rows, cols):
            g, p = int(g_ids[free_g[r]]), int(p_ids[free_p[c]])
            if g in last and last[g] != p:
                switches += 1
            last[g] = p
            matched_g.add(free_g[r])
            matched_p.add(free_p[c])
        fn += len(g_ids) - len(matched_g)
        fp += len(p_ids) - len(matched_p)
    rows, cols = _assign(overlap, 1e-9) if overlap.size else ([], [])
    idtp = int(overlap[rows, cols].sum()) if len(rows) else 0
    return TrackScores(idtp=idtp, idfp=num_pred - idtp, idfn=num_gt - idtp, fp=fp, fn=fn, id_switches=switches,
                       num_gt=num_gt)


ABSENT = "__absent__"


def box_reliability(annotations: list[tuple[np.ndarray, list]], params: ComparisonParams = ComparisonParams(),
                    missing_as_absent: bool = True) -> np.ndarray:
    """An (annotators × units) matrix of class codes for Krippendorff's alpha over boxes on one
    frame. A unit is a group of boxes that the pairwise matching links (IoU ≥ threshold, classes
    ignored so that a confusion stays one unit); each annotator's value is the class of their box
    in it.

    An annotator who drew no box in a unit is coded as an explicit "absent" category by default:
    omitting an object others saw is a disagreement QA should see, and coding it as missing would
    make alpha blind to omissions. `missing_as_absent=False` codes it as missing (NaN) instead,
    for a class-only agreement. Class codes are small integers (absent = 0)."""
    loose = ComparisonParams(iou_threshold=params.iou_threshold, match_classes=False)
    offsets = np.cumsum([0] + [len(c) for _, c in annotations])
    parent = list(range(offsets[-1]))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(annotations)):
        for j in range(i + 1, len(annotations)):
            r = match_boxes(annotations[i][0], annotations[i][1], annotations[j][0], annotations[j][1], loose)
            for a, b in r.matches:
                parent[find(offsets[i] + a)] = find(offsets[j] + b)
    first_member: dict[int, int] = {}
    for n in range(offsets[-1]):
        first_member.setdefault(find(n), n)
    # units in the order of their first box (annotator order, then box order): stable output
    unit_of = {root: u for u, root in enumerate(sorted(first_member, key=first_member.get))}
    roots = list(unit_of)
    codes = {ABSENT: 0}
    data = np.full((len(annotations), len(roots)), 0.0 if missing_as_absent else np.nan)
    for i, (_, classes) in enumerate(annotations):
        for k, cls in enumerate(classes):
            data[i, unit_of[find(offsets[i] + k)]] = codes.setdefault(cls, len(codes))
    return data
