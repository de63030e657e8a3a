"""Segment work in the database: what the segment page gets, a segment's submission, and edits of
it. The tracks themselves are checked and expanded by `segment_tracks` (pure).

A segment submission is stored as one annotation revision per frame of the segment (linked to the
segment's lease), written by `submissions.store_many` like every other annotation, in one
transaction with the lease, the queue counts, the draft and the audit event. The guarantees are
the frame queue's: late work is kept and flagged, a lease takes one submission, an edit of a
stale revision answers 409 (`Conflict`) and changes nothing, history is append-only."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from labeling import audit
from labeling.access import roles
from labeling.jobs import outbox
from labeling.models import (
    Annotation,
    Assignment,
    Draft,
    Frame,
    Membership,
    Project,
    Segment,
)
from labeling.protection import state as states
from labeling.protection.image_urls import for_page as image_url
from labeling.sampling import suggestions
from labeling.work import segment_tracks
from labeling.work.payloads import CleanTag, SubmissionError, classes_of, stored_box
from labeling.work.submissions import (
    AlreadySubmitted,
    NotYours,
    Revision,
    check_models,
    store_many,
)

log = logging.getLogger(__name__)


class Conflict(Exception):
    """The segment's revision changed since it was loaded: nothing was written."""

    def __init__(self, current: dict, yours: dict):
        super().__init__(f"this segment is at revision {current['revision']} now; you edited an older one")
        self.current, self.yours = current, yours


@dataclass
class SegmentSubmitted:
    assignment_id: int
    revision: int
    frames: int
    late: bool
    payload: dict
    submitted: int  # the segment's submissions so far (agreement runs at the project's overlap)


def segment_of(assignment: Assignment) -> Segment:
    return Segment.objects.select_related("sequence").get(queue_item__id=assignment.item_id)


def frames_of(segment: Segment) -> list[Frame]:
    return list(Frame.objects.filter(sequence_id=segment.sequence_id,
                                     index__range=(segment.first_index, segment.last_index)).order_by("index"))


def fps_of(segment: Segment) -> float:
    """Frames per second of the stored frames (a stride or a target fps thins the source)."""
    seq = segment.sequence
    if seq.target_fps:
        return float(seq.target_fps)
    return float(seq.fps or 25.0) / max(1, seq.stride)


def state(project: Project, user, assignment: Assignment, *, resumed: bool = True, notes: dict | None = None) -> dict:
    """What the segment page needs for one lease: the segment and every frame of it (image URLs,
    sensitivity), the classes, the person's draft or submitted tracks, and protection's notes."""
    segment = segment_of(assignment)
    frames = frames_of(segment)
    classes = classes_of(project.ontology_version_id)
    revision = None
    if assignment.status == Assignment.SUBMITTED:
        revision = tracks_of(assignment)
    draft = None
    if resumed and revision is None:
        draft = Draft.objects.filter(assignment=assignment).values_list("payload", flat=True).first()
    step = project.segment_length - project.segment_shared
    palette = states.preferences(user.pk)["thermal_palette"] if segment.sequence.bits == 16 else None
    return {
        "project": {"id": project.pk, "name": project.name, "ontology_version": project.ontology_version_id,
                    "work_unit": project.work_unit},
        "assignment": {"id": assignment.pk, "status": assignment.status,
                       "expires_at": assignment.expires_at.isoformat()},
        "segment": {
            "id": segment.pk, "number": segment.number, "sequence": segment.sequence_id,
            "sequence_name": segment.sequence.name, "first": segment.first_index, "last": segment.last_index,
            "fps": fps_of(segment), "sensitive": segment.sensitive,
            # frames shared with the neighbours, where track identities are stitched
            "shared_before": [i for i in range(segment.first_index, segment.first_index + project.segment_shared)
                              if segment.number > 0 and i <= segment.last_index],
            "shared_after": [i for i in range(segment.number * step + step, segment.last_index + 1)],
        },
        "frames": [{"id": f.pk, "index": f.index, "width": f.width, "height": f.height, "timestamp": f.timestamp,
                    "sensitive": f.sensitive,
                    "image_url": image_url(f.pk, f.sensitive, project_id=project.pk, palette=palette),
                    "preview_url": image_url(f.pk, f.sensitive, "preview", project_id=project.pk, palette=palette)}
                   for f in frames],
        "classes": [{"key": c.key, "name": c.name, "kind": c.kind, "color": c.color, "shortcut": c.shortcut,
                     "sensitive": c.sensitive, "attributes": c.attributes} for c in classes.values()],
        "draft": draft,
        "revision": revision,
        # the current detector's boxes as tracks, unless this person is among the first (None)
        **suggestions.for_segment(project, frames, assignment),
        "protection": (notes or {}).get("protection"),
    }


def tracks_of(assignment: Assignment) -> dict | None:
    """The person's current revision of a segment, as tracks (`segment_tracks.collapse`)."""
    heads = lease_heads(assignment.pk)
    if not heads:
        return None
    frames = {}
    for annotation in heads:
        boxes = [stored_box(b) for b in annotation.boxes.all()]
        tags = [CleanTag(t.label_class, t.attributes, t.changed) for t in annotation.tags.all()]
        frames[annotation.frame_index] = (boxes, tags)
    return {"revision": max(a.revision for a in heads), "assignment": assignment.pk,
            **segment_tracks.collapse(frames)}


def lease_heads(assignment_id: int) -> list[Annotation]:
    """The lease's current revision of each of its frames: its annotations that no later one of
    the same lease supersedes (on a frame shared with a neighbouring segment, the person's next
    segment supersedes it in the frame's own history, but not in this segment's)."""
    later = Annotation.objects.filter(supersedes=OuterRef("pk"), assignment_id=assignment_id)
    return list(Annotation.objects.filter(assignment_id=assignment_id, source=Annotation.HUMAN)
                .exclude(Exists(later))
                .prefetch_related("boxes__label_class", "tags__label_class").order_by("frame_index"))


def _frame_heads(project: Project, user, frames: list[Frame]) -> dict[int, Annotation]:
    """The person's current revision of each frame, whatever lease wrote it, locked: a new one
    supersedes it, so every frame's history stays one line (shared frames included)."""
    heads = (Annotation.objects.select_for_update(of=("self",))
             .filter(project=project, annotator=user, source=Annotation.HUMAN, superseded_by__isnull=True,
                     frame_id__in=[f.pk for f in frames]))
    index = {f.pk: f.index for f in frames}
    return {index[a.frame_id]: a for a in heads}


def _checked(project: Project, segment: Segment, payload) -> tuple[list[Frame], dict]:
    frames = frames_of(segment)
    tracks, tags = segment_tracks.validate(payload, classes_of(project.ontology_version_id), segment.first_index,
                                           segment.last_index, {f.index: (f.width, f.height) for f in frames})
    expanded = segment_tracks.expand(tracks, tags, segment.first_index, segment.last_index)
    check_models(project.pk, [b for boxes, _ in expanded.values() for b in boxes])
    return frames, expanded


def _revisions(project: Project, user, assignment_id: int, frames: list[Frame], expanded: dict, note: str,
               heads: dict[int, Annotation] | None = None) -> list[Revision]:
    return [Revision(project_id=project.pk, frame=f, boxes=expanded[f.index][0], tags=expanded[f.index][1],
                     source=Annotation.HUMAN, status=Annotation.SUBMITTED,
                     ontology_version_id=project.ontology_version_id, created_by=user, annotator_id=user.pk,
                     supersedes=(heads or {}).get(f.index), note=note, assignment_id=assignment_id)
            for f in frames]


def submit(assignment_id: int, user, payload, *, repeat: bool = False) -> SegmentSubmitted:
    """Store an annotator's tracks on a leased segment (late work is kept and flagged).
    `repeat`: the same request run again after a lost connection (see submissions.submit)."""
    with transaction.atomic():
        lease = (Assignment.objects.select_for_update(of=("self",)).select_related("project")
                 .filter(pk=assignment_id, annotator_id=user.pk).first())
        if lease is None:
            raise NotYours("this assignment belongs to someone else")
        project = lease.project
        if not roles.is_admin(user) and not Membership.objects.filter(project=project, user=user).exists():
            raise NotYours("you are no longer a member of this project")
        if project.work_unit != Project.SEGMENT:
            raise SubmissionError("tracks", "this lease is a frame: send its boxes")
        if lease.status == Assignment.SUBMITTED:
            stored = tracks_of(lease) if repeat else None
            if stored is None:
                raise AlreadySubmitted("", "this segment was already submitted; edit your revision instead")
            return SegmentSubmitted(lease.pk, stored["revision"], 0, lease.late, stored, 0)
        if lease.status not in (Assignment.ACTIVE, Assignment.EXPIRED):
            raise SubmissionError("", f"this segment's lease is {lease.status}")
        segment = segment_of(lease)
        frames, expanded = _checked(project, segment, payload)
        now = timezone.now()
        was_expired = lease.status == Assignment.EXPIRED
        late = was_expired or lease.expires_at <= now
        note = str(payload.get("note", ""))[:2000]
        store_many(_revisions(project, user, lease.pk, frames, expanded, note, _frame_heads(project, user, frames)))
        Assignment.objects.filter(pk=lease.pk).update(status=Assignment.SUBMITTED, finished_at=now, late=late)
        submitted = _count_submission(lease.item_id, project.overlap, was_expired)
        Draft.objects.filter(assignment=lease).delete()
        boxes = sum(len(b) for b, _ in expanded.values())
        audit.record(user, "segment.submit", lease, {"segment": segment.pk, "frames": len(frames), "boxes": boxes,
                                                     "tracks": len(payload.get("tracks", [])), "late": late,
                                                     "project": project.pk})
    if submitted >= project.overlap:  # the round is complete: its agreement, in the background
        transaction.on_commit(lambda: _check(project.pk, segment.pk))
    lease.status = Assignment.SUBMITTED
    stored = tracks_of(lease)
    return SegmentSubmitted(lease.pk, stored["revision"], len(frames), late, stored, submitted)


def _check(project_id: int, segment_id: int) -> None:
    try:
        outbox.add("segment_agreement", project_id, segment_id)
    except Exception:  # noqa: BLE001 - the work is stored; housekeeping and manage.py score_pending catch up
        log.exception("could not queue the agreement of segment %s; run manage.py score_pending", segment_id)


def _count_submission(item_id: int, overlap: int, was_expired: bool) -> int:
    """The queue counts after a submission (an expired lease takes its slot back)."""
    back = int(was_expired)
    with connection.cursor() as cur:
        cur.execute(
            """
            UPDATE labeling_queueitem SET submitted = submitted + 1, assigned = assigned + %s,
                   is_open = NOT gold AND assigned + %s < %s
            WHERE id = %s RETURNING submitted
            """, [back, back, overlap, item_id])
        return cur.fetchone()[0]


def revise(assignment_id: int, user, payload) -> SegmentSubmitted:
    """An edit of a submitted segment: a new revision of every frame, superseding the last one.
    `payload["base_revision"]` is the revision the edit started from; if the segment moved on
    since (another tab), nothing is written and Conflict carries both versions."""
    base = payload.get("base_revision") if isinstance(payload, dict) else None
    if isinstance(base, bool) or not isinstance(base, int):
        raise SubmissionError("base_revision", "the revision you edited is required")
    with transaction.atomic():
        lease = (Assignment.objects.select_for_update(of=("self",)).select_related("project")
                 .filter(pk=assignment_id, annotator_id=user.pk).first())
        if lease is None:
            raise NotYours("this assignment belongs to someone else")
        if lease.status != Assignment.SUBMITTED:
            raise SubmissionError("", "only a submitted segment is edited; submit it first")
        project = lease.project
        current = max((a.revision for a in lease_heads(lease.pk)), default=0)
        if current != base:
            raise Conflict(tracks_of(lease), payload)
        segment = segment_of(lease)
        frames, expanded = _checked(project, segment, payload)
        note = str(payload.get("note", ""))[:2000]
        store_many(_revisions(project, user, lease.pk, frames, expanded, note, _frame_heads(project, user, frames)))
        audit.record(user, "segment.revise", lease, {"segment": segment.pk, "revision": current + 1,
                                                     "project": project.pk})
    stored = tracks_of(lease)
    return SegmentSubmitted(lease.pk, stored["revision"], len(frames), lease.late, stored, 0)
