"""Loading what the quality checks compare: each annotator's labels of a frame as
`agreement.Labels`, the round's current revisions, and a project's comparison parameters.

Shared by the agreement check (`frame_scoring`), gold checks (`gold`) and the review page
(`review`), which is why it sits below all three."""
from __future__ import annotations

import json

import numpy as np
from django.db import connection

from labeling.models import Annotation, Project
from labeling.quality import agreement
from labeling.quality.agreement import ComparisonParams, Labels
from labeling.quality.consensus import fuse
from labeling.work.payloads import CleanBox, CleanTag, classes_of


def params_of(project: Project) -> ComparisonParams:
    return ComparisonParams(iou_threshold=project.iou_threshold)


# A revision made by a quarantined annotator within the quarantine's range (labeling.governance.
# quarantine): it does not count toward agreement or consensus while the quarantine stands. The
# quarantine table is small (a few rows per project): this is a lookup per head revision.
NOT_QUARANTINED = """
NOT EXISTS (SELECT 1 FROM labeling_quarantine q
            WHERE q.project_id = a.project_id AND q.annotator_id = a.annotator_id AND q.lifted_at IS NULL
              AND a.created_at >= q.starts_at AND a.created_at < q.ends_at)
"""


_ROUND = f"""
SELECT a.frame_id, a.id, a.annotator_id FROM labeling_annotation a
JOIN labeling_assignment s ON s.id = a.assignment_id
WHERE a.project_id = %s AND a.frame_id {{frames}} AND a.source IN ('human', 'migration') AND s.status = 'submitted'
  AND NOT EXISTS (SELECT 1 FROM labeling_annotation n WHERE n.supersedes_id = a.id)
  AND {NOT_QUARANTINED}
ORDER BY a.frame_id, a.annotator_id
"""


# Only an annotator's work carries an assignment: with the join above, a 'migration' revision in a
# round is an ontology migration's copy of a person's labels (the human revision it superseded no
# longer counts, being superseded), never of a consensus or a QA decision.
_ORIGINS = """
WITH RECURSIVE chain(head, id, source, supersedes_id) AS (
    SELECT a.id, a.id, a.source, a.supersedes_id FROM labeling_annotation a WHERE a.id = ANY(%s)
    UNION ALL
    SELECT c.head, p.id, p.source, p.supersedes_id FROM chain c JOIN labeling_annotation p ON p.id = c.supersedes_id
    WHERE c.source = 'migration'
)
SELECT head, source FROM chain WHERE source <> 'migration'
"""


def origin_sources(annotation_ids: list[int]) -> dict[int, str]:
    """What each revision is at its root: an ontology migration's revision (source 'migration')
    is what it copied, followed back through further migrations; any other is its own source."""
    if not annotation_ids:
        return {}
    with connection.cursor() as cur:
        cur.execute(_ORIGINS, [list(annotation_ids)])
        return dict(cur.fetchall())


def by_consensus(heads) -> set[int]:
    """Ids of the approved heads (Annotation rows) that a consensus wrote, directly or as an
    ontology migration's copy of one: a new consensus may replace them; a QA lead's decision
    (or its migrated copy) stays."""
    origins = origin_sources([h.pk for h in heads if h.source == Annotation.MIGRATION])
    return {h.pk for h in heads if (origins.get(h.pk) if h.source == Annotation.MIGRATION else h.source)
            == Annotation.CONSENSUS}


def round_annotations(project_id: int, frame_id: int) -> list[tuple[int, int]]:
    """(annotation id, annotator id) of each annotator's current revision in the frame's current
    round: work on assignments that QA sent back does not count any more, nor work made while
    its annotator is quarantined. The one place agreement and consensus load whose labels count
    (with `round_annotations_many`, the same rule for many frames)."""
    with connection.cursor() as cur:
        cur.execute(_ROUND.format(frames="= %s"), [project_id, frame_id])
        return [(a, u) for _, a, u in cur.fetchall()]


def round_annotations_many(project_id: int, frame_ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    """`round_annotations` of many frames in one query: frame id -> [(annotation id, annotator id)]
    (frames with none left out)."""
    out: dict[int, list[tuple[int, int]]] = {}
    with connection.cursor() as cur:
        cur.execute(_ROUND.format(frames="= ANY(%s)"), [project_id, list(frame_ids)])
        for frame_id, annotation_id, annotator_id in cur.fetchall():
            out.setdefault(frame_id, []).append((annotation_id, annotator_id))
    return out


def labels_of_round(heads: list[tuple[int, int]], loaded: dict[int, Labels]) -> list[Labels]:
    """The Labels of one round's heads (annotation id, annotator id), in the heads' order, each
    with its annotator set: what `outcome.decide` compares."""
    labels = []
    for annotation_id, annotator_id in heads:
        loaded[annotation_id].annotator = annotator_id
        labels.append(loaded[annotation_id])
    return labels


# A box's occlusion and provenance ride along with its attributes under keys no ontology attribute
# can have (those start with a letter), so that the consensus takes them by majority like any
# attribute; `without_provenance` takes them out again before anything is stored or shown.
OCCLUDED, SOURCE = "_occluded", "_source"


def with_provenance(attributes: dict, occluded: bool, source: str, model_version_id: int | None) -> dict:
    extra = {}
    if occluded:
        extra[OCCLUDED] = True
    if source and source != "drawn":
        extra[SOURCE] = f"{source}:{model_version_id or ''}"
    return {**attributes, **extra} if extra else attributes


def without_provenance(attributes: dict) -> tuple[dict, bool, str, int | None]:
    """(the ontology attributes, occluded, source, model version id) of fused attributes."""
    plain = {k: v for k, v in attributes.items() if k not in (OCCLUDED, SOURCE)}
    source, _, model = str(attributes.get(SOURCE, "drawn:")).partition(":")
    return plain, bool(attributes.get(OCCLUDED)), source, int(model) if model.isdigit() else None


def load_labels(annotation_ids: list[int]) -> dict[int, Labels]:
    """Boxes and tags of many annotations in two queries, as agreement.Labels (annotator unset)."""
    out = {a: Labels(annotator=0, boxes=np.empty((0, 4)), classes=[]) for a in annotation_ids}
    coords: dict[int, list] = {a: [] for a in annotation_ids}
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT b.annotation_id, c.key, b.x, b.y, b.w, b.h, NULLIF(b.attributes, '{}'), b.track_id, b.occluded, b.source,
                   b.model_version_id, b.angle
            FROM labeling_annotationbox b JOIN ontology_labelclass c ON c.id = b.label_class_id
            WHERE b.annotation_id = ANY(%s) AND NOT b.outside  -- an outside marker is not an object
            ORDER BY b.annotation_id, b.id
            """,
            [list(annotation_ids)],
        )
        for ann, key, x, y, w, h, attributes, track, occluded, source, model, angle in cur.fetchall():
            out[ann].classes.append(key)
            # most boxes have none: NULL saves parsing "{}" thirty times a frame
            attributes = {} if attributes is None else json.loads(attributes) if isinstance(attributes, str) \
                else attributes
            out[ann].attributes.append(with_provenance(attributes, occluded, source, model))
            out[ann].tracks.append(track)
            coords[ann].append((x, y, w, h, np.nan if angle is None else angle))
        cur.execute(
            """
            SELECT t.annotation_id, c.key, t.changed, t.attributes
            FROM labeling_annotationtag t JOIN ontology_labelclass c ON c.id = t.label_class_id
            WHERE t.annotation_id = ANY(%s)
            """,
            [list(annotation_ids)],
        )
        for ann, key, changed, attributes in cur.fetchall():
            out[ann].tags[key] = agreement.tag_value(changed)
            attributes = json.loads(attributes) if isinstance(attributes, str) else attributes
            if attributes:
                out[ann].tag_attributes[key] = attributes
    for ann, rows in coords.items():
        if rows:  # (n, 5) with the angles where any box is oriented (NaN: an axis-aligned box)
            boxes = np.array(rows, dtype=float)
            out[ann].boxes = boxes if not np.isnan(boxes[:, 4]).all() else boxes[:, :4]
    return out


def fused_labels(project: Project, labels: list[Labels], result) -> tuple[list, list, int]:
    """The consensus of `labels` (one frame, `result` their frame_agreement) as boxes and tags to
    store (occlusion and provenance taken back out of the fused attributes), and how many objects
    fell below the quorum."""
    classes = classes_of(project.ontology_version_id)
    fused = fuse(labels, result.groups, result.tag_units, project.consensus_quorum)
    boxes = []
    for b in fused.boxes:
        attributes, occluded, source, model = without_provenance(b.attributes)
        boxes.append(CleanBox(classes[b.label], b.x, b.y, b.w, b.h, attributes, b.track_id, source, model,
                              None, False, occluded, b.angle))
    tags = [CleanTag(classes[k], fused.tag_attributes.get(k, {}), None if v == "set" else v == "changed")
            for k, v in sorted(fused.tags.items())]
    return boxes, tags, fused.dropped
