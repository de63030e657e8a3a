"""Annotators' work: validating a submission against the pinned ontology version, storing it as
an append-only revision, drafts, and edits with optimistic concurrency.

A payload is what the labeling page sends:
    {"boxes": [{"class": "person", "x": 10, "y": 20, "w": 30, "h": 40,
                "attributes": {"posture": "walking"}, "track_id": 3}],
     "tags": [{"class": "crowd"}, {"class": "scene_change", "changed": true}]}
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone

from labeling import audit
from labeling.access import roles
from labeling.jobs import enqueue
from labeling.models import (
    Annotation,
    AnnotationBox,
    AnnotationTag,
    Assignment,
    Draft,
    Frame,
    ModelVersion,
    Project,
)
from labeling.work import lease_facts, prepared
from labeling.work.lease_facts import LeaseFacts
from labeling.models.built import build
from labeling.models.bulk_copy import as_json, copy_rows
from labeling.work.payloads import (
    CleanBox,
    CleanTag,
    SubmissionError,
    as_payload,
    classes_of,
    payload_of,
    validate,
)

#: sent after a submission commits (agreement listens: the overlap-th submission triggers it), with
#: `annotation` and, for a first submission on a lease, `queue_state` (gold, submitted, overlap)
annotation_submitted = Signal()

MAX_DRAFT_BYTES = 1_000_000


class AlreadySubmitted(SubmissionError):
    """The lease took a submission already: edits are new revisions."""


class NotYours(LookupError):
    """The assignment does not exist for this person (answered 404: existence does not leak)."""


class Conflict(Exception):
    """The revision changed since it was loaded: nothing was overwritten."""

    def __init__(self, current: Annotation, yours: dict):
        super().__init__(f"annotation {current.pk} (revision {current.revision}) has changed since you loaded it")
        self.current, self.yours = current, yours


def keyframe_fields(frame: Frame, boxes) -> dict:
    """The columns copied onto an annotation row for the track context's index scans."""
    tracks = [b.track_id for b in boxes if b.track_id]
    return {"sequence_id": frame.sequence_id, "frame_index": frame.index, "max_track": max(tracks, default=None)}


def _read_lease(assignment_id, user_id: int) -> LeaseFacts | None:
    """Read what a submission needs, in one round trip (no lock: the write re-checks the state
    under its own lock)."""
    row = prepared.fetchone(
            """
            SELECT a.id, a.annotator_id, a.status, a.expires_at, a.item_id, a.project_id,
                   f.id, f.width, f.height, f.sequence_id, f.index, p.ontology_version_id, p.overlap,
                   EXISTS (SELECT 1 FROM labeling_membership m WHERE m.project_id = a.project_id AND m.user_id = %s),
                   p.work_unit
            FROM labeling_assignment a
            JOIN labeling_frame f ON f.id = a.frame_id
            JOIN labeling_project p ON p.id = a.project_id
            WHERE a.id = %s
            """,
            [user_id, int(assignment_id)],
    )
    if row is None:
        return None
    frame = build(Frame, id=row[6], width=row[7], height=row[8], sequence_id=row[9], index=row[10])
    return LeaseFacts(row[0], row[1], row[2], row[3], row[4], row[5], frame, row[11], row[12], row[13], row[14])


def _refuse(lease: LeaseFacts | None, user) -> None:
    """Raise the reason a lease cannot take a submission (if it cannot)."""
    if lease is None or lease.annotator_id != user.pk:
        raise NotYours("this assignment belongs to someone else")
    if not lease.member and not roles.is_admin(user):
        raise NotYours("you are no longer a member of this project")
    if lease.status == Assignment.SUBMITTED:
        raise AlreadySubmitted("", "this frame was already submitted; edit your revision instead")
    if lease.status == Assignment.SKIPPED:
        raise SubmissionError("", "you skipped this frame")
    if lease.status == Assignment.RETURNED:
        raise SubmissionError("", "QA sent this frame back; your submission on it is kept")
    if lease.work_unit == Project.SEGMENT:
        raise SubmissionError("tracks", "this lease is a segment: send its tracks (labeling.work.segments)")


# One statement writes a whole submission: it locks the lease and re-checks that it still takes
# work (active, or expired: late work is kept and flagged) and that what the submission was
# validated against still holds (the lease's frame and item, the project's ontology version,
# overlap and work unit, the person's membership: read just before, or remembered by the process
# that leased the frame, labeling.work.lease_facts), then writes the revision, its boxes
# and tags, the lease, the queue counts, the draft and the audit event (which the database
# queues for the audit chain: labeling.audit.chain). Atomic on its own (no
# BEGIN/COMMIT round trips), and it costs one round trip. Nothing is written if the lease was
# submitted or skipped meanwhile (another tab): the caller then says why.
_STORE_SUBMISSION = """
WITH lease AS (
    SELECT a.id, a.status, a.expires_at, a.item_id FROM labeling_assignment a
    WHERE a.id = %(assignment)s AND a.annotator_id = %(user)s AND a.status IN ('active', 'expired')
      AND a.project_id = %(project)s AND a.frame_id = %(frame)s AND a.item_id = %(item)s
      AND EXISTS (SELECT 1 FROM labeling_project p WHERE p.id = a.project_id AND p.work_unit = 'frame'
                  AND p.ontology_version_id = %(version)s AND p.overlap = %(overlap)s)
      AND (%(admin)s OR EXISTS (SELECT 1 FROM labeling_membership m
                                WHERE m.project_id = a.project_id AND m.user_id = %(user)s))
    FOR UPDATE OF a
), ann AS (
    INSERT INTO labeling_annotation
        (project_id, frame_id, annotator_id, ontology_version_id, revision, supersedes_id, status, source,
         created_at, created_by_id, note, assignment_id, sequence_id, frame_index, max_track)
    SELECT %(project)s, %(frame)s, %(user)s, %(version)s, 1, NULL, 'submitted', 'human',
           %(now)s, %(user)s, %(note)s, lease.id, %(sequence)s, %(frame_index)s, %(max_track)s
    FROM lease
    RETURNING id
), boxes AS (
    INSERT INTO labeling_annotationbox (annotation_id, label_class_id, x, y, w, h, attributes, track_id, source,
                                        model_version_id, keyframe, outside, occluded, angle)
    SELECT ann.id, b.label_class_id, b.x, b.y, b.w, b.h, b.attributes, b.track_id, b.source, b.model_version_id,
           b.keyframe, b.outside, b.occluded, b.angle
    FROM ann, jsonb_to_recordset(%(boxes)s::jsonb)
         AS b(label_class_id bigint, x float8, y float8, w float8, h float8, attributes jsonb, track_id integer,
              source text, model_version_id bigint, keyframe boolean, outside boolean, occluded boolean,
              angle float8)
), tags AS (
    INSERT INTO labeling_annotationtag (annotation_id, label_class_id, attributes, changed)
    SELECT ann.id, t.label_class_id, t.attributes, t.changed
    FROM ann, jsonb_to_recordset(%(tags)s::jsonb) AS t(label_class_id bigint, attributes jsonb, changed boolean)
), done AS (
    UPDATE labeling_assignment a SET status = 'submitted', finished_at = %(now)s,
        late = (lease.status = 'expired' OR lease.expires_at <= %(now)s)
    FROM lease WHERE a.id = lease.id
    RETURNING a.late
), counts AS (
    UPDATE labeling_queueitem qi
    SET submitted = qi.submitted + 1,
        assigned = qi.assigned + (lease.status = 'expired')::int,
        is_open = NOT qi.gold AND qi.assigned + (lease.status = 'expired')::int < %(overlap)s
    FROM lease WHERE qi.id = lease.item_id
    RETURNING qi.submitted, qi.gold
), draft AS (
    DELETE FROM labeling_draft WHERE assignment_id = (SELECT id FROM lease)
), event AS (
    INSERT INTO labeling_auditevent (at, actor_id, verb, object_type, object_id, project_id, data)
    SELECT %(now)s, %(user)s, 'annotation.submit', 'labeling.annotation', ann.id::text, %(project)s,
           jsonb_build_object('frame', %(frame)s, 'boxes', %(n_boxes)s, 'tags', %(n_tags)s, 'late', done.late)
    FROM ann, done
)
SELECT ann.id, counts.submitted, counts.gold, done.late FROM ann, counts, done
"""


@dataclass
class Submitted:
    """An annotator's stored submission: the annotation (built from what was written, without a
    query), whether it came late (its lease had expired: kept and flagged), and the annotation in
    the page's shape."""

    annotation: Annotation
    late: bool
    payload: dict


def submit(assignment: Assignment, user, payload, *, repeat: bool = False) -> Submitted:
    """Store an annotator's work on a leased frame. Always kept once valid: a lease that expired
    meanwhile only flags it (and takes its queue slot back).

    `repeat`: this is the same request run again after its database connection was lost
    (config.middleware), so its first try may have committed: if this lease holds a submission
    already, that stored submission is the answer (the work is never stored twice)."""
    remembered = lease_facts.recall(assignment.pk, user.pk)
    if remembered is not None:  # this process leased it: no read (the write checks what it assumed)
        try:
            _refuse(remembered, user)
            done = _store(remembered, user, payload)
        except SubmissionError:
            done = None  # judged on what may have changed since: judged again on what the database says
        lease_facts.forget(assignment.pk)
        if done is not None:
            return done
    lease = _read_lease(assignment.pk, user.pk)
    try:
        _refuse(lease, user)
    except AlreadySubmitted:
        stored = _first_submission(lease.id, user.pk) if repeat else None
        if stored is None:
            raise
        return Submitted(stored, late=Assignment.objects.filter(pk=lease.id).values_list("late", flat=True).get(),
                         payload=as_payload(stored))
    done = _store(lease, user, payload)
    if done is None:  # the lease changed since it was read: say why, nothing was written
        _refuse(_read_lease(assignment.pk, user.pk), user)
        raise SubmissionError("", "this frame can no longer take a submission")
    return done


def _store(lease: LeaseFacts, user, payload) -> Submitted | None:
    """Validate the work against the lease and write it in one statement; None (nothing written)
    if the lease no longer takes it or no longer is what `lease` says."""
    boxes, tags = validate(payload, classes_of(lease.ontology_version_id), lease.frame)
    check_models(lease.project_id, boxes)
    now = timezone.now()
    note = str(payload.get("note", ""))[:2000]
    keys = keyframe_fields(lease.frame, boxes)
    row = prepared.fetchone(_STORE_SUBMISSION, {
            "project": lease.project_id, "frame": lease.frame.pk, "user": user.pk, "item": lease.item_id,
            "version": lease.ontology_version_id, "now": now, "note": note, "assignment": lease.id,
            "sequence": keys["sequence_id"], "frame_index": keys["frame_index"], "max_track": keys["max_track"],
            "boxes": json.dumps([b.columns() for b in boxes]),
            "tags": json.dumps([{"label_class_id": t.label_class.pk, "attributes": t.attributes,
                                 "changed": t.changed} for t in tags]),
            "n_boxes": len(boxes), "n_tags": len(tags), "overlap": lease.overlap, "admin": roles.is_admin(user),
        })
    if row is None:
        return None
    annotation_id, submitted, gold, late = row
    _flag_sensitive(lease.project_id, lease.frame.pk, annotation_id, boxes, tags, user)
    annotation = build(
        Annotation, {"frame": lease.frame, "annotator": user, "created_by": user},
        id=annotation_id, project_id=lease.project_id, frame_id=lease.frame.pk, annotator_id=user.pk,
        ontology_version_id=lease.ontology_version_id, revision=1, status=Annotation.SUBMITTED,
        source=Annotation.HUMAN, created_at=now, created_by_id=user.pk, note=note, assignment_id=lease.id, **keys,
    )
    # the queue's state goes with the signal: the agreement trigger need not ask again after the commit
    queue_state = (gold, submitted, lease.overlap)
    transaction.on_commit(lambda: annotation_submitted.send(sender=Annotation, annotation=annotation,
                                                            queue_state=queue_state))
    return Submitted(annotation, late, payload_of(annotation, boxes, tags))


def revise(base: Annotation, user, payload) -> Annotation:
    """Edit a submitted annotation: a new revision that supersedes `base`. If `base` is not the
    latest revision any more, nothing is written and Conflict carries both versions."""
    with transaction.atomic():
        locked = Annotation.objects.select_for_update(of=("self",)).select_related("frame").get(pk=base.pk)
        if locked.annotator_id != user.pk:
            raise SubmissionError("", "you can only edit your own annotations")
        head = Annotation.objects.filter(pk=locked.pk, superseded_by__isnull=True).exists()
        if not head:
            raise Conflict(_head_of(locked), payload)
        boxes, tags = validate(payload, classes_of(locked.ontology_version_id), locked.frame)
        check_models(locked.project_id, boxes)
        try:
            with transaction.atomic():
                (revision,) = store_many([Revision(
                    project_id=locked.project_id, frame=locked.frame, boxes=boxes, tags=tags,
                    source=Annotation.HUMAN, status=Annotation.SUBMITTED,
                    ontology_version_id=locked.ontology_version_id, created_by=user, annotator_id=user.pk,
                    supersedes=locked, note=str(payload.get("note", "")), assignment_id=locked.assignment_id)])
        except IntegrityError:  # another tab's revision won the race for this base
            raise Conflict(_head_of(locked), payload) from None
        audit.record(user, "annotation.revise", revision, {"supersedes": locked.pk, "frame": locked.frame_id})
        transaction.on_commit(lambda: annotation_submitted.send(sender=Annotation, annotation=revision))
    return revision


@dataclass
class Revision:
    """One annotation revision written outside a lease: consensus, a QA decision, a gold answer,
    an import, an ontology migration, or an annotator's edit of their own work (`revise`)."""

    project_id: int
    frame: Frame  # pk, sequence_id and index are read
    boxes: list[CleanBox]
    tags: list[CleanTag]
    source: str
    status: str
    ontology_version_id: int
    created_by: object = None  # a user, or None for the system
    annotator_id: int | None = None
    supersedes: Annotation | None = None
    note: str = ""
    assignment_id: int | None = None


def check_models(project_id: int, boxes) -> None:
    """Boxes that name a model version (suggestions, propagation) name one of this project's."""
    named = {b.model_version_id for b in boxes if b.model_version_id}
    if not named:
        return
    known = set(ModelVersion.objects.filter(pk__in=named, project_id=project_id).values_list("pk", flat=True))
    for i, box in enumerate(boxes):
        if box.model_version_id and box.model_version_id not in known:
            raise SubmissionError(f"boxes[{i}].model_version", "is not a model version of this project")


BOX_COLUMNS = ("label_class_id", "x", "y", "w", "h", "attributes", "track_id", "source", "model_version_id",
               "keyframe", "outside", "occluded", "angle")


def _box_row(annotation_id: int, box: CleanBox) -> tuple:
    """A box's row for COPY, in BOX_COLUMNS' order, with the values as the model's fields
    would prepare them (floats, ints, JSON text)."""
    c = box.columns()
    return (annotation_id, c["label_class_id"], float(c["x"]), float(c["y"]), float(c["w"]), float(c["h"]),
            as_json(c["attributes"]), None if c["track_id"] is None else int(c["track_id"]), c["source"],
            c["model_version_id"], c["keyframe"], c["outside"], c["occluded"],
            None if c["angle"] is None else float(c["angle"]))


def store_many(revisions: list[Revision]) -> list[Annotation]:
    """Write revisions, their boxes and tags (three statements however many), and flag frames
    where a sensitive class is used. Every annotation that is not an annotator's first
    submission on a lease is written here (that one is `_STORE_SUBMISSION`). Call inside the
    caller's transaction, which also records the audit event."""
    for r in revisions:
        check_models(r.project_id, r.boxes)
    annotations = Annotation.objects.bulk_create([
        Annotation(**keyframe_fields(r.frame, r.boxes), project_id=r.project_id, frame_id=r.frame.pk,
                   annotator_id=r.annotator_id, ontology_version_id=r.ontology_version_id,
                   revision=r.supersedes.revision + 1 if r.supersedes else 1, supersedes=r.supersedes,
                   status=r.status, source=r.source, note=r.note[:2000], assignment_id=r.assignment_id,
                   created_by=r.created_by if getattr(r.created_by, "is_authenticated", False) else None)
        for r in revisions
    ])
    # COPY: a consensus re-score writes thousands of boxes at once (labeling.models.bulk_copy)
    if any(r.boxes for r in revisions):
        copy_rows(AnnotationBox, ("annotation_id", *BOX_COLUMNS),
                  (_box_row(a.pk, b) for a, r in zip(annotations, revisions) for b in r.boxes))
    if any(r.tags for r in revisions):
        copy_rows(AnnotationTag, ("annotation_id", "label_class_id", "attributes", "changed"),
                  ((a.pk, t.label_class.pk, as_json(t.attributes), t.changed)
                   for a, r in zip(annotations, revisions) for t in r.tags))
    for a, r in zip(annotations, revisions):
        a.frame = r.frame
        _flag_sensitive(r.project_id, r.frame.pk, a.pk, r.boxes, r.tags, r.created_by)
    _follow_redact_classes(revisions)
    return annotations


def _follow_redact_classes(revisions: list[Revision]) -> None:
    """Approved labels in an ontology with `redact` classes may add or drop redaction regions:
    the derived renditions follow, after commit (labeling.redaction.derived.follow_approvals)."""
    frames = [r.frame.pk for r in revisions if r.status == Annotation.APPROVED
              and any(c.redact for c in classes_of(r.ontology_version_id).values())]
    if frames:
        enqueue("redact_frames", frames)


def store(*, project, frame: Frame, boxes: list[CleanBox], tags: list[CleanTag], source: str, status: str,
          created_by, annotator=None, supersedes: Annotation | None = None, note: str = "") -> Annotation:
    """One revision on the project's ontology version (see `store_many`)."""
    return store_many([Revision(
        project_id=project.pk, frame=frame, boxes=boxes, tags=tags, source=source, status=status,
        ontology_version_id=project.ontology_version_id, created_by=created_by,
        annotator_id=getattr(annotator, "pk", annotator), supersedes=supersedes, note=note)])[0]


def _flag_sensitive(project_id: int, frame_id: int, annotation_id: int, boxes, tags, user) -> None:
    """A class flagged sensitive in the ontology makes the frame sensitive from now on (with the
    annotation as the flag's source). Costs nothing when no such class is used."""
    used = [b.label_class for b in boxes if b.label_class.sensitive] + [t.label_class for t in tags
                                                                         if t.label_class.sensitive]
    if used:
        from labeling.protection import flags

        flags.from_annotation(project_id, frame_id, annotation_id, used, user)


def _first_submission(assignment_id: int, user_id: int) -> Annotation | None:
    return Annotation.objects.filter(assignment_id=assignment_id, annotator_id=user_id, revision=1,
                                     source=Annotation.HUMAN).first()


def head_revision(project_id: int, frame_id: int, annotator_id: int) -> Annotation | None:
    """A person's current revision of a frame: history is linear, so it is the one that nothing
    supersedes."""
    return Annotation.objects.filter(project_id=project_id, frame_id=frame_id, annotator_id=annotator_id,
                                     superseded_by__isnull=True).order_by("-pk").first()  # no join for Meta.ordering


def _head_of(annotation: Annotation) -> Annotation:
    return head_revision(annotation.project_id, annotation.frame_id, annotation.annotator_id)


def save_draft(assignment: Assignment, user, payload) -> Draft:
    """Autosave: any JSON object up to MAX_DRAFT_BYTES, valid or not yet."""
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
