"""What an annotator sends and gets back for one frame: the payload's shape, its validation against
the pinned ontology version and the frame's size, and an annotation turned back into a payload.

    {"boxes": [{"class": "person", "x": 10, "y": 20, "w": 30, "h": 40, "attributes": {"posture": "walking"},
                "track_id": 3, "source": "suggestion", "model_version": 7},
               {"class": "ship", "x": 100, "y": 50, "w": 80, "h": 20, "angle": -30}],
     "tags": [{"class": "crowd"}, {"class": "scene_change", "changed": true}]}

A box of an oriented class (kind obox) may carry `angle` (degrees clockwise, normalised to
(-90, 90]; 0 when left out): x, y, w, h are then its unrotated rectangle, and it is its turned
corners that must lie in the frame (within ORIENTED_TOLERANCE px, the editor's rounding). Any
other box with an `angle` is refused.

Pure checks over the classes (read once per published version); writes are in `submissions`."""
from __future__ import annotations

import math
from dataclasses import dataclass

from labeling.models import Annotation, AnnotationBox, Frame
from labeling.work import oriented
from ontology.attributes import AttributeSchemaError, validate_values
from ontology.models import LabelClass

MAX_BOXES = 2000
MAX_TRACK_ID = 2**31 - 1  # the column is a PostgreSQL integer
ORIENTED_TOLERANCE = 0.05  # px an oriented box's corner may pass the frame edge (0.01 px rounding, turned)


class SubmissionError(ValueError):
    """Bad input: names the field (e.g. boxes[2].w) and what is wrong. Nothing was saved."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


#: where a box came from, as the page may say: drawn, a model suggestion accepted as it was or
#: adjusted, or propagated by a tracker (interpolated boxes are made by the server, in segments)
SOURCES = {AnnotationBox.DRAWN, AnnotationBox.SUGGESTION, AnnotationBox.ADJUSTED, AnnotationBox.PROPAGATED}


@dataclass
class CleanBox:
    label_class: LabelClass
    x: float
    y: float
    w: float
    h: float
    attributes: dict
    track_id: int | None
    source: str = AnnotationBox.DRAWN
    model_version_id: int | None = None
    keyframe: bool | None = None  # segments: placed by a person (True) or interpolated (False)
    outside: bool = False
    occluded: bool = False
    angle: float | None = None  # an oriented box's (labeling.work.oriented); None for any other

    def columns(self) -> dict:
        """The box's columns as the database stores them (label class by id)."""
        return {"label_class_id": self.label_class.pk, "x": self.x, "y": self.y, "w": self.w, "h": self.h,
                "attributes": self.attributes, "track_id": self.track_id, "source": self.source,
                "model_version_id": self.model_version_id, "keyframe": self.keyframe, "outside": self.outside,
                "occluded": self.occluded, "angle": self.angle}

    def as_dict(self) -> dict:
        """The box in the page's shape (provenance only where it is not the default)."""
        out = {"class": self.label_class.key, "x": self.x, "y": self.y, "w": self.w, "h": self.h,
               "attributes": self.attributes, "track_id": self.track_id}
        if self.angle is not None:
            out["angle"] = self.angle
        if self.source != AnnotationBox.DRAWN:
            out["source"] = self.source
        if self.model_version_id:
            out["model_version"] = self.model_version_id
        for flag in ("outside", "occluded"):
            if getattr(self, flag):
                out[flag] = True
        if self.keyframe is not None:
            out["keyframe"] = self.keyframe
        return out


def provenance(raw: dict, where: str) -> tuple[str, int | None]:
    """A box's `source` and `model_version` as sent (drawn and none when absent)."""
    source = raw.get("source", AnnotationBox.DRAWN)
    if source not in SOURCES:
        raise SubmissionError(f"{where}.source", f"one of {', '.join(sorted(SOURCES))}")
    model = raw.get("model_version")
    if model is not None and (isinstance(model, bool) or not isinstance(model, int) or not 1 <= model <= 2**62):
        raise SubmissionError(f"{where}.model_version", "the id of a model version, or null")
    if source in (AnnotationBox.SUGGESTION, AnnotationBox.ADJUSTED) and model is None:
        raise SubmissionError(f"{where}.model_version", "a suggestion says which model version made it")
    return source, model


@dataclass
class CleanTag:
    label_class: LabelClass
    attributes: dict
    changed: bool | None


def number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SubmissionError(field, "must be a number")
    return float(value)


def label_of(raw, where: str, classes: dict[str, LabelClass], *, not_kind: str | tuple, wrong: str) -> LabelClass:
    if not isinstance(raw, dict):
        raise SubmissionError(where, "must be an object")
    label = classes.get(raw.get("class"))
    if label is None:
        raise SubmissionError(f"{where}.class", f"'{raw.get('class')}' is not a class of this ontology version")
    if label.kind in ((not_kind,) if isinstance(not_kind, str) else not_kind):
        raise SubmissionError(f"{where}.class", f"'{label.key}' is {wrong}")
    return label


def attribute_values(label: LabelClass, raw: dict, where: str) -> dict:
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
        label = label_of(raw, where, classes, not_kind=LabelClass.TAG, wrong="a frame tag, not a box class")
        x, y = number(raw.get("x"), f"{where}.x"), number(raw.get("y"), f"{where}.y")
        w, h = number(raw.get("w"), f"{where}.w"), number(raw.get("h"), f"{where}.h")
        if w <= 0:
            raise SubmissionError(f"{where}.w", "must be positive")
        if h <= 0:
            raise SubmissionError(f"{where}.h", "must be positive")
        angle = angle_of(raw, label, where)
        if angle is not None:
            if not oriented.inside(x, y, w, h, angle, frame.width, frame.height, ORIENTED_TOLERANCE):
                raise SubmissionError(where, f"a corner of the turned box lies outside the {frame.width}×{frame.height} "
                                             f"frame")
        elif x < 0 or y < 0 or x + w > frame.width + 1e-6 or y + h > frame.height + 1e-6:
            raise SubmissionError(where, f"lies outside the {frame.width}×{frame.height} frame")
        track = raw.get("track_id")
        if track is not None:
            if isinstance(track, bool) or not isinstance(track, int) or not 1 <= track <= MAX_TRACK_ID:
                raise SubmissionError(f"{where}.track_id",
                                      f"must be a positive integer (at most {MAX_TRACK_ID}) or null")
            if track in tracks:
                raise SubmissionError(f"{where}.track_id", f"track {track} already has a box on this frame")
            tracks.add(track)
        attributes = attribute_values(label, raw, where)
        source, model = provenance(raw, where)
        occluded = raw.get("occluded", False)
        if not isinstance(occluded, bool):
            raise SubmissionError(f"{where}.occluded", "true or false")
        boxes.append(CleanBox(label, x, y, w, h, attributes, track, source, model, occluded=occluded, angle=angle))
    tags, seen = [], set()
    for i, raw in enumerate(tags_in):
        where = f"tags[{i}]"
        label = label_of(raw, where, classes, not_kind=(LabelClass.BOX, LabelClass.OBOX),
                         wrong="a box class, not a frame tag")
        if label.key in seen:
            raise SubmissionError(f"{where}.class", f"'{label.key}' is given twice")
        seen.add(label.key)
        changed = raw.get("changed")
        if label.kind == LabelClass.CHANGE:
            if not isinstance(changed, bool):
                raise SubmissionError(f"{where}.changed", "say whether the frame changed (true or false)")
        elif changed is not None:
            raise SubmissionError(f"{where}.changed", f"only change classes take a verdict; '{label.key}' is a tag")
        attributes = attribute_values(label, raw, where)
        tags.append(CleanTag(label, attributes, changed))
    verdicts = {t.label_class.key: t.changed for t in tags if t.label_class.kind == LabelClass.CHANGE}
    for i, box in enumerate(boxes):
        if box.label_class.kind == LabelClass.CHANGE and verdicts.get(box.label_class.key) is not True:
            raise SubmissionError(f"boxes[{i}].class",
                                  f"a '{box.label_class.key}' region needs the frame marked as changed")
    return boxes, tags


def angle_of(raw: dict, label: LabelClass, where: str) -> float | None:
    """An oriented class's box angle, normalised (0 if not given); None for other classes,
    which may not have one."""
    if label.kind != LabelClass.OBOX:
        if raw.get("angle") is not None:
            raise SubmissionError(f"{where}.angle", f"'{label.key}' is an axis-aligned {label.kind} class: only "
                                                    f"oriented box classes (kind obox) take an angle")
        return None
    if raw.get("angle") is None:
        return 0.0
    return oriented.normalize_angle(number(raw["angle"], f"{where}.angle"))


_published: dict[int, dict[str, LabelClass]] = {}


def classes_of(version_id: int) -> dict[str, LabelClass]:
    """The classes of an ontology version by key, in the ontology's order; published versions
    are immutable, so they are read once per process."""
    if version_id in _published:
        return _published[version_id]
    classes = {c.key: c for c in LabelClass.objects.filter(version_id=version_id).select_related("version")
               .order_by("order", "key")}
    if classes and next(iter(classes.values())).version.is_published:
        _published[version_id] = classes
    return classes


def clean_from(annotation: Annotation) -> tuple[list[CleanBox], list[CleanTag]]:
    """An annotation's stored boxes and tags, ready to be written again (e.g. accepted by QA)."""
    boxes = [stored_box(b) for b in annotation.boxes.select_related("label_class").order_by("pk")]
    tags = [CleanTag(t.label_class, t.attributes, t.changed)
            for t in annotation.tags.select_related("label_class").order_by("pk")]
    return boxes, tags


def stored_box(b: AnnotationBox) -> CleanBox:
    return CleanBox(b.label_class, b.x, b.y, b.w, b.h, b.attributes, b.track_id, b.source, b.model_version_id,
                    b.keyframe, b.outside, b.occluded, b.angle)


def payload_of(annotation: Annotation, boxes: list[CleanBox], tags: list[CleanTag]) -> dict:
    """The stored annotation in the page's shape, from what was just validated (no query)."""
    return {
        "id": annotation.pk, "revision": annotation.revision,
        "boxes": [b.as_dict() for b in boxes],
        "tags": [{"class": t.label_class.key, "attributes": t.attributes,
                  **({"changed": t.changed} if t.changed is not None else {})} for t in tags],
    }


def as_payload(annotation: Annotation) -> dict:
    """An annotation in the same shape the page submits."""
    return {
        "id": annotation.pk,
        "revision": annotation.revision,
        "boxes": [stored_box(b).as_dict() for b in annotation.boxes.select_related("label_class").order_by("pk")],
        "tags": [
            {"class": t.label_class.key, "attributes": t.attributes,
             **({"changed": t.changed} if t.changed is not None else {})}
            for t in annotation.tags.select_related("label_class").order_by("pk")
        ],
    }
