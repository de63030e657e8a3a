"""What an export reads: the frames of a project (or of one dataset version) with their current
annotations, in a fixed order, a window of frames at a time.

The snapshot is pinned by an annotation id (`as_of`): history is append-only, so "the revisions
with id ≤ as_of that no revision with id ≤ as_of supersedes" is the same set of annotations
however often it is read, whatever was written since. That makes a job's passes agree with each
other, a retried job write the same bytes, and two exports of the same snapshot identical.

Memory: each window is a few plain queries over FRAME_WINDOW frame positions (index scans on
frame (sequence, index), annotation (project, frame) and box (annotation)); nothing holds more
than one window."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import connection

from labeling.models import Annotation, DatasetVersion, Project, Sequence

FRAME_WINDOW = 2000

#: who an annotation must be from to count, by scope
_WHO = {
    "approved": "a.annotator_id IS NULL AND a.status = 'approved'",
    "raw": "a.annotator_id IS NOT NULL AND a.status <> 'draft'",
}

_HEADS = """
    a.project_id = %(project)s AND a.id <= %(as_of)s AND {who}
    AND NOT EXISTS (SELECT 1 FROM labeling_annotation n WHERE n.supersedes_id = a.id AND n.id <= %(as_of)s)
"""


class ExportError(ValueError):
    """The export cannot be made as asked (nothing was written)."""


class ExportForbidden(ExportError):
    """The person may not have what they asked for (raw frames without raw access)."""


class ExportGone(ExportError):
    """What was asked for was deleted under a retention policy (raw frames, labeling.custody)."""


@dataclass
class Scope:
    project: Project
    scope: str  # "approved" or "raw"
    sequences: list[Sequence]
    as_of: int
    dataset_version: DatasetVersion | None = None
    #: the name each sequence goes by in the export, where not its own (derived data: neutral names)
    names: dict[int, str] = field(default_factory=dict)
    #: what the export keeps of times, positions and names (labeling.redaction.metadata)
    level: str = "full"

    def name_of(self, sequence: Sequence) -> str:
        return self.names.get(sequence.pk, sequence.name)

    @property
    def heads_sql(self) -> str:
        return _HEADS.format(who=_WHO[self.scope])

    def params(self, **extra) -> dict:
        return {"project": self.project.pk, "as_of": self.as_of, **extra}


def latest_annotation_id() -> int:
    return Annotation.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def resolve(project: Project, scope: str, dataset_version: DatasetVersion | None, as_of: int) -> Scope:
    if scope not in _WHO:
        raise ExportError(f"scope: one of {', '.join(_WHO)}")
    if dataset_version is not None:
        if dataset_version.dataset_id != project.dataset_id:
            raise ExportError("dataset_version: a version of this project's dataset")
        sequences = list(dataset_version.sequences.order_by("name"))
    else:
        sequences = list(project.dataset.sequences.filter(status__in=[Sequence.READY, Sequence.PARTIAL])
                         .order_by("name"))
    return Scope(project, scope, sequences, as_of, dataset_version)


def ontology_versions(scope: Scope) -> list[tuple[int, int]]:
    """(ontology version id, annotations) of the annotations in scope."""
    with connection.cursor() as cur:
        cur.execute(
            f"""
            SELECT a.ontology_version_id, count(*) FROM labeling_annotation a
            JOIN labeling_frame f ON f.id = a.frame_id
            WHERE f.sequence_id = ANY(%(sequences)s) AND {scope.heads_sql}
            GROUP BY 1 ORDER BY 1
            """,
            scope.params(sequences=[s.pk for s in scope.sequences]),
        )
        return cur.fetchall()


def annotators(scope: Scope, sequence: Sequence) -> list[tuple[int | None, str | None]]:
    """(user id, username) of everyone with annotations in scope on a sequence, by username."""
    with connection.cursor() as cur:
        cur.execute(
            f"""
            SELECT DISTINCT a.annotator_id, u.username FROM labeling_annotation a
            JOIN labeling_frame f ON f.id = a.frame_id LEFT JOIN auth_user u ON u.id = a.annotator_id
            WHERE f.sequence_id = %(sequence)s AND {scope.heads_sql} ORDER BY u.username NULLS FIRST
            """,
            scope.params(sequence=sequence.pk),
        )
        return cur.fetchall()


class Box(tuple):
    """A box row as read (a tuple: cheap for a million of them): class id, x, y, w, h, track id,
    its attributes as PostgreSQL's JSON text ('{}' for none), its provenance (source, model
    version id), whether it is occluded, and an oriented box's angle (None for others). Outside markers (a track paused) are not read."""

    __slots__ = ()
    class_id = property(lambda self: self[0])
    x = property(lambda self: self[1])
    y = property(lambda self: self[2])
    w = property(lambda self: self[3])
    h = property(lambda self: self[4])
    track_id = property(lambda self: self[5])
    attributes_text = property(lambda self: self[6])
    source = property(lambda self: self[7])
    model_version_id = property(lambda self: self[8])
    occluded = property(lambda self: self[9])
    angle = property(lambda self: self[10])

    @property
    def attributes(self) -> dict:
        return _attrs(self[6])


@dataclass
class Tag:
    class_id: int
    attributes: dict
    changed: bool | None


@dataclass
class Labels:
    annotation_id: int
    annotator: str | None
    source: str
    boxes: list[Box] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)


@dataclass
class FrameLabels:
    frame_id: int
    index: int
    width: int
    height: int
    sha256: str
    ext: str
    labels: list[Labels] = field(default_factory=list)

    @property
    def image_name(self) -> str:
        from labeling.models.footage import blob_path

        return blob_path("frames", self.sha256, self.ext)


def _attrs(text) -> dict:
    if text is None or text == "{}":
        return {}
    return json.loads(text) if isinstance(text, str) else text


def frames(scope: Scope, sequence: Sequence, *, boxes: bool = True, tags: bool = True,
           annotator_id: int | None | bool = False, window: int = FRAME_WINDOW):
    """The frames of `sequence` that have annotations in scope, in index order, each with its
    annotations (by annotator name, then id), their boxes and tags (in the order drawn).
    `annotator_id` (raw scope) keeps one annotator's; False keeps everyone's."""
    with connection.cursor() as cur:
        cur.execute("SELECT max(index) FROM labeling_frame WHERE sequence_id = %s", [sequence.pk])
        last = cur.fetchone()[0]
        if last is None:
            return
        who = "" if annotator_id is False else "AND a.annotator_id = %(annotator)s"
        for lo in range(0, last + 1, window):
            cur.execute(
                f"""
                SELECT f.id, f.index, f.width, f.height, f.sha256, f.ext, a.id, u.username, a.source
                FROM labeling_frame f JOIN labeling_annotation a ON a.frame_id = f.id
                LEFT JOIN auth_user u ON u.id = a.annotator_id
                WHERE f.sequence_id = %(sequence)s AND f.index >= %(lo)s AND f.index < %(hi)s
                  AND {scope.heads_sql} {who}
                ORDER BY f.index, u.username NULLS FIRST, a.id
                """,
                scope.params(sequence=sequence.pk, lo=lo, hi=lo + window, annotator=annotator_id),
            )
            rows = cur.fetchall()
            if not rows:
                continue
            chunk: list[FrameLabels] = []
            by_annotation: dict[int, Labels] = {}
            for frame_id, index, width, height, sha, ext, ann_id, username, source in rows:
                if not chunk or chunk[-1].frame_id != frame_id:
                    chunk.append(FrameLabels(frame_id, index, width, height, sha, ext))
                labels = Labels(ann_id, username, source)
                chunk[-1].labels.append(labels)
                by_annotation[ann_id] = labels
            ids = list(by_annotation)
            if boxes:
                cur.execute(
                    """
                    SELECT annotation_id, label_class_id, x, y, w, h, track_id, attributes::text, source,
                           model_version_id, occluded, angle
                    FROM labeling_annotationbox WHERE annotation_id = ANY(%s) AND NOT outside
                    ORDER BY annotation_id, id
                    """,
                    [ids],
                )
                for row in cur.fetchall():
                    by_annotation[row[0]].boxes.append(Box(row[1:]))
            if tags:
                cur.execute(
                    """
                    SELECT annotation_id, label_class_id, attributes::text, changed
                    FROM labeling_annotationtag WHERE annotation_id = ANY(%s) ORDER BY annotation_id, id
                    """,
                    [ids],
                )
                for ann_id, class_id, attributes, changed in cur.fetchall():
                    by_annotation[ann_id].tags.append(Tag(class_id, _attrs(attributes), changed))
            yield from chunk


def count_frames(scope: Scope) -> int:
    """Frames with annotations in scope (the job's progress denominator)."""
    with connection.cursor() as cur:
        cur.execute(
            f"""
            SELECT count(DISTINCT a.frame_id) FROM labeling_annotation a JOIN labeling_frame f ON f.id = a.frame_id
            WHERE f.sequence_id = ANY(%(sequences)s) AND {scope.heads_sql}
            """,
            scope.params(sequences=[s.pk for s in scope.sequences]),
        )
        return cur.fetchone()[0]
