"""What a submission needs to know of its lease, remembered by the process that handed it out.

A submission is validated against its lease's frame (its size) and its project's ontology
version before it is written. Reading those costs a round trip per submission. The process that
leased the frame knew them all, and an annotator's page keeps its HTTP connection, so the next
submission usually comes back to the same web process: it remembers them here (a bounded
per-process map) and the submission skips the read.

Nothing here is trusted: the submission's one statement (labeling.work.submissions) checks
under its row lock that the lease is still this person's, still on this frame and item, that
the project is still on this ontology version, overlap and work unit, and that they are still a
member. If any of it changed, nothing is written and the submission starts over from the
database."""
from __future__ import annotations

import threading
from dataclasses import dataclass

from labeling.models import Frame
from labeling.models.built import build

#: leases remembered per process: a few per annotator working through this process is plenty
CAPACITY = 4096

_lock = threading.Lock()
_known: dict[int, "LeaseFacts"] = {}


@dataclass
class LeaseFacts:
    """A lease as a submission reads it: from the database (labeling.work.submissions), or as
    remembered here (status active and membership then unknown: the write checks them)."""

    id: int
    annotator_id: int
    status: str
    expires_at: object
    item_id: int
    project_id: int
    frame: Frame  # pk, width, height, sequence_id, index
    ontology_version_id: int
    overlap: int
    member: bool
    work_unit: str


def remember(assignment, project, frame: Frame) -> None:
    """A live lease just handed out (or renewed) by this process."""
    # the frame's own columns only, as a submission reading its lease gets it: its relations (the
    # lease's sequence has only what the page needs) are loaded when asked for
    frame = build(Frame, id=frame.pk, width=frame.width, height=frame.height, sequence_id=frame.sequence_id,
                  index=frame.index)
    facts = LeaseFacts(assignment.pk, assignment.annotator_id, "active", assignment.expires_at, assignment.item_id,
                       project.pk, frame, project.ontology_version_id, project.overlap, True, project.work_unit)
    with _lock:
        _known.pop(facts.id, None)
        _known[facts.id] = facts
        while len(_known) > CAPACITY:
            del _known[next(iter(_known))]  # the oldest


def recall(assignment_id: int, user_id: int) -> LeaseFacts | None:
    """The remembered lease `assignment_id` of this person, if this process handed it out."""
    facts = _known.get(assignment_id)
    return facts if facts is not None and facts.annotator_id == user_id else None


def forget(assignment_id: int) -> None:
    with _lock:
        _known.pop(assignment_id, None)


def clear() -> None:
    """Forget every lease (tests: what one process remembers, another does not)."""
    with _lock:
        _known.clear()
