"""Re-scoring a project's agreement: a chunked job (labeling.jobs.chunks) that several workers
share, with a progress record (AgreementRun) and an audit event at its start and its end.

What starts one: a change of the project's IoU threshold, agreement threshold or consensus quorum
(labeling.work.projects sends `start_agreement_rescore`), a quarantine or its lifting (only the
frames it touched: labeling.governance.quarantine), or a QA lead (API, admin). A run over the
whole project supersedes the project's earlier runs still going (their remaining chunks are
dropped: this one scores every frame anyway).

Each chunk is one batch of `bulk_scoring.evaluate_batch`, in one transaction with the chunk's
completion and the run's progress, so a retried or taken-over chunk never counts twice. The run
is finalised (counts summed, audited) once its last chunk is done; celery beat's housekeeping
sends again the chunks dead workers left (`sweep`)."""
from __future__ import annotations

from collections import Counter

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labeling import audit, jobs
from labeling.jobs import chunks
from labeling.models import AgreementChunk, AgreementRun, Project, QueueItem
from labeling.quality import bulk_scoring

CHUNK_SIZE = settings.AERIE_AGREEMENT_CHUNK
STALE_S = settings.AERIE_AGREEMENT_STALE_S
MAX_REASON = 200


class RescoreError(ValueError):
    """The run cannot start (nothing was written)."""


def project_frames(project: Project) -> list[int]:
    """The frames a whole-project run covers: non-gold frames of the project's frame queue with
    at least one submission (each batch scores those whose round is complete)."""
    return list(QueueItem.objects.filter(project=project, gold=False, segment__isnull=True, submitted__gt=0)
                .order_by("frame_id").values_list("frame_id", flat=True))


def params_of(project: Project) -> dict:
    return {"iou_threshold": project.iou_threshold, "agreement_threshold": project.agreement_threshold,
            "consensus_quorum": project.consensus_quorum, "overlap": project.overlap}


def start_run(project: Project, *, reason: str, user=None, frame_ids: list[int] | None = None,
              chunk_size: int | None = None, send: bool = True) -> AgreementRun:
    """Record a run over `frame_ids` (None: the whole project) and its chunks, audit it, and
    (with `send`) send the chunks to the workers once the transaction commits."""
    chunk_size = CHUNK_SIZE if chunk_size is None else chunk_size
    reason = (reason or "").strip()
    if not reason:
        raise RescoreError("say why the agreement is scored again (reason)")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise RescoreError("chunk_size must be a positive number of frames")
    if project.work_unit == Project.SEGMENT:
        raise RescoreError("a segment project's agreement is per segment (its tracks), not per frame")
    user = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        whole = frame_ids is None
        ids = project_frames(project) if whole else sorted({int(f) for f in frame_ids})
        superseded = []
        if whole:
            superseded = list(AgreementRun.objects.select_for_update().filter(project=project,
                                                                             status=AgreementRun.RUNNING)
                              .values_list("pk", flat=True))
            AgreementRun.objects.filter(pk__in=superseded).update(status=AgreementRun.SUPERSEDED,
                                                                  finished_at=timezone.now())
        run = AgreementRun.objects.create(project=project, reason=reason[:MAX_REASON], whole_project=whole,
                                          params=params_of(project), frames_total=len(ids),
                                          chunks_total=(len(ids) + chunk_size - 1) // chunk_size, created_by=user)
        chunks.make(AgreementChunk, run, ids, chunk_size)
        audit.record(user, "agreement.rescore.start", run, {
            "project": project.pk, "reason": run.reason, "frames": len(ids), "chunks": run.chunks_total,
            "whole_project": whole, "params": run.params, "superseded": superseded})
        if not ids:
            finalize(run.pk)
        elif send:
            send_chunks(run.pk)
    return run


def send_chunks(run_id: int) -> int:
    return chunks.send(AgreementChunk, run_id, "agreement_chunk")


def process_chunk(chunk_id: int, me: str | None = None) -> int:
    """Claim one chunk and score its frames, writing the results, the chunk's completion and
    the run's progress in one transaction. Returns the frames scored (0 when the chunk was done,
    claimed by a live worker, or its run stopped)."""
    me = me or chunks.worker_name()
    claimed = chunks.claim(AgreementChunk, chunk_id, me, STALE_S)
    if claimed is None:
        return 0
    run_id, frame_ids = claimed
    run = AgreementRun.objects.get(pk=run_id)
    if run.status != AgreementRun.RUNNING:
        chunks.drop(AgreementChunk, chunk_id)
        return 0
    with transaction.atomic():
        if chunks.finish(AgreementChunk, chunk_id, me) is None:
            return 0
        counts = bulk_scoring.evaluate_batch(run.project_id, list(frame_ids))
        AgreementChunk.objects.filter(pk=chunk_id).update(counts=dict(counts))
        AgreementRun.objects.filter(pk=run_id).update(chunks_done=F("chunks_done") + 1,
                                                      frames_done=F("frames_done") + len(frame_ids))
        done, total = AgreementRun.objects.filter(pk=run_id).values_list("chunks_done", "chunks_total").get()
        if done >= total:
            jobs.enqueue("finalize_agreement_rescore", run_id)
    return counts["scored"]


def finalize(run_id: int) -> AgreementRun | None:
    """Close a run whose chunks are all done: its counts, status and the closing audit event
    (once; idempotent)."""
    with transaction.atomic():
        run = AgreementRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != AgreementRun.RUNNING or run.chunks_done < run.chunks_total:
            return run
        total: Counter = Counter()
        for counts in AgreementChunk.objects.filter(run=run).values_list("counts", flat=True):
            total.update(counts or {})
        run.status, run.finished_at, run.counts = AgreementRun.DONE, timezone.now(), dict(total)
        run.save(update_fields=["status", "finished_at", "counts"])
        audit.record(None, "agreement.rescore.done", run, {
            "project": run.project_id, "frames": run.frames_done, "chunks": run.chunks_done, **run.counts})
    return run


def sweep(stale_s: float = STALE_S) -> dict:
    """Housekeeping: send again the chunks dead workers left, finalise finished runs."""
    resent, finalized = chunks.sweep(AgreementChunk, AgreementRun, "agreement_chunk", finalize, stale_s)
    return {"agreement_resent": resent, "agreement_finalized": finalized}
