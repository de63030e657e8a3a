"""Propagation as the segment page asks for it: from a selected box, track forward or backward
through the segment (by default to its end or start), with the project's current detector steering
the tracker where it has one (`sampling.propagation`).

A short run (up to SHORT_FRAMES) answers within the request; a longer one goes to a Celery
worker ("propagate", the bulk queue) and the page polls it: the boxes found so far are written to
the run as they arrive (every WRITE_EVERY_S), so they appear on the timeline while it goes on. A
run whose worker died is resumed from its last box by housekeeping. The boxes are proposals:
nothing is an annotation until the person submits the segment (their source is "propagated")."""
from __future__ import annotations

import math
import time

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from labeling import jobs
from labeling.models import Assignment, Frame, Project, PropagationRun
from labeling.models.footage import blob_path
from labeling.sampling import images, propagation, suggestions
from labeling.work import segments
from labeling.work.payloads import classes_of

SHORT_FRAMES = 12
WRITE_EVERY_S = 0.5
STALE_S = 60.0
DECODE_BATCH = 8


class PropagationError(ValueError):
    """The request is refused, naming the field; nothing was started."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PropagationError(field, "must be a number")
    return float(value)


def start(assignment_id: int, user, payload) -> PropagationRun:
    """Check the request against the person's live segment lease and start the run: at once for a
    short one, in a worker otherwise. `payload`: {"frame", "box": {x, y, w, h}, "class",
    "direction": "forward" | "backward", "frames": how many (optional: to the segment's end)}."""
    if not isinstance(payload, dict):
        raise PropagationError("", "send an object with frame, box, class and direction")
    lease = (Assignment.objects.select_related("project").filter(pk=assignment_id, annotator_id=user.pk)
             .first())
    if lease is None:
        raise LookupError("no such assignment")
    project = lease.project
    if project.work_unit != Project.SEGMENT:
        raise PropagationError("", "propagation works on segments")
    if lease.status not in (Assignment.ACTIVE, Assignment.EXPIRED):
        raise PropagationError("", f"this segment's lease is {lease.status}")
    segment = segments.segment_of(lease)
    frame = payload.get("frame")
    if isinstance(frame, bool) or not isinstance(frame, int) or not segment.first_index <= frame <= segment.last_index:
        raise PropagationError("frame", f"a frame of this segment ({segment.first_index}–{segment.last_index})")
    direction = payload.get("direction", PropagationRun.FORWARD)
    if direction not in (PropagationRun.FORWARD, PropagationRun.BACKWARD):
        raise PropagationError("direction", "forward or backward")
    label = classes_of(project.ontology_version_id).get(payload.get("class"))
    if label is None or label.kind == "tag":
        raise PropagationError("class", f"'{payload.get('class')}' is not a box class of this project")
    raw = payload.get("box")
    if not isinstance(raw, dict):
        raise PropagationError("box", "an object with x, y, w, h")
    box = {k: _number(raw.get(k), f"box.{k}") for k in "xywh"}
    size = Frame.objects.filter(sequence_id=segment.sequence_id, index=frame).values_list("width", "height").get()
    if box["w"] <= 0 or box["h"] <= 0 or box["x"] < 0 or box["y"] < 0 or box["x"] + box["w"] > size[0] + 1e-6 \
            or box["y"] + box["h"] > size[1] + 1e-6:
        raise PropagationError("box", f"a box inside the {size[0]}×{size[1]} frame")
    end = segment.last_index if direction == PropagationRun.FORWARD else segment.first_index
    count = payload.get("frames")
    if count is not None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise PropagationError("frames", "a positive number of frames")
        end = min(end, frame + count) if direction == PropagationRun.FORWARD else max(end, frame - count)
    if end == frame:
        raise PropagationError("frame", f"there is no frame {'after' if direction == 'forward' else 'before'} it in "
                                        "this segment")
    run = PropagationRun.objects.create(
        assignment=lease, created_by=user, label=label.key, start_frame=frame, start_box=box, direction=direction,
        last_frame=end, model_version_id=suggestions.current_detector(project.pk), frames_total=abs(end - frame))
    if run.frames_total <= SHORT_FRAMES:
        return run_now(run.pk)
    jobs.enqueue("propagate", run.pk)
    return run


def _order(run: PropagationRun) -> list[int]:
    step = 1 if run.direction == PropagationRun.FORWARD else -1
    return list(range(run.start_frame, run.last_frame + step, step))


def run_now(run_id: int) -> PropagationRun:
    """Run (or resume, from the last box found) a propagation. Idempotent: a finished run is left
    as it is; the boxes are written as they arrive."""
    with transaction.atomic():
        run = PropagationRun.objects.select_for_update().select_related("assignment").get(pk=run_id)
        if run.status != PropagationRun.RUNNING:
            return run
        PropagationRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    order = _order(run)
    found = list(run.boxes)
    if found:  # resume: start again from the last box found
        last = found[-1]
        order = order[order.index(last["frame"]):]
        start = (last["x"], last["y"], last["w"], last["h"])
    else:
        start = tuple(run.start_box[k] for k in "xywh")
    frames = {f.index: f for f in Frame.objects.filter(sequence_id=segments.segment_of(run.assignment).sequence_id,
                                                       index__in=order)}
    detected = {}
    if run.model_version_id:
        by_id = suggestions.latest(run.model_version_id, [f.pk for f in frames.values()])
        detected = {f.index: by_id.get(f.pk, []) for f in frames.values()}
    first = frames[order[0]]
    scale = min(1.0, propagation.TRACK_SIDE / max(first.width, first.height))
    try:
        steps = propagation.propagate(_decoded(order, frames), start, size=(first.width, first.height), scale=scale,
                                      label=run.label, detections=lambda index: detected.get(index, []))
        written = time.monotonic()
        for step in steps:
            if step.lost:
                break
            found.append({"frame": step.frame, "x": round(step.x, 2), "y": round(step.y, 2), "w": round(step.w, 2),
                          "h": round(step.h, 2), "method": step.method, "score": round(step.score, 3)})
            if time.monotonic() - written >= WRITE_EVERY_S:
                _write(run.pk, found)
                written = time.monotonic()
    except Exception as exc:  # noqa: BLE001 - a broken frame file or tracker: the run says so and stops
        _finish(run.pk, found, PropagationRun.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    lost = len(found) < run.frames_total
    _finish(run.pk, found, PropagationRun.DONE,
            f"the object was lost after frame {found[-1]['frame'] if found else run.start_frame}" if lost else "")
    return PropagationRun.objects.get(pk=run.pk)


def _decoded(order: list[int], frames: dict[int, Frame]):
    """(index, image) in order, decoded small (JPEG draft mode) a batch ahead on a thread pool."""
    names = [blob_path("frames", frames[i].sha256, frames[i].ext) for i in order]
    index = iter(order)
    for batch in images.prefetched(names, propagation.TRACK_SIDE, DECODE_BATCH):
        for pixels, _ in batch:
            yield next(index), pixels


def _write(run_id: int, found: list) -> None:
    PropagationRun.objects.filter(pk=run_id, status=PropagationRun.RUNNING).update(
        boxes=list(found), heartbeat_at=timezone.now())


def _finish(run_id: int, found: list, status: str, message: str) -> None:
    PropagationRun.objects.filter(pk=run_id, status=PropagationRun.RUNNING).update(
        boxes=list(found), status=status, message=message[:2000], finished_at=timezone.now(),
        heartbeat_at=timezone.now())


def sweep(stale_s: float = STALE_S) -> int:
    """Send again the runs whose worker stopped beating (housekeeping)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=stale_s)
    ids = list(PropagationRun.objects.filter(status=PropagationRun.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)).values_list("pk", flat=True))
    for run_id in ids:
        jobs.send_now("propagate", run_id)
    return len(ids)


def as_dict(run: PropagationRun) -> dict:
    return {"id": run.pk, "status": run.status, "direction": run.direction, "start_frame": run.start_frame,
            "last_frame": run.last_frame, "frames_total": run.frames_total, "frames_done": len(run.boxes),
            "class": run.label, "model_version": run.model_version_id, "boxes": run.boxes, "message": run.message}
