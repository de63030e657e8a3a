"""What a frame's agreement decides, with no database: the one set of rules that the per-frame
check (`frame_scoring.evaluate_frame`) and the bulk re-scoring (`bulk_scoring.evaluate_batch`)
share, so that the two can never disagree about a frame.

Given each annotator's labels of one round, `decide` scores them (`agreement.frame_agreement`),
says whether the frame passes the project's threshold, and what to store: the per-pair rows and
the classes in dispute. `same_labels` says whether a freshly fused consensus equals the one
already stored (then no new revision is written)."""
from __future__ import annotations

import json
from dataclasses import dataclass

from labeling.quality import agreement
from labeling.quality.agreement import ComparisonParams, Labels

#: the note a consensus revision carries
CONSENSUS_NOTE = "consensus of {n} annotators"


@dataclass
class Outcome:
    result: agreement.FrameResult
    passed: bool

    @property
    def score(self) -> float | None:
        return self.result.score


def decide(labels: list[Labels], params: ComparisonParams, threshold: float) -> Outcome:
    """Score one frame's round and say whether it passes (no score at all, e.g. nobody drew or
    tagged anything: nothing to dispute, it passes)."""
    result = agreement.frame_agreement(labels, params)
    return Outcome(result, result.score is None or result.score >= threshold)


def frame_values(outcome: Outcome) -> dict:
    """The FrameAgreement columns the outcome sets (besides its keys and time)."""
    r = outcome.result
    return dict(score=r.score, box_score=r.box_score, tag_score=r.tag_score, units=r.units, tag_units=r.tag_units,
                attribute_units=r.attribute_units, passed=outcome.passed)


def pair_values(labels: list[Labels], result: agreement.FrameResult) -> list[dict]:
    """Per annotator pair, the PairAgreement columns (besides its frame agreement and project)."""
    rows = []
    for i, j, pair in result.pairs:
        per_class: dict[str, list[int]] = {}
        for k in labels[i].classes:
            per_class.setdefault(k, [0, 0, 0])[1] += 1
        for k in labels[j].classes:
            per_class.setdefault(k, [0, 0, 0])[2] += 1
        for a, _ in pair.matches:
            per_class[labels[i].classes[a]][0] += 1
        rows.append(dict(
            annotator_a_id=labels[i].annotator, annotator_b_id=labels[j].annotator, precision=pair.precision,
            recall=pair.recall, f1=pair.f1, mean_iou=pair.mean_iou, matched=pair.tp, n_a=pair.n_a, n_b=pair.n_b,
            confusions=[[str(a), str(b)] for a, b in pair.confusions], per_class=per_class,
        ))
    return rows


def disputed_classes(result: agreement.FrameResult) -> list[str]:
    """Classes involved in a disagreement: objects not everyone drew, confusions, split tags."""
    found = set()
    for row in result.units:
        if len(set(row)) > 1:
            found.update(v for v in row if v not in (agreement.ABSENT, None))
    for key, values in result.tag_units.items():
        if len(set(values)) > 1:
            found.add(key)
    return sorted(found)


def compute_audit(frame_id: int, round_: int, outcome: Outcome, annotation_ids: list[int]) -> dict:
    """The data of the `agreement.compute` audit event."""
    return {"frame": frame_id, "round": round_, "score": outcome.score, "passed": outcome.passed,
            "annotations": list(annotation_ids)}


def same_labels(stored: dict, boxes: list, tags: list) -> bool:
    """Do the fused `boxes` and `tags` (CleanBox, CleanTag) equal `stored` (an annotation in the
    page's shape: labeling.work.payloads.as_payload)? Coordinates to the thousandth of a pixel."""
    mine = sorted((b.label_class.key, round(b.x, 3), round(b.y, 3), round(b.w, 3), round(b.h, 3), b.track_id,
                   json.dumps(b.attributes, sort_keys=True)) for b in boxes)
    theirs = sorted((b["class"], round(b["x"], 3), round(b["y"], 3), round(b["w"], 3), round(b["h"], 3),
                     b["track_id"], json.dumps(b["attributes"], sort_keys=True)) for b in stored["boxes"])
    return mine == theirs and sorted(
        (t.label_class.key, t.changed, json.dumps(t.attributes, sort_keys=True)) for t in tags) == sorted(
        (t["class"], t.get("changed"), json.dumps(t.get("attributes") or {}, sort_keys=True)) for t in stored["tags"])
