"""The redaction job: find faces on every frame of a dataset, add the boxes of `redact` classes
from approved annotations, and render each frame's derived rendition.

Chunked like scoring (labeling.jobs.chunks): `start_run` records a run and its chunks; any
worker on any machine claims a chunk (`process_chunk`: a row lock with SKIP LOCKED, so two
workers never take the same one), decodes and searches its frames (heartbeat after each frame),
then in one transaction stores the faces, syncs the annotation regions, renders, marks the chunk
done, counts progress and records one audit event. A claim whose heartbeat is older than STALE_S
belongs to a dead worker: celery beat's housekeeping (`sweep`) sends the chunk again, and a late
write by the dead worker finds the chunk taken and writes nothing.

Frames already searched by the same detector version are not searched again (`FaceScan`), so a
run after new approvals or a change of method is cheap, and a detection a person removed stays
removed. Runs start on demand (API) and after each ingest of a dataset whose `redact_at_ingest`
is on (labeling.footage.ingest enqueues `start_redaction`)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labeling import audit, jobs
from labeling.jobs import chunks
from labeling.models import Dataset, DerivedFrame, Frame, RedactionChunk, RedactionRun, Sequence
from labeling.redaction import derived, faces, regions

CHUNK_SIZE = settings.AERIE_REDACTION_CHUNK
STALE_S = settings.AERIE_REDACTION_STALE_S


def start_run(dataset: Dataset, *, reason: str, user=None, chunk_size: int | None = None) -> RedactionRun:
    """Record a run over the dataset's ingested frames and its chunks; the caller sends them
    (`send_chunks`). A run already going for the dataset is returned as it is."""
    chunk_size = chunk_size or CHUNK_SIZE
    with transaction.atomic():
        Dataset.objects.select_for_update(no_key=True).filter(pk=dataset.pk).first()  # one starter at a time
        running = RedactionRun.objects.filter(dataset=dataset, status=RedactionRun.RUNNING).first()
        if running:
            return running
        frame_ids = list(Frame.objects.filter(sequence__dataset=dataset, sequence__raw_expired_at__isnull=True,
                                              sequence__status__in=[Sequence.READY, Sequence.PARTIAL])
                         .order_by("pk").values_list("pk", flat=True))
        run = RedactionRun.objects.create(
            dataset=dataset, detector=faces.version(), reason=reason[:40],
            chunks_total=(len(frame_ids) + chunk_size - 1) // chunk_size, frames_total=len(frame_ids),
            created_by=user if getattr(user, "is_authenticated", False) else None)
        chunks.make(RedactionChunk, run, frame_ids, chunk_size)
        audit.record(user, "redaction.start", run, {"dataset": dataset.pk, "reason": reason,
                                                    "frames": len(frame_ids), "detector": run.detector})
        if not frame_ids:
            transaction.on_commit(lambda: finalize(run.pk))
    return run


def claim(chunk_id: int, me: str, stale_s: float = STALE_S):
    return chunks.claim(RedactionChunk, chunk_id, me, stale_s)


def detect_frames(frames: list[Frame], detector: str, on_frame=None, method: str | None = None):
    """Decode the frames not yet searched by `detector` and find their faces. Returns ({frame id:
    faces}, {frame id: BGR pixels}, {frame id: (boxes, JPEG bytes)}) so that rendering does not
    read the files twice.

    Both sides of the detector run on threads beside it (OpenCV and onnxruntime release the GIL):
    the next frames are read and decoded ahead, as scoring prefetches its batches; and with a
    `method`, each searched frame is rendered and encoded at once with the regions it will have
    (its live ones and the faces just found), so storing the chunk only writes. `store` uses such
    an encoding only when the frame's live boxes are still exactly those."""
    ids = [f.pk for f in frames]
    done = regions.scanned(ids, detector)
    todo = [f for f in frames if f.pk not in done]
    before = regions.live([f.pk for f in todo]) if method else {}
    found, pixels, rendering = {}, {}, {}
    with ThreadPoolExecutor(max_workers=1) as reader, ThreadPoolExecutor(max_workers=1) as renderer:
        decoded = reader.map(derived.raw_pixels, todo)
        for frame, bgr in zip(todo, decoded):
            pixels[frame.pk] = bgr
            found[frame.pk] = faces.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            if method:
                boxes = derived.boxes_of([*before[frame.pk], *(tuple(r[:4]) for r in found[frame.pk])])
                rendering[frame.pk] = (boxes, renderer.submit(derived.encoded, bgr, boxes, method))
            if on_frame:
                on_frame()
        ready = {fid: (boxes, job.result()) for fid, (boxes, job) in rendering.items()}
    return found, pixels, ready


def process_chunk(chunk_id: int, me: str | None = None) -> int:
    """Claim, search, store and render one chunk. Returns the frames written (0 when the chunk
    was done, is claimed by a live worker, or its run stopped)."""
    me = me or chunks.worker_name()
    claimed = claim(chunk_id, me)
    if claimed is None:
        return 0
    run_id, frame_ids = claimed
    run = RedactionRun.objects.select_related("dataset").get(pk=run_id)
    if run.status != RedactionRun.RUNNING:
        chunks.drop(RedactionChunk, chunk_id)
        return 0
    frames = list(Frame.objects.filter(pk__in=frame_ids).order_by("pk"))
    beat = chunks.Beat(RedactionChunk, chunk_id, me, STALE_S)
    found, pixels, ready = detect_frames(frames, run.detector, on_frame=beat, method=run.dataset.redaction_method)
    return store(run, chunk_id, me, frames, found, pixels, ready)


def store(run: RedactionRun, chunk_id: int, me: str, frames: list[Frame], found: dict, pixels: dict,
          ready: dict | None = None) -> int:
    """Write a chunk's faces, annotation regions and renditions, mark it done and audit it, in
    one transaction. Nothing is written when another worker completed or took the chunk."""
    with transaction.atomic():
        chunk = chunks.finish(RedactionChunk, chunk_id, me)
        if chunk is None:
            return 0
        ids = [f.pk for f in frames]
        faces_added = regions.add_detections(found, run.detector)
        from_annotations, dropped = regions.sync_annotation_regions(ids)
        before = dict(DerivedFrame.objects.filter(frame_id__in=ids, current=True).values_list("frame_id", "pk"))
        after = derived.rerender_many(frames, run.dataset.redaction_method, pixels, regions.live(ids), ready)
        made = sum(before.get(fid) != rendition.pk for fid, rendition in after.items())
        RedactionRun.objects.filter(pk=run.pk).update(
            chunks_done=F("chunks_done") + 1, frames_done=F("frames_done") + len(frames),
            faces_found=F("faces_found") + faces_added, renditions_made=F("renditions_made") + made)
        audit.record(None, "redaction.chunk", run, {
            "dataset": run.dataset_id, "chunk": chunk.number, "worker": me, "detector": run.detector,
            "frames": ids, "faces": faces_added, "annotation_regions": from_annotations,
            "annotation_regions_removed": dropped, "renditions": made}, dataset=run.dataset_id)
        done, total = RedactionRun.objects.filter(pk=run.pk).values_list("chunks_done", "chunks_total").get()
        if done >= total:
            jobs.enqueue("finalize_redaction", run.pk)
    return len(frames)


def finalize(run_id: int) -> RedactionRun | None:
    with transaction.atomic():
        run = RedactionRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != RedactionRun.RUNNING or run.chunks_done < run.chunks_total:
            return run
        RedactionRun.objects.filter(pk=run.pk).update(status=RedactionRun.DONE, finished_at=timezone.now())
        audit.record(None, "redaction.done", run, {
            "dataset": run.dataset_id, "frames": run.frames_done, "faces": run.faces_found,
            "renditions": run.renditions_made}, dataset=run.dataset_id)
    run.refresh_from_db()
    return run


def pending_chunks(run_id: int) -> list[int]:
    return chunks.pending(RedactionChunk, run_id)


def send_chunks(run_id: int) -> int:
    """Send a run's unfinished chunks to the workers, once the current transaction commits."""
    return chunks.send(RedactionChunk, run_id, "redaction_chunk")


def sweep(stale_s: float = STALE_S) -> dict:
    """Resume what dead workers left: stale claims and pending chunks whose message was lost are
    sent again; runs whose chunks are all done are finalised."""
    resent, finalized = chunks.sweep(RedactionChunk, RedactionRun, "redaction_chunk", finalize, stale_s)
    return {"redaction_resent": resent, "redaction_finalized": finalized}


def progress(run: RedactionRun | None) -> dict | None:
    """What the API and pages show of a run."""
    if run is None:
        return None
    percent = 100 if run.status == RedactionRun.DONE else (
        int(100 * run.chunks_done / run.chunks_total) if run.chunks_total else 0)
    return {"id": run.pk, "dataset": run.dataset_id, "status": run.status, "reason": run.reason,
            "detector": run.detector, "chunks_done": run.chunks_done, "chunks_total": run.chunks_total,
            "frames_done": run.frames_done, "frames_total": run.frames_total, "faces_found": run.faces_found,
            "renditions_made": run.renditions_made, "percent": min(percent, 100),
            "created_at": run.created_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None}


def latest(dataset_id: int) -> RedactionRun | None:
    return RedactionRun.objects.filter(dataset_id=dataset_id).order_by("-created_at", "-pk").first()


def start_and_send(dataset: Dataset, *, reason: str, user=None) -> RedactionRun:
    run = start_run(dataset, reason=reason, user=user)
    send_chunks(run.pk)
    return run
