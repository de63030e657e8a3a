"""Training examples: a project's approved labels, and the validation split by sequence.

An example is one frame with its approved head revision (consensus or a QA decision, never a
raw submission): the boxes of the project's ontology version and the frame's tags. Frames whose
approved labels use another ontology version are left out (migrate them first), and counted.
Frames in any evaluation set of the project (labeling.governance.evaluation_sets) are never
training examples; `evaluation_exclusions` says which sets removed how many.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from django.db import connection

from labeling.custody import state as custody
from labeling.models import Annotation, Project


@dataclass
class Example:
    frame_id: int
    sequence_id: int
    index: int
    image_name: str
    width: int
    height: int
    boxes: list[tuple[str, float, float, float, float]] = field(default_factory=list)  # (class key, x, y, w, h)
    tags: set[str] = field(default_factory=set)
    annotation_id: int | None = None  # the approved revision it was read from (training lineage)


_APPROVED = f"""
SELECT a.id, f.id AS frame_id, f.sequence_id, f.index, f.sha256, f.ext, f.width, f.height, a.ontology_version_id,
       {custody.DERIVED_FOR_MODELS_SQL} AS derived_sha256
FROM labeling_annotation a
JOIN labeling_frame f ON f.id = a.frame_id
WHERE a.project_id = %s AND a.status = %s
  AND NOT EXISTS (SELECT 1 FROM labeling_annotation s WHERE s.supersedes_id = a.id)
  AND NOT EXISTS (SELECT 1 FROM labeling_evaluationset e WHERE e.project_id = a.project_id
                  AND a.frame_id = ANY(e.frame_ids))
ORDER BY f.sequence_id, f.index
"""

# what _APPROVED would return but for the evaluation sets, per set holding the frame
_HELD_OUT = """
SELECT e.id, e.name, count(DISTINCT a.frame_id)
FROM labeling_evaluationset e
JOIN labeling_annotation a ON a.project_id = e.project_id AND a.frame_id = ANY(e.frame_ids)
WHERE e.project_id = %s AND a.status = %s AND a.ontology_version_id = %s
  AND NOT EXISTS (SELECT 1 FROM labeling_annotation s WHERE s.supersedes_id = a.id)
GROUP BY e.id, e.name ORDER BY e.id
"""
_HELD_OUT_TOTAL = """
SELECT count(DISTINCT a.frame_id) FROM labeling_annotation a
WHERE a.project_id = %s AND a.status = %s AND a.ontology_version_id = %s
  AND NOT EXISTS (SELECT 1 FROM labeling_annotation s WHERE s.supersedes_id = a.id)
  AND EXISTS (SELECT 1 FROM labeling_evaluationset e WHERE e.project_id = a.project_id
              AND a.frame_id = ANY(e.frame_ids))
"""


def approved_examples(project: Project) -> tuple[list[Example], int]:
    """(examples in the project's ontology version, frames left out for another version)."""
    with connection.cursor() as cur:
        cur.execute(_APPROVED, [project.pk, Annotation.APPROVED])
        rows = cur.fetchall()
        examples: dict[int, Example] = {}
        other = 0
        for ann, frame, seq, index, sha, ext, width, height, ontology_version, derived_sha in rows:
            if ontology_version != project.ontology_version_id:
                other += 1
                continue
            examples[ann] = Example(frame, seq, index, custody.model_image(sha, ext, derived_sha), width, height,
                                    annotation_id=ann)
        if examples:
            cur.execute("""SELECT b.annotation_id, c.key, b.x, b.y, b.w, b.h FROM labeling_annotationbox b
                           JOIN ontology_labelclass c ON c.id = b.label_class_id
                           WHERE b.annotation_id = ANY(%s) ORDER BY b.id""", [list(examples)])
            for ann, key, x, y, w, h in cur.fetchall():
                examples[ann].boxes.append((key, x, y, w, h))
            cur.execute("""SELECT t.annotation_id, c.key FROM labeling_annotationtag t
                           JOIN ontology_labelclass c ON c.id = t.label_class_id
                           WHERE t.annotation_id = ANY(%s) AND c.kind = 'tag'""", [list(examples)])
            for ann, key in cur.fetchall():
                examples[ann].tags.add(key)
    return list(examples.values()), other


def evaluation_exclusions(project: Project) -> dict:
    """Approved frames (in the project's ontology version) that training leaves out because an
    evaluation set holds them: {"frames": total, "sets": [{"id", "name", "frames"}]} (a frame in
    two sets counts once in the total)."""
    args = [project.pk, Annotation.APPROVED, project.ontology_version_id]
    with connection.cursor() as cur:
        cur.execute(_HELD_OUT, args)
        sets = [{"id": i, "name": name, "frames": n} for i, name, n in cur.fetchall()]
        cur.execute(_HELD_OUT_TOTAL, args)
        total = cur.fetchone()[0]
    return {"frames": total, "sets": sets}


def count_approved(project: Project) -> int:
    """How many frames `approved_examples` would return (one query, no boxes read)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM ({_APPROVED}) approved WHERE ontology_version_id = %s",
                    [project.pk, Annotation.APPROVED, project.ontology_version_id])
        return cur.fetchone()[0]


def split_by_sequence(examples: list[Example], val_fraction: float = 0.2, seed: int = 0,
                      gap: int = 10) -> tuple[list[Example], list[Example], str]:
    """Hold out whole sequences for validation: neighbouring frames of one sequence are near
    copies, so a frame-level split would let the model see its validation frames. Sequences are
    shuffled with `seed` and taken until at least `val_fraction` of the examples are held out
    (at least one sequence; at least one stays for training).

    With a single labelled sequence there is nothing to hold out whole: the sequence's last
    `val_fraction` (by frame index) is held out, and training frames within `gap` frames of the
    first held-out frame are dropped so no near copy crosses the border. The method is returned
    ("sequence" or "time-block") and recorded with the model's metrics."""
    if not examples:
        return [], [], "sequence"
    by_seq: dict[int, list[Example]] = {}
    for ex in examples:
        by_seq.setdefault(ex.sequence_id, []).append(ex)
    if len(by_seq) >= 2:
        order = sorted(by_seq)
        random.Random(seed).shuffle(order)
        val_ids: set[int] = set()
        target = max(1, round(val_fraction * len(examples)))
        for seq in order[:-1]:
            if sum(len(by_seq[s]) for s in val_ids) >= target:
                break
            val_ids.add(seq)
        train = [ex for ex in examples if ex.sequence_id not in val_ids]
        val = [ex for ex in examples if ex.sequence_id in val_ids]
        return train, val, "sequence"
    ordered = sorted(examples, key=lambda ex: ex.index)
    n_val = max(1, round(val_fraction * len(ordered))) if len(ordered) > 1 else 0
    val = ordered[len(ordered) - n_val:] if n_val else []
    border = val[0].index if val else None
    train = [ex for ex in ordered[:len(ordered) - n_val] if border is None or ex.index < border - gap]
    return train, val, "time-block"
