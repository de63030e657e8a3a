"""Annotators' work: validating a submission against the pinned ontology version, storing it as
an append-only revision, drafts, and edits with optimistic concurrency.

A payload is what the labeling page sends:
    {"boxes": [{"class": "person", "x": 10, "y": 20, "w": 30, "h": 40,
                "attributes": {"posture": "walking"}, "track_id": 3}],
     "tags": [{"class": "crowd"}, {"class": "scene_change", "changed": true}]}
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q
from django.dispatch import Signal
from django.utils import timezone

from ontology.attributes import AttributeSchemaError, validate_values
from ontology.models import LabelClass

from . import audit, roles
from .models import Annotation, AnnotationBox, AnnotationTag, Assignment, Draft, Frame, Membership, QueueItem

#: sent after a submission commits (agreement listens: the overlap-th submission triggers it)
annotation_submitted = Signal()

MAX_BOXES = 2000
MAX_DRAFT_BYTES = 1_000_000


class SubmissionError(ValueError):
    """Bad input: names the field (e.g. boxes[2].w) and what is wrong. Nothing was saved."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class NotYours(LookupError):
    """The assignment does not exist for this person (answered 404: existence does not leak)."""


class Conflict(Exception):
    """The revision changed since it was loaded: nothing was overwritten."""

    def __init__(self, current: Annotation, yours: dict):
        super().__init__(f"annotation {current.pk} (revision {current.revision}) has changed since you loaded it")
        self.current, self.yours = current, yours


@dataclass
class CleanBox:
    label_class: LabelClass
    x: float
    y: float
    w: float
    h: float
    attributes: dict
    track_id: int | None


@dataclass
class CleanTag:
    label_class: LabelClass
    attributes: dict
    changed: bool | None


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SubmissionError(field, "must be a number")
    return float(value)


def _label_of(raw, where: str, classes: dict[str, LabelClass], *, not_kind: str, wrong: str) -> LabelClass:
    if not isinstance(raw, dict):
        raise SubmissionError(where, "must be an object")
    label = classes.get(raw.get("class"))
    if label is None:
        raise SubmissionError(f"{where}.class", f"'{raw.get('class')}' is not a class of this ontology version")
    if label.kind == not_kind:
        raise SubmissionError(f"{where}.class", f"'{label.key}' is {wrong}")
    return label


def _attributes(label: LabelClass, raw: dict, where: str) -> dict:
    try:
        return validate_values(label.attributes, raw.get("attributes"), where=f"{where}.attributes")
    except AttributeSchemaError as exc:
        raise SubmissionError(exc.field, exc.reason) from None


def validate(payload, classes: dict[str, LabelClass], frame: Frame) -> tuple[list[CleanBox], list[CleanTag]]:
    """Check a payload against the ontology version's classes and the frame's size."""
    if not isinstance(payload, dict):
        raise SubmissionError("", "the submission must be an object with 'boxes' and 'tags'")
    unknown = set(payload) - {"boxes", "tags", "base_revision", "note"}
    if unknown:
        raise SubmissionError(sorted(unknown)[0], "is not a field of a submission")
    boxes_in, tags_in = payload.get("boxes", []), payload.get("tags", [])
    if not isinstance(boxes_in, list):
        raise SubmissionError("boxes", "must be a list")
    if not isinstance(tags_in, list):
        raise SubmissionError("tags", "must be a list")
    if len(boxes_in) > MAX_BOXES:
        raise SubmissionError("boxes", f"at most {MAX_BOXES} boxes per frame")
    boxes, tracks = [], set()
    for i, raw in enumerate(boxes_in):
        where = f"boxes[{i}]"
        label = _label_of(raw, where, classes, not_kind=LabelClass.TAG, wrong="a frame tag, not a box class")
        x, y = _number(raw.get("x"), f"{where}.x"), _number(raw.get("y"), f"{where}.y")
        w, h = _number(raw.get("w"), f"{where}.w"), _number(raw.get("h"), f"{where}.h")
        if w <= 0:
            raise SubmissionError(f"{where}.w", "must be positive")
        if h <= 0:
            raise SubmissionError(f"{where}.h", "must be positive")
        if x < 0 or y < 0 or x + w > frame.width + 1e-6 or y + h > frame.height + 1e-6:
            raise SubmissionError(where, f"lies outside the {frame.width}×{frame.height} frame")
        track = raw.get("track_id")
        if track is not None:
            if isinstance(track, bool) or not isinstance(track, int) or track < 1:
                raise SubmissionError(f"{where}.track_id", "must be a positive integer or null")
            if track in tracks:
                raise SubmissionError(f"{where}.track_id", f"track {track} already has a box on this frame")
            tracks.add(track)
        attributes = _attributes(label, raw, where)
        boxes.append(CleanBox(label, x, y, w, h, attributes, track))
    tags, seen = [], set()
    for i, raw in enumerate(tags_in):
        where = f"tags[{i}]"
        label = _label_of(raw, where, classes, not_kind=LabelClass.BOX, wrong="a box class, not a frame tag")
        if label.key in seen:
            raise SubmissionError(f"{where}.class", f"'{label.key}' is given twice")
        seen.add(label.key)
        changed = raw.get("changed")
        if label.kind == LabelClass.CHANGE:
            if not isinstance(changed, bool):
                raise SubmissionError(f"{where}.changed", "say whether the frame changed (true or false)")
        elif changed is not None:
            raise SubmissionError(f"{where}.changed", f"only change classes take a verdict; '{label.key}' is a tag")
        attributes = _attributes(label, raw, where)
        tags.append(CleanTag(label, attributes, changed))
    verdicts = {t.label_class.key: t.changed for t in tags if t.label_class.kind == LabelClass.CHANGE}
    for i, box in enumerate(boxes):
        if box.label_class.kind == LabelClass.CHANGE and verdicts.get(box.label_class.key) is not True:
            raise SubmissionError(f"boxes[{i}].class",
                                  f"a '{box.label_class.key}' region needs the frame marked as changed")
    return boxes, tags


_published: dict[int, dict[str, LabelClass]] = {}


def classes_of(version_id: int) -> dict[str, LabelClass]:
    """The classes of an ontology version by key; published versions are immutable, so they are
    read once per process."""
    if version_id in _published:
        return _published[version_id]
    classes = {c.key: c for c in LabelClass.objects.filter(version_id=version_id).select_related("version")}
    if classes and next(iter(classes.values())).version.is_published:
        _published[version_id] = classes
    return classes


def keyframe_fields(frame: Frame, boxes) -> dict:
    """The columns copied onto an annotation row for the track context's index scans."""
    tracks = [b.track_id for b in boxes if b.track_id]
    return {"sequence_id": frame.sequence_id, "frame_index": frame.index, "max_track": max(tracks, default=None)}


def _write(annotation: Annotation, boxes: list[CleanBox], tags: list[CleanTag]) -> None:
    AnnotationBox.objects.bulk_create(
        AnnotationBox(annotation=annotation, label_class=b.label_class, x=b.x, y=b.y, w=b.w, h=b.h,
                      attributes=b.attributes, track_id=b.track_id)
        for b in boxes
    )
    AnnotationTag.objects.bulk_create(
        AnnotationTag(annotation=annotation, label_class=t.label_class, attributes=t.attributes, changed=t.changed)
        for t in tags
    )


def submit(assignment: Assignment, user, payload) -> Annotation:
    """Store an annotator's work on a leased frame. Always kept once valid: a lease that expired
    meanwhile only flags it."""
    with transaction.atomic():
        locked = (Assignment.objects.select_for_update(of=("self",)).select_related("project", "frame")
                  .annotate(member=Exists(Membership.objects.filter(project=OuterRef("project"), user=user)),
                            has_draft=Exists(Draft.objects.filter(assignment=OuterRef("pk"))))
                  .filter(pk=assignment.pk).first())
        if locked is None or locked.annotator_id != user.pk:
            raise NotYours("this assignment belongs to someone else")
        if not locked.member and not roles.is_admin(user):
            raise NotYours("you are no longer a member of this project")
        if locked.status == Assignment.SUBMITTED:
            raise SubmissionError("", "this frame was already submitted; edit your revision instead")
        if locked.status == Assignment.SKIPPED:
            raise SubmissionError("", "you skipped this frame")
        project = locked.project
        boxes, tags = validate(payload, classes_of(project.ontology_version_id), locked.frame)
        now = timezone.now()
        late = locked.status == Assignment.EXPIRED or locked.expires_at <= now
        annotation = Annotation.objects.create(
            **keyframe_fields(locked.frame, boxes),
            project=project, frame=locked.frame, annotator=user, ontology_version_id=project.ontology_version_id,
            status=Annotation.SUBMITTED, source=Annotation.HUMAN, created_by=user, assignment=locked,
            note=str(payload.get("note", ""))[:2000],
        )
        _write(annotation, boxes, tags)
        released = locked.status == Assignment.EXPIRED  # its slot went back to the queue: take it again
        locked.status, locked.finished_at, locked.late = Assignment.SUBMITTED, now, late
        locked.save(update_fields=["status", "finished_at", "late"])
        grow = 1 if released else 0
        QueueItem.objects.filter(pk=locked.item_id).update(
            submitted=F("submitted") + 1, assigned=F("assigned") + grow,
            is_open=ExpressionWrapper(Q(assigned__lt=project.overlap - grow), output_field=BooleanField()),
        )
        if locked.has_draft:
            Draft.objects.filter(assignment=locked).delete()
        audit.record(user, "annotation.submit", annotation,
                     {"frame": locked.frame_id, "boxes": len(boxes), "tags": len(tags), "late": late})
        transaction.on_commit(lambda: annotation_submitted.send(sender=Annotation, annotation=annotation))
    annotation.clean_payload = _payload(annotation, boxes, tags)
    return annotation


def revise(base: Annotation, user, payload) -> Annotation:
    """Edit a submitted annotation: a new revision that supersedes `base`. If `base` is not the
    latest revision any more, nothing is written and Conflict carries both versions."""
    with transaction.atomic():
        locked = Annotation.objects.select_for_update(of=("self",)).select_related("frame").get(pk=base.pk)
        if locked.annotator_id != user.pk:
            raise SubmissionError("", "you can only edit your own annotations")
        head = Annotation.objects.filter(pk=locked.pk, superseded_by__isnull=True).exists()
        if not head:
            raise Conflict(latest_revision(locked), payload)
        boxes, tags = validate(payload, classes_of(locked.ontology_version_id), locked.frame)
        try:
            with transaction.atomic():
                revision = Annotation.objects.create(
                    **keyframe_fields(locked.frame, boxes),
                    project_id=locked.project_id, frame=locked.frame, annotator=user,
                    ontology_version_id=locked.ontology_version_id, revision=locked.revision + 1, supersedes=locked,
                    status=Annotation.SUBMITTED, source=Annotation.HUMAN, created_by=user,
                    assignment_id=locked.assignment_id, note=str(payload.get("note", ""))[:2000],
                )
        except IntegrityError:
            raise Conflict(latest_revision(locked), payload) from None
        _write(revision, boxes, tags)
        audit.record(user, "annotation.revise", revision, {"supersedes": locked.pk, "frame": locked.frame_id})
    return revision


def latest_revision(annotation: Annotation) -> Annotation:
    current = annotation
    while True:
        nxt = Annotation.objects.filter(supersedes=current).first()
        if nxt is None:
            return current
        current = nxt


def save_draft(assignment: Assignment, user, payload) -> Draft:
    """Autosave: any JSON object up to MAX_DRAFT_BYTES, valid or not yet."""
    import json

    if not isinstance(payload, dict):
        raise SubmissionError("", "a draft must be an object")
    if len(json.dumps(payload)) > MAX_DRAFT_BYTES:
        raise SubmissionError("", "the draft is too large")
    if assignment.annotator_id != user.pk:
        raise SubmissionError("", "this assignment belongs to someone else")
    if assignment.status != Assignment.ACTIVE and assignment.status != Assignment.EXPIRED:
        raise SubmissionError("", f"this assignment is {assignment.status}")
    draft, _ = Draft.objects.update_or_create(assignment=assignment, defaults={"payload": payload})
    return draft


def _payload(annotation: Annotation, boxes: list[CleanBox], tags: list[CleanTag]) -> dict:
    """The stored annotation in the page's shape, from what was just validated (no query)."""
    return {
        "id": annotation.pk, "revision": annotation.revision,
        "boxes": [{"class": b.label_class.key, "x": b.x, "y": b.y, "w": b.w, "h": b.h, "attributes": b.attributes,
                   "track_id": b.track_id} for b in boxes],
        "tags": [{"class": t.label_class.key, "attributes": t.attributes,
                  **({"changed": t.changed} if t.changed is not None else {})} for t in tags],
    }


def as_payload(annotation: Annotation) -> dict:
    """An annotation in the same shape the page submits."""
    return {
        "id": annotation.pk,
        "revision": annotation.revision,
        "boxes": [
            {"class": b.label_class.key, "x": b.x, "y": b.y, "w": b.w, "h": b.h, "attributes": b.attributes,
             "track_id": b.track_id}
            for b in annotation.boxes.select_related("label_class").order_by("pk")
        ],
        "tags": [
            {"class": t.label_class.key, "attributes": t.attributes,
             **({"changed": t.changed} if t.changed is not None else {})}
            for t in annotation.tags.select_related("label_class").order_by("pk")
        ],
    }
