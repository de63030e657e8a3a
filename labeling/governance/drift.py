"""Per-annotator drift: how each annotator's box classes differ from the reference (the frame's
approved consensus; for a frame still without approved labels, the majority fusion of its
submissions; or a gold frame's answer), per class and per week, and which
(annotator, A→B) confusions stand out from the other annotators' — the trace a targeted label
flip leaves.

Each submission's boxes are matched to the reference's (Hungarian assignment at IoU ≥ the
project's threshold, classes ignored: `agreement.match_boxes`, as the quality code does); a
matched pair whose classes differ is "truth A labelled as B". Unmatched boxes (missed or extra)
are not confusions and are left out.

The flag (`flag_pairs`, pure): for annotator a and classes A≠B, k of their n boxes matched to a
reference A were labelled B. The baseline is the other annotators' pooled rate for the same pair,
smoothed with half a confusion either way, p0 = (k0 + ½) / (n0 + 1). The pair is flagged when
all hold:
- n ≥ `min_boxes` (too few boxes say nothing);
- the one-sided binomial tail P(X ≥ k | n, p0) is below `alpha` divided by the number of pairs
  tested (Bonferroni: with 3 annotators and 2 classes six pairs are tested, with 10 classes 270);
- the rate k/n is at least `min_excess` above p0 and at least `min_ratio` times p0 (a large
  team makes tiny differences significant; these keep flags to differences a person would act
  on).
Ordinary noise (everyone swaps 2 % of cars and trucks) is shared by the others' baseline and is
not flagged; one person turning 20 % of A into B is."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.stats import binom

from labeling.quality import agreement


@dataclass(frozen=True)
class DriftParams:
    iou_threshold: float = 0.5
    alpha: float = 0.001  # family-wise, before the Bonferroni division
    min_boxes: int = 20
    min_excess: float = 0.05
    min_ratio: float = 2.0


@dataclass
class Flag:
    annotator: int  # an index into the report's annotators
    truth: str
    given: str
    flips: int  # k
    boxes: int  # n
    rate: float
    baseline: float  # the others' smoothed rate p0
    p_value: float

    def as_dict(self, names: dict | None = None, ids: list | None = None) -> dict:
        who = ids[self.annotator] if ids else self.annotator
        return {"annotator": who, "annotator_name": (names or {}).get(who, str(who)), "truth": self.truth,
                "given": self.given, "flips": self.flips, "boxes": self.boxes, "rate": round(self.rate, 4),
                "baseline": round(self.baseline, 4), "p_value": self.p_value}


# ------------------------------------------------------------------------------ pure core

def matched_classes(ref_boxes, ref_classes, boxes, classes, iou_threshold: float = 0.5) -> list[tuple[str, str]]:
    """(reference class, given class) of each box matched to a reference box, classes ignored."""
    pair = agreement.match_boxes(ref_boxes, ref_classes, boxes, classes,
                                 agreement.ComparisonParams(iou_threshold=iou_threshold, match_classes=False))
    return [(ref_classes[r], classes[c]) for r, c in pair.linked]


def confusion_counts(annotator_idx, truth_idx, given_idx, n_annotators: int, n_classes: int) -> np.ndarray:
    """(annotators × truth class × given class) counts of matched boxes."""
    counts = np.zeros((n_annotators, n_classes, n_classes), dtype=np.int64)
    if len(annotator_idx):
        np.add.at(counts, (np.asarray(annotator_idx), np.asarray(truth_idx), np.asarray(given_idx)), 1)
    return counts


def flag_pairs(counts: np.ndarray, classes: list[str], params: DriftParams = DriftParams()) -> list[Flag]:
    """The (annotator, A→B) cells far above the other annotators' rate (see the module's doc)."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 3 or counts.shape[0] < 2 or counts.shape[1] < 2:
        return []  # no one to compare with, or no second class to confuse
    n = counts.sum(axis=2, keepdims=True)  # (a, A, 1): boxes matched to a reference A
    k = counts
    k0 = k.sum(axis=0, keepdims=True) - k
    n0 = n.sum(axis=0, keepdims=True) - n
    p0 = (k0 + 0.5) / (n0 + 1.0)
    n_full = np.broadcast_to(n, k.shape)
    off_diagonal = ~np.eye(counts.shape[1], dtype=bool)[None, :, :]
    tested = off_diagonal & (n_full >= params.min_boxes)
    if not tested.any():
        return []
    rate = np.divide(k, n_full, out=np.zeros(k.shape), where=n_full > 0)
    p_value = binom.sf(k - 1, n_full, np.clip(p0, 1e-12, 1 - 1e-12))
    hit = (tested & (p_value < params.alpha / tested.sum()) & (rate >= p0 + params.min_excess)
           & (rate >= params.min_ratio * p0))
    flags = [Flag(int(a), classes[t], classes[g], int(k[a, t, g]), int(n_full[a, t, g]), float(rate[a, t, g]),
                  float(p0[a, t, g]), float(p_value[a, t, g]))
             for a, t, g in zip(*np.nonzero(hit))]
    return sorted(flags, key=lambda f: f.p_value)


def rate_table(counts: np.ndarray, classes: list[str], min_flips: int = 1) -> list[dict]:
    """One annotator's confusions (truth × given), the off-diagonal cells with any flips."""
    rows = []
    n = counts.sum(axis=1)
    for t, g in zip(*np.nonzero(counts)):
        if t != g and counts[t, g] >= min_flips:
            rows.append({"truth": classes[t], "given": classes[g], "flips": int(counts[t, g]), "boxes": int(n[t]),
                         "rate": round(float(counts[t, g] / n[t]), 4)})
    return sorted(rows, key=lambda r: -r["rate"])


@dataclass
class Report:
    reference: str  # "consensus" or "gold"
    annotators: list[int]
    classes: list[str]
    counts: np.ndarray  # (annotators, classes, classes)
    by_bucket: dict[str, np.ndarray] = field(default_factory=dict)  # week → counts
    flags: list[Flag] = field(default_factory=list)


def build(reference: str, rows: list[tuple[int, str, str, str]], params: DriftParams = DriftParams()) -> Report:
    """A report from (annotator id, bucket, truth class, given class) rows."""
    annotators = sorted({r[0] for r in rows})
    classes = sorted({r[2] for r in rows} | {r[3] for r in rows})
    a_index, c_index = {a: i for i, a in enumerate(annotators)}, {c: i for i, c in enumerate(classes)}
    a = np.array([a_index[r[0]] for r in rows], dtype=int)
    t = np.array([c_index[r[2]] for r in rows], dtype=int)
    g = np.array([c_index[r[3]] for r in rows], dtype=int)
    buckets = np.array([r[1] for r in rows], dtype=object)
    counts = confusion_counts(a, t, g, len(annotators), len(classes))
    by_bucket = {b: confusion_counts(a[buckets == b], t[buckets == b], g[buckets == b], len(annotators),
                                     len(classes)) for b in sorted(set(buckets.tolist()))}
    return Report(reference, annotators, classes, counts, by_bucket, flag_pairs(counts, classes, params))


# ------------------------------------------------------------------------------ from the database

_PAIRS = """
SELECT a.id, a.annotator_id, to_char(date_trunc('week', a.created_at), 'IYYY-"W"IW'), r.id, 'consensus'
FROM labeling_annotation a
JOIN labeling_annotation r ON r.project_id = a.project_id AND r.frame_id = a.frame_id AND r.status = 'approved'
 AND NOT EXISTS (SELECT 1 FROM labeling_annotation n WHERE n.supersedes_id = r.id)
WHERE a.project_id = %(project)s AND a.source = 'human' AND a.annotator_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM labeling_annotation n WHERE n.supersedes_id = a.id)
  AND NOT EXISTS (SELECT 1 FROM labeling_goldframe g WHERE g.project_id = a.project_id AND g.frame_id = a.frame_id
                                                      AND g.active)
UNION ALL
SELECT a.id, a.annotator_id, to_char(date_trunc('week', a.created_at), 'IYYY-"W"IW'), g.answer_id, 'gold'
FROM labeling_annotation a
JOIN labeling_goldframe g ON g.project_id = a.project_id AND g.frame_id = a.frame_id AND g.active
WHERE a.project_id = %(project)s AND a.source = 'human' AND a.annotator_id IS NOT NULL AND a.id <> g.answer_id
  AND NOT EXISTS (SELECT 1 FROM labeling_annotation n WHERE n.supersedes_id = a.id)
"""


# Frames with submissions but no approved labels yet (in review: a flip lowers a frame's
# agreement, so the flipped frames are the ones most often waiting for a QA lead). Leaving them
# out would hide most of a poisoner's flips; their reference is the majority fusion of their
# submissions instead, what the consensus would be.
_UNDECIDED = """
SELECT a.id, a.annotator_id, to_char(date_trunc('week', a.created_at), 'IYYY-"W"IW'), a.frame_id
FROM labeling_annotation a
WHERE a.project_id = %(project)s AND a.source = 'human' AND a.annotator_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM labeling_annotation n WHERE n.supersedes_id = a.id)
  AND NOT EXISTS (SELECT 1 FROM labeling_annotation r WHERE r.project_id = a.project_id AND r.frame_id = a.frame_id
                                                        AND r.status = 'approved')
  AND NOT EXISTS (SELECT 1 FROM labeling_goldframe g WHERE g.project_id = a.project_id AND g.frame_id = a.frame_id
                                                      AND g.active)
ORDER BY a.frame_id, a.annotator_id
"""


def majority_reference(labels: list, project, params: DriftParams) -> tuple[np.ndarray, list[str]]:
    """The consensus boxes several annotators' labels of a frame would fuse to (pure)."""
    from labeling.quality.consensus import fuse

    result = agreement.frame_agreement(labels, agreement.ComparisonParams(iou_threshold=params.iou_threshold))
    fused = fuse(labels, result.groups, result.tag_units, project.consensus_quorum)
    return (np.array([[b.x, b.y, b.w, b.h] for b in fused.boxes], dtype=float).reshape(-1, 4),
            [b.label for b in fused.boxes])


def project_drift(project, params: DriftParams | None = None) -> dict[str, Report]:
    """Reports against consensus and against gold for a project's current submissions."""
    from django.db import connection

    from labeling.quality.labels import load_labels

    params = params or DriftParams(iou_threshold=project.iou_threshold)
    with connection.cursor() as cur:
        cur.execute(_PAIRS, {"project": project.pk})
        pairs = cur.fetchall()
        cur.execute(_UNDECIDED, {"project": project.pk})
        undecided = cur.fetchall()
    loaded = load_labels(sorted({p[0] for p in pairs} | {p[3] for p in pairs} | {u[0] for u in undecided}))
    references = {("approved", p[3]): (loaded[p[3]].boxes[:, :4], loaded[p[3]].classes) for p in pairs}
    by_frame: dict[int, list] = {}
    for ann, annotator, _, frame in undecided:
        loaded[ann].annotator = annotator
        by_frame.setdefault(frame, []).append(loaded[ann])
    for frame, labels in by_frame.items():
        if len(labels) >= 2:  # one annotator alone is no reference
            references[("fused", frame)] = majority_reference(labels, project, params)
    compared = [(ann, annotator, bucket, ("approved", ref), kind) for ann, annotator, bucket, ref, kind in pairs]
    compared += [(ann, annotator, bucket, ("fused", frame), "consensus") for ann, annotator, bucket, frame in undecided
                 if ("fused", frame) in references]
    rows: dict[str, list] = {"consensus": [], "gold": []}
    for ann, annotator, bucket, ref, kind in compared:
        mine = loaded[ann]
        ref_boxes, ref_classes = references[ref]
        if not mine.classes or not ref_classes:
            continue
        for truth, given in matched_classes(ref_boxes, ref_classes, mine.boxes[:, :4], mine.classes,
                                            params.iou_threshold):
            rows[kind].append((annotator, bucket, truth, given))
    return {kind: build(kind, r, params) for kind, r in rows.items()}


def summary(project, params: DriftParams | None = None) -> dict:
    """What the QA page and the API show: flags (with names) and each annotator's confusions."""
    from django.contrib.auth import get_user_model

    reports = project_drift(project, params)
    ids = sorted({a for r in reports.values() for a in r.annotators})
    names = dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
    out = {"flags": [], "annotators": []}
    for kind, report in reports.items():
        out["flags"] += [{**f.as_dict(names, report.annotators), "reference": kind} for f in report.flags]
    for who in ids:
        entry = {"annotator": who, "annotator_name": names.get(who, str(who)), "references": {}}
        for kind, report in reports.items():
            if who not in report.annotators:
                continue
            i = report.annotators.index(who)
            entry["references"][kind] = {
                "boxes": int(report.counts[i].sum()),
                "confusions": rate_table(report.counts[i], report.classes),
                "weeks": [{"week": week, "boxes": int(c[i].sum()),
                           "flips": int(c[i].sum() - np.trace(c[i]))} for week, c in report.by_bucket.items()
                          if c[i].sum()],
            }
        out["annotators"].append(entry)
    return out
