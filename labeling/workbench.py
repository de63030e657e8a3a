"""What the labeling page gets for one frame: the frame, the ontology, the annotator's draft or
current revision, the track context and the frame to prefetch. Reads only."""
from __future__ import annotations

from ontology.models import LabelClass

from . import queue, submissions, tracks
from .models import Annotation, Assignment, Draft, Frame, Project


def image_url(frame: Frame, variant: str = "original") -> str:
    if frame.sensitive and variant == "original":
        variant = "preview"
    return f"/frames/{frame.pk}/{variant}"


def ontology_payload(version_id: int) -> list[dict]:
    return [
        {"key": c.key, "name": c.name, "kind": c.kind, "color": c.color, "shortcut": c.shortcut,
         "sensitive": c.sensitive, "attributes": c.attributes}
        for c in LabelClass.objects.filter(version_id=version_id).order_by("order", "key")
    ]


def frame_payload(frame: Frame) -> dict:
    previous = (Frame.objects.filter(sequence_id=frame.sequence_id, index=frame.index - 1).first()
                if frame.index > 0 else None)
    return {
        "id": frame.pk, "sequence": frame.sequence_id, "sequence_name": frame.sequence.name, "index": frame.index,
        "width": frame.width, "height": frame.height, "timestamp": frame.timestamp, "sensitive": frame.sensitive,
        "image_url": image_url(frame),
        "previous_frame": {"id": previous.pk, "index": previous.index, "image_url": image_url(previous)}
        if previous else None,
    }


def current_revision(project: Project, frame: Frame, user) -> Annotation | None:
    return (Annotation.objects.filter(project=project, frame=frame, annotator=user, superseded_by__isnull=True)
            .order_by("-revision").first())


def state(project: Project, frame: Frame, user, assignment: Assignment | None = None) -> dict:
    revision = current_revision(project, frame, user)
    draft = Draft.objects.filter(assignment=assignment).first() if assignment else None
    peek = queue.peek_next_frame_id(project, user, exclude_frame_id=frame.pk) if assignment else None
    return {
        "project": {"id": project.pk, "name": project.name, "ontology_version": project.ontology_version_id},
        "assignment": {
            "id": assignment.pk, "status": assignment.status, "expires_at": assignment.expires_at.isoformat(),
        } if assignment else None,
        "frame": frame_payload(frame),
        "classes": ontology_payload(project.ontology_version_id),
        "draft": draft.payload if draft else None,
        "revision": submissions.as_payload(revision) if revision else None,
        "tracks": tracks.track_context(project.pk, user.pk, frame),
        "prefetch": image_url(Frame.objects.get(pk=peek)) if peek else None,
    }
