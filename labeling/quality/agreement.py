"""Inter-annotator agreement: pure functions over numpy arrays (no database here).

- Boxes on one frame, between two annotators: one-to-one matching with the Hungarian algorithm
  (scipy's linear_sum_assignment) on IoU; a pair counts only at IoU ≥ a threshold and, if
  configured, only when the classes agree (a matched pair with different classes is a class
  confusion). Per pair: precision, recall, F1, mean IoU of the matches.
- Frame tags across annotators: Krippendorff's alpha (the maintained `krippendorff` package).
- Tracks, between two annotators on one sequence: IDF1 (Ristani et al. 2016: one global
  identity mapping) and the CLEAR-MOT counts (per-frame matching that keeps earlier pairs).

Boxes are arrays of shape (n, 4) holding x, y, w, h in frame pixels, or (n, 5) with a fifth
column, the angle of an oriented box (labeling.work.oriented; 0 for an axis-aligned one): IoU
is then the rotated rectangles' (OpenCV), as soon as any box on either side is turned.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate

import krippendorff
import numpy as np
from scipy.optimize import linear_sum_assignment

from labeling.work.oriented import rotated_iou_matrix


@dataclass(frozen=True)
class ComparisonParams:
    """How two annotations are compared; projects set these, the defaults are CVAT's."""

    iou_threshold: float = 0.5
    match_classes: bool = True  # a pair with different classes is a confusion, not a match


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in `a` against every box in `b`: shape (len(a), len(b)). Rows of five
    (x, y, w, h, angle) are oriented boxes; a turned one anywhere makes it the rotated IoU."""
    a, b = _rows(a), _rows(b)
    if a.shape[1] == 5 or b.shape[1] == 5:
        a, b = _five(a), _five(b)
        if len(a) and len(b) and (np.any(a[:, 4]) or np.any(b[:, 4])):
            return rotated_iou_matrix(a, b)
    a, b = a[:, :4], b[:, :4]
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    ax1, ay1, ax2, ay2 = a[:, 0:1], a[:, 1:2], a[:, 0:1] + a[:, 2:3], a[:, 1:2] + a[:, 3:4]
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.maximum(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0)  # what np.clip(…, 0, None) calls
    ih = np.maximum(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0)
    inter = iw * ih
    union = (a[:, 2:3] * a[:, 3:4]) + (b[:, 2] * b[:, 3]) - inter
    positive = union > 0
    return np.where(positive, inter / np.where(positive, union, 1), 0.0)


def _rows(boxes) -> np.ndarray:
    """Boxes as rows of 4 (or 5 where given with angles)."""
    boxes = np.asarray(boxes, dtype=float)
    return boxes.reshape(-1, 5 if boxes.ndim == 2 and boxes.shape[1] == 5 else 4)


def _five(boxes: np.ndarray) -> np.ndarray:
    """Boxes as (n, 5) rows, angle 0 (or NaN: a plain box) for the axis-aligned ones."""
    if boxes.shape[1] == 4:
        boxes = np.hstack([boxes, np.zeros((len(boxes), 1))])
    return np.nan_to_num(boxes, nan=0.0)


def _assign(iou: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian assignment maximising total IoU among pairs at or above the threshold."""
    if not iou.size:
        return np.empty(0, dtype=int), np.empty(0, dtype=int)
    eligible = iou >= threshold
    rows, cols = linear_sum_assignment(np.where(eligible, -iou, 0.0))
    keep = eligible[rows, cols]
    return rows[keep], cols[keep]


def _unmatched(n: int, matched: np.ndarray) -> np.ndarray:
    """The sorted indices in range(n) that are not in `matched`: np.setdiff1d(np.arange(n),
    matched) without its sorting (a tenth of the time on a frame's few boxes)."""
    free = np.ones(n, dtype=bool)
    free[matched] = False
    return np.flatnonzero(free)


@dataclass
class PairResult:
    matches: np.ndarray  # (k, 2) indices into a and b: same class (or classes ignored)
    ious: np.ndarray  # (k,) IoU of each match
    confusions: list[tuple] = field(default_factory=list)  # (class in a, class in b) of overlapping pairs
    unmatched_a: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    unmatched_b: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    n_a: int = 0
    n_b: int = 0
    #: (k, 2) every pair the IoU links, whatever the classes: the same object seen by both
    linked: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=int))

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
    linked = np.stack([rows, cols], axis=1) if len(rows) else np.empty((0, 2), dtype=int)
    same = a_classes[rows] == b_classes[cols] if len(rows) else np.empty(0, dtype=bool)
    confusions = [(a_classes[r], b_classes[c]) for r, c in zip(rows[~same], cols[~same])]
    if params.match_classes:
        rows, cols = rows[same], cols[same]
    return PairResult(
        matches=np.stack([rows, cols], axis=1) if len(rows) else np.empty((0, 2), dtype=int),
        ious=iou[rows, cols] if len(rows) else np.empty(0),
        confusions=confusions,
        unmatched_a=_unmatched(len(a_classes), rows),
        unmatched_b=_unmatched(len(b_classes), cols),
        n_a=len(a_classes), n_b=len(b_classes), linked=linked,
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


def group_boxes(counts: list[int], links: dict[tuple[int, int], np.ndarray]) -> list[list[tuple[int, int]]]:
    """Join pairwise matches into groups across annotators: one group per object. `counts[i]` is
    how many boxes annotator i drew; `links[(i, j)]` holds the (k, 2) matched index pairs of
    annotators i < j. Returns groups of (annotator, box) in a stable order (by their first box)."""
    offsets = list(accumulate(counts, initial=0))  # Python ints: union-find on numpy scalars is slow
    parent = list(range(offsets[-1]))

    def find(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for (i, j), pairs in links.items():
        for a, b in np.asarray(pairs, dtype=int).reshape(-1, 2).tolist():
            parent[find(offsets[i] + a)] = find(offsets[j] + b)
    groups: dict[int, list[tuple[int, int]]] = {}
    for i, count in enumerate(counts):
        for k in range(count):
            groups.setdefault(find(offsets[i] + k), []).append((i, k))
    return list(groups.values())  # dicts keep insertion order: the order of each group's first box


def pair_links(annotations: list[tuple[np.ndarray, list]], params: ComparisonParams) -> dict:
    """Every pair of annotators' class-agnostic matches (what group_boxes joins)."""
    loose = ComparisonParams(iou_threshold=params.iou_threshold, match_classes=False)
    return {(i, j): match_boxes(annotations[i][0], annotations[i][1], annotations[j][0], annotations[j][1],
                                loose).linked
            for i in range(len(annotations)) for j in range(i + 1, len(annotations))}


def unit_values(groups, classes: list[list], n_annotators: int, missing_as_absent: bool = True) -> list[list]:
    """Per unit (group), each annotator's class key: ABSENT where they drew no box in it (or None,
    "missing", when `missing_as_absent` is False). Where one annotator has two boxes in a group,
    the first counts."""
    filler = ABSENT if missing_as_absent else None
    units = []
    for group in groups:
        row = [filler] * n_annotators
        for i, k in reversed(group):
            row[i] = classes[i][k]
        units.append(row)
    return units


def reliability_matrix(units: list[list]) -> np.ndarray:
    """Units of class keys (ABSENT / None) as Krippendorff's (annotators × units) codes: NaN for
    None, 0 for ABSENT, small integers for classes."""
    codes = {ABSENT: 0}
    n = len(units[0]) if units else 0
    data = np.full((n, len(units)), np.nan)
    for u, row in enumerate(units):
        for i, value in enumerate(row):
            if value is not None:
                data[i, u] = codes.setdefault(value, len(codes))
    return data


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
    groups = group_boxes([len(c) for _, c in annotations], pair_links(annotations, params))
    units = unit_values(groups, [list(c) for _, c in annotations], len(annotations), missing_as_absent)
    if not units:
        return np.full((len(annotations), 0), np.nan)
    return reliability_matrix(units)


# ------------------------------------------------------------------------------ one frame, all annotators

@dataclass
class Labels:
    """One annotator's labels on one frame."""

    annotator: int
    boxes: np.ndarray  # (n, 4) x, y, w, h; (n, 5) with the angle where any box is oriented
    classes: list  # class key per box
    tags: dict = field(default_factory=dict)  # tag class key -> value ("set", or "changed"/"unchanged")
    attributes: list = field(default_factory=list)  # attributes per box
    tracks: list = field(default_factory=list)  # track id (or None) per box
    tag_attributes: dict = field(default_factory=dict)  # tag class key -> its attributes


@dataclass
class FrameResult:
    pairs: list  # (i, j, PairResult) for annotators i < j, i as reference
    groups: list  # groups of (annotator, box): one per object anyone drew
    units: list  # per group, each annotator's class (ABSENT where they drew none)
    tag_units: dict  # tag key -> each annotator's value (ABSENT where not set)
    box_score: float | None  # mean pair F1; None with fewer than two annotators
    tag_score: float | None  # share of tags everyone agrees on; None when nobody set one
    #: "class.attribute" -> per object, each annotator's numeric value (None where not given)
    attribute_units: dict = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        """The frame's agreement: the lower of boxes and tags (a tag dispute is a dispute)."""
        parts = [s for s in (self.box_score, self.tag_score) if s is not None]
        return min(parts) if parts else None


def tag_value(changed: bool | None) -> str:
    return "set" if changed is None else ("changed" if changed else "unchanged")


def frame_agreement(labels: list[Labels], params: ComparisonParams = ComparisonParams()) -> FrameResult:
    """Every pair's box matching, the object groups and the tag votes of one frame: one Hungarian
    matching per pair serves the pair scores, the alpha units and the consensus."""
    pairs, links = [], {}
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            result = match_boxes(labels[i].boxes, labels[i].classes, labels[j].boxes, labels[j].classes, params)
            pairs.append((i, j, result))
            links[(i, j)] = result.linked
    groups = group_boxes([len(x.classes) for x in labels], links)
    units = unit_values(groups, [x.classes for x in labels], len(labels))
    keys = sorted({k for x in labels for k in x.tags})
    tag_units = {k: [x.tags.get(k, ABSENT) for x in labels] for k in keys}
    box_score = float(np.mean([p.f1 for _, _, p in pairs])) if pairs else None
    tag_score = (float(np.mean([len(set(v)) == 1 for v in tag_units.values()]))
                 if tag_units and len(labels) > 1 else None)
    return FrameResult(pairs, groups, units, tag_units, box_score, tag_score, numeric_units(labels, groups))


def numeric_units(labels: list[Labels], groups: list) -> dict:
    """For Krippendorff's alpha at the interval level: per object (group) whose boxes carry a
    numeric attribute, each annotator's value, keyed "class.attribute" by the class of the
    group's first box. Only objects where two or more annotators gave a value are kept."""
    out: dict[str, list] = {}
    for group in groups:
        first_i, first_k = group[0]
        if not labels[first_i].attributes:
            continue
        values: dict[str, list] = {}
        for i, k in group:
            attrs = labels[i].attributes[k] if k < len(labels[i].attributes) else {}
            for key, value in attrs.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    row = values.setdefault(key, [None] * len(labels))
                    if row[i] is None:
                        row[i] = float(value)
        for key, row in values.items():
            if sum(v is not None for v in row) >= 2:
                out.setdefault(f"{labels[first_i].classes[first_k]}.{key}", []).append(row)
    return out
