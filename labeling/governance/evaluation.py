"""The evaluation job: a model version's detections on a frozen evaluation set, and its metrics.

Chunked like scoring (labeling.jobs.chunks): `start_run` records a run and its chunks and sends
them once the transaction commits; any worker on any machine claims a chunk (`process_chunk`: row
lock with SKIP LOCKED), decodes its frames on the prefetching thread pool, runs the detector under
`torch.inference_mode` and stores every detection in frame pixels (`EvaluationOutput`), the
chunk's completion and its progress in one transaction. A dead worker's chunk goes stale and
celery beat's housekeeping sends it again (`sweep`); a late write finds the chunk taken and
writes nothing.

When the last chunk is done, `finalize` compares the detections with the revisions the set froze
(labeling.governance.metrics: COCO mAP and mAP@0.5 overall, per class and per slice, operating
thresholds, confusions), measures the time to first decision (median of batch-1 forwards of one
frame after a warm-up) with the hardware it ran on, and stores both on the run.
"""
from __future__ import annotations

import os
import platform
import statistics
import time

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labeling import audit, jobs
from labeling.governance import compare, evaluation_sets, metrics, slices, tracking
from labeling.jobs import chunks
from labeling.models import Frame, ModelVersion
from labeling.models.governance import EvaluationChunk, EvaluationOutput, EvaluationRun, EvaluationSet
from labeling.sampling import images as images_mod
from labeling.sampling import scoring

CHUNK_SIZE = settings.AERIE_EVALUATION_CHUNK
BATCH_SIZE = settings.AERIE_SCORING_BATCH
STALE_S = settings.AERIE_SCORING_STALE_S
IMAGE_SIDE = scoring.IMAGE_SIDE[ModelVersion.DETECTOR]
LATENCY_WARMUP, LATENCY_RUNS = 3, 15


class EvaluationError(ValueError):
    """The run cannot start (nothing was written)."""


def start_run(version: ModelVersion, eset: EvaluationSet, user=None, *, chunk_size: int | None = None,
              send: bool = True) -> EvaluationRun:
    """Record a run of `version` on `eset` and its chunks, and (with `send`) send the chunks to
    the workers once the transaction commits. Refused for another project's set, a tag
    classifier, or a set whose signature or manifest does not verify."""
    chunk_size = chunk_size or CHUNK_SIZE
    if version.project_id != eset.project_id:
        raise EvaluationError("the evaluation set belongs to another project than the model version")
    if version.kind != ModelVersion.DETECTOR:
        raise EvaluationError("only detectors are evaluated on evaluation sets (this version is a "
                              f"{version.kind})")
    check = evaluation_sets.verify(eset)
    if not check.ok:
        raise EvaluationError(f"evaluation set {eset.name!r} does not verify: {'; '.join(check.problems)}")
    frame_ids = sorted(eset.frame_ids)
    with transaction.atomic():
        run = EvaluationRun.objects.create(
            project_id=eset.project_id, model_version=version, evaluation_set=eset,
            chunks_total=(len(frame_ids) + chunk_size - 1) // chunk_size, frames_total=len(frame_ids),
            created_by=user if getattr(user, "is_authenticated", False) else None)
        chunks.make(EvaluationChunk, run, frame_ids, chunk_size)
        audit.record(user, "evaluation.start", run, {
            "project": eset.project_id, "model_version": version.pk, "evaluation_set": eset.pk,
            "manifest_sha256": eset.manifest_sha256, "frames": len(frame_ids)})
        if send:
            send_chunks(run.pk)
    return run


def latest_run(version: ModelVersion, eset: EvaluationSet) -> EvaluationRun | None:
    """The version's newest finished run on the set."""
    return version.evaluations.filter(evaluation_set=eset, status=EvaluationRun.DONE).order_by("-finished_at").first()


def comparison(a: ModelVersion, b: ModelVersion, eset: EvaluationSet) -> dict:
    """Version `b` against version `a` on one set, slice by slice (`compare.compare`, with the
    project's promotion tolerance), from each version's newest finished run there."""
    if a.project_id != b.project_id:
        raise EvaluationError("the two versions belong to different projects")
    if eset.project_id != a.project_id:
        raise EvaluationError("set: no such evaluation set in this project")
    runs = {}
    for key, version in (("a", a), ("b", b)):
        runs[key] = latest_run(version, eset)
        if runs[key] is None:
            raise EvaluationError(f"model version {version.pk} has no finished run on evaluation set "
                                  f"{eset.name!r}: start one first")
    tolerance = a.project.promotion_tolerance
    rows = compare.compare(runs["a"].metrics, runs["b"].metrics, tolerance)
    tracks = {k: ((r.metrics.get("tracking") or {}).get("overall") or {}) for k, r in runs.items()}
    tracking_rows = [{"name": name, "a": tracks["a"].get(name), "b": tracks["b"].get(name)}
                     for name in ("idf1", "mota")] if any(tracks.values()) else []
    return {"a": a.pk, "b": b.pk, "set": eset.pk, "metric": compare.METRIC, "tolerance": tolerance,
            "runs": {"a": runs["a"].pk, "b": runs["b"].pk}, "slices": rows,
            "worse": [r["slice"] for r in rows if r["worse"]], "tracking": tracking_rows}


def send_chunks(run_id: int) -> int:
    return chunks.send(EvaluationChunk, run_id, "evaluation_chunk")


def detect(model, tensors) -> list:
    """torchvision's post-processed detections of one batch: (labels, scores, boxes) per image."""
    import torch

    dev = next(model.parameters()).device
    with torch.inference_mode():
        found = model([t.to(dev) for t in tensors])
    return [(f["labels"].cpu().numpy(), f["scores"].float().cpu().numpy(), f["boxes"].float().cpu().numpy())
            for f in found]


def compute(version: ModelVersion, frame_ids: list[int], on_batch=None) -> list[tuple[int, list[dict]]]:
    """(frame id, detections in frame pixels) for each frame, in id order."""
    frames = list(Frame.objects.filter(pk__in=frame_ids).order_by("pk"))
    model = scoring.model_for(version).eval()
    out = []
    names = [f.image_name for f in frames]
    for batch, decoded in zip(images_mod.batches(frames, BATCH_SIZE),
                              images_mod.prefetched(names, IMAGE_SIDE, BATCH_SIZE)):
        found = detect(model, [images_mod.to_tensor(pixels) for pixels, _ in decoded])
        for frame, (_, scale), (labels, scores, boxes) in zip(batch, decoded, found):
            out.append((frame.pk, [
                {"class": version.class_map[int(k) - 1], "score": round(float(s), 5),
                 "x": round(float(b[0]) / scale, 2), "y": round(float(b[1]) / scale, 2),
                 "w": round(float(b[2] - b[0]) / scale, 2), "h": round(float(b[3] - b[1]) / scale, 2)}
                for k, s, b in zip(labels, scores, boxes) if 1 <= int(k) <= len(version.class_map)]))
        if on_batch:
            on_batch()
    return out


def process_chunk(chunk_id: int, me: str | None = None) -> int:
    """Claim, run and store one chunk. Returns the frames written (0 when the chunk was done,
    claimed by a live worker, or its run stopped)."""
    from labeling.sampling.registry import RegistryError

    me = me or chunks.worker_name()
    claimed = chunks.claim(EvaluationChunk, chunk_id, me, STALE_S)
    if claimed is None:
        return 0
    run_id, frame_ids = claimed
    run = EvaluationRun.objects.select_related("model_version").get(pk=run_id)
    if run.status != EvaluationRun.RUNNING:
        chunks.drop(EvaluationChunk, chunk_id)
        return 0
    try:
        rows = compute(run.model_version, list(frame_ids), on_batch=chunks.Beat(EvaluationChunk, chunk_id, me,
                                                                                  STALE_S))
    except RegistryError as exc:  # the weights no longer verify: the run cannot give a result
        fail(run, f"the model version's weights do not verify: {exc}")
        return 0
    return store(run, chunk_id, me, rows)


def store(run: EvaluationRun, chunk_id: int, me: str, rows) -> int:
    with transaction.atomic():
        chunk = chunks.finish(EvaluationChunk, chunk_id, me)
        if chunk is None:
            return 0
        if not EvaluationRun.objects.select_for_update().filter(pk=run.pk, status=EvaluationRun.RUNNING).exists():
            return 0
        EvaluationOutput.objects.bulk_create([EvaluationOutput(run_id=run.pk, frame_id=fid, detections=dets)
                                              for fid, dets in rows], ignore_conflicts=True)
        EvaluationRun.objects.filter(pk=run.pk).update(chunks_done=F("chunks_done") + 1,
                                                       frames_done=F("frames_done") + len(rows))
        done, total = EvaluationRun.objects.filter(pk=run.pk).values_list("chunks_done", "chunks_total").get()
        if done >= total:
            jobs.enqueue("finalize_evaluation", run.pk)
    return len(rows)


def fail(run: EvaluationRun, message: str) -> None:
    if EvaluationRun.objects.filter(pk=run.pk, status=EvaluationRun.RUNNING).update(
            status=EvaluationRun.FAILED, message=message[:2000], finished_at=timezone.now()):
        audit.record(None, "evaluation.failed", run, {"project": run.project_id, "error": message[:500]})


def metrics_of(run: EvaluationRun) -> dict:
    """The run's metrics document, from its stored detections and the set's frozen revisions."""
    eset = run.evaluation_set
    order = sorted(range(len(eset.frame_ids)), key=lambda i: eset.frame_ids[i])
    frame_ids = [eset.frame_ids[i] for i in order]
    annotation_ids = [eset.annotation_ids[i] for i in order]
    at = {f: i for i, f in enumerate(frame_ids)}
    sizes = {pk: (w, h) for pk, w, h in Frame.objects.filter(pk__in=frame_ids).values_list("pk", "width", "height")}
    outputs = list(EvaluationOutput.objects.filter(run=run).values_list(
        "frame_id", "frame__sequence__name", "frame__index", "detections"))
    preds = [(at[fid], d["class"], d["x"], d["y"], d["w"], d["h"], d["score"]) for fid, _, _, dets in outputs
             for d in dets]
    truth = metrics.Boxes.from_rows(slices.truth_rows(frame_ids, annotation_ids))
    result = metrics.evaluate([sizes[f] for f in frame_ids], truth,
                              metrics.Boxes.from_rows(preds, with_scores=True), list(run.model_version.class_map),
                              slices.slices_of(frame_ids, annotation_ids))
    rows, tracked_frames = slices.tracked_rows(annotation_ids)
    if rows:  # a tracking project: IDF1 and MOTA of the detector plus a plain association
        detections: dict[str, list] = {}
        for _, seq, index, dets in outputs:
            if seq in tracked_frames:
                detections.setdefault(seq, []).append((index, dets))
        result["tracking"] = tracking.evaluate(tracking.truth_tracks(rows, tracked_frames), detections)
    return result


def hardware() -> str:
    """What the latency was measured on: the CPU model, torch's threads, the GPU if one is used."""
    import torch

    from labeling.sampling import nets

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    text = f"{cpu} ({os.cpu_count()} CPUs), torch {torch.__version__}, {torch.get_num_threads()} threads"
    if nets.device().type == "cuda":
        text += f", {torch.cuda.get_device_name(0)}"
    return text[:200]


def latency_ms(model, tensor, warmup: int = LATENCY_WARMUP, runs: int = LATENCY_RUNS) -> float:
    """Median milliseconds of a batch-1 forward of one frame, after `warmup` forwards."""
    import torch

    for _ in range(warmup):
        detect(model, [tensor])
    times = []
    for _ in range(runs):
        if next(model.parameters()).is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        detect(model, [tensor])
        if next(model.parameters()).is_cuda:
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def finalize(run_id: int) -> EvaluationRun | None:
    """Compute and store a finished run's metrics and latency (once; idempotent)."""
    run = EvaluationRun.objects.select_related("evaluation_set", "model_version").filter(pk=run_id).first()
    if run is None or run.status != EvaluationRun.RUNNING or run.chunks_done < run.chunks_total:
        return run
    try:
        result = metrics_of(run)
        frame = Frame.objects.get(pk=min(run.evaluation_set.frame_ids))
        model = scoring.model_for(run.model_version).eval()
        pixels, _ = images_mod.decode(frame.image_name, IMAGE_SIDE)
        latency, where = latency_ms(model, images_mod.to_tensor(pixels)), hardware()
    except Exception as exc:  # noqa: BLE001 - the run records why; nothing else is written
        fail(run, f"{type(exc).__name__}: {exc}")
        raise
    with transaction.atomic():
        if not EvaluationRun.objects.select_for_update().filter(pk=run.pk, status=EvaluationRun.RUNNING).exists():
            return run
        EvaluationRun.objects.filter(pk=run.pk).update(status=EvaluationRun.DONE, metrics=result,
                                                       latency_ms_b1=round(latency, 3), hardware=where,
                                                       finished_at=timezone.now())
        audit.record(None, "evaluation.done", run, {
            "project": run.project_id, "model_version": run.model_version_id,
            "evaluation_set": run.evaluation_set_id, "overall": result["overall"],
            "latency_ms_b1": round(latency, 3), "hardware": where})
    run.refresh_from_db()
    return run


def sweep(stale_s: float = STALE_S) -> dict:
    """Housekeeping: send again the chunks dead workers left, finalise finished runs."""
    resent, finalized = chunks.sweep(EvaluationChunk, EvaluationRun, "evaluation_chunk", finalize, stale_s)
    return {"evaluation_resent": resent, "evaluation_finalized": finalized}
