"""What the labeling page gets for one frame: the frame, the ontology, the annotator's draft or
current revision, the track context and the frame to prefetch. Reads only.

This is on the hot path of every next-frame request, so it asks the database only what it
must: the classes of a published version are immutable and cached per process, a fresh lease
has no draft and no earlier revision, and the track context comes with the lease (or is one
query where it did not)."""
from __future__ import annotations

from labeling.footage.telemetry import readout
from labeling.models import Assignment, Draft, Frame, Project
from labeling.protection.image_urls import for_page as image_url
from labeling.sampling import suggestions
from labeling.work import payloads, queue, submissions, tracks
from ontology.models import LabelClass

_payloads: dict[int, tuple[dict, list[dict], bool]] = {}


def _ontology(version_id: int) -> tuple[list[dict], bool]:
    """The classes of an ontology version as the page needs them (shared: not to be changed), and
    whether one is a change class. Read through the per-process cache that validates submissions:
    a published version's classes are the same object on every call, so what is built from them
    is kept with them (a version not published yet is built anew each time)."""
    classes = payloads.classes_of(version_id)
    kept = _payloads.get(version_id)
    if kept is not None and kept[0] is classes:
        return kept[1], kept[2]
    built = [
        {"key": c.key, "name": c.name, "kind": c.kind, "color": c.color, "shortcut": c.shortcut,
         "sensitive": c.sensitive, "attributes": c.attributes}
        for c in classes.values()
    ]
    change = any(c["kind"] == LabelClass.CHANGE for c in built)
    _payloads[version_id] = (classes, built, change)
    return built, change


def frame_payload(frame: Frame, with_previous: bool, project_id: int | None = None) -> dict:
    previous = None
    if with_previous and frame.index > 0:
        previous = Frame.objects.filter(sequence_id=frame.sequence_id, index=frame.index - 1).only(
            "pk", "index", "sensitive").first()
    return {
        "id": frame.pk, "sequence": frame.sequence_id, "sequence_name": frame.sequence.name, "index": frame.index,
        "width": frame.width, "height": frame.height, "timestamp": frame.timestamp, "sensitive": frame.sensitive,
        "image_url": image_url(frame.pk, frame.sensitive, project_id=project_id),
        "previous_frame": {"id": previous.pk, "index": previous.index, "sensitive": previous.sensitive,
                           "image_url": image_url(previous.pk, previous.sensitive, project_id=project_id)}
        if previous else None,
    }


def state(project: Project, frame: Frame, user, assignment: Assignment | None = None, *,
          lease: queue.Lease | None = None) -> dict:
    """Everything the page needs for `frame`: for a lease just handed out (`lease`), for a live
    assignment the person reopened (`assignment`: their draft is restored), or for their submitted
    work (neither: their current revision, to edit)."""
    if lease is not None:
        assignment = lease.assignment
    classes, change = _ontology(project.ontology_version_id)
    fresh_lease = lease is not None and not lease.resumed
    revision = None if assignment is not None else submissions.head_revision(project.pk, frame.pk, user.pk)
    draft = None
    if assignment is not None and not fresh_lease:
        draft = Draft.objects.filter(assignment=assignment).values_list("payload", flat=True).first()
    peek = lease.peek if lease is not None else None
    return {
        "project": {"id": project.pk, "name": project.name, "ontology_version": project.ontology_version_id},
        "assignment": {
            "id": assignment.pk, "status": assignment.status, "expires_at": assignment.expires_at.isoformat(),
        } if assignment else None,
        "frame": frame_payload(frame, with_previous=change, project_id=project.pk),
        "classes": classes,
        "draft": draft,
        "revision": payloads.as_payload(revision) if revision else None,
        "tracks": lease.tracks if lease is not None and lease.tracks is not None
        else tracks.track_context(project.pk, user.pk, frame),
        "drone": readout.for_page(frame, user),  # telemetry readout, thermal palette
        "prefetch": image_url(peek.frame_id, peek.sensitive, project_id=project.pk) if peek else None,
        # the current detector's boxes, unless this person is among the first of the frame (None)
        **(suggestions.for_frame(project, frame.pk, assignment) if assignment is not None
           else {"suggestions": None, "suggestions_withheld": False}),
        # what annotator protection wants the page to show with this frame (labeling.protection.gate);
        # absent where the project has no sensitive frames
        "protection": lease.notes.get("protection") if lease is not None else None,
    }
