"""The scoring job: the current models rank a project's open frames for the queue.

A run (`start_run`) takes the project's current detector and/or tag classifier and the frames
still open in the queue, and splits them into chunks. Any worker on any machine claims a chunk
(`score_chunk`: row lock with SKIP LOCKED, so two workers never take the same one), decodes its
frames in batches on a prefetching thread pool, runs the models under `torch.inference_mode`,
turns their outputs into one uncertainty per frame (`nets.detector_score` +
`nets.classifier_score`) and writes the scores, the chunk's completion and one audit event with
every (frame, score) of the chunk in a single transaction. A claim carries a heartbeat, renewed
after every batch; a claim whose heartbeat is older than `STALE_S` belongs to a dead worker and
is taken over (`sweep`, run by celery beat, re-sends such chunks). Writing is idempotent: the
second writer of a chunk finds it done and writes nothing.

When the last chunk is done, `finalize` turns the run's scores into queue priorities in one
transaction (`strategies.queue_priorities`: a diverse batch on top, then temporal tiers), so
the queue switches from the previous run's order to the new one at once and never waits on
scoring: until then it serves from the last scores.

Runs start when a model becomes current (`registry.make_current` asks for one), on a schedule
(`rescore_due`, celery beat) and by hand (trainer page or API).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from labeling import audit, jobs
from labeling.custody import state as custody
from labeling.jobs import chunks
from labeling.models import (
    FrameScore,
    ModelVersion,
    Project,
    QueueItem,
    ScoringChunk,
    ScoringRun,
)
from labeling.sampling import images as images_mod
from labeling.sampling import segment_ranking, strategies

CHUNK_SIZE = settings.AERIE_SCORING_CHUNK
BATCH_SIZE = settings.AERIE_SCORING_BATCH
STALE_S = settings.AERIE_SCORING_STALE_S
RESCORE_EVERY_S = settings.AERIE_RESCORE_EVERY_S
IMAGE_SIDE = {ModelVersion.DETECTOR: 320, ModelVersion.CLASSIFIER: 224}


class ScoringError(ValueError):
    """Scoring cannot start (no current model, nothing to score)."""


def current_models(project_id: int) -> dict[str, ModelVersion]:
    return {m.kind: m for m in ModelVersion.objects.filter(project_id=project_id, is_current=True)}


def start_run(project: Project, *, reason: str, user=None, chunk_size: int | None = None) -> ScoringRun:
    """Record a run and its chunks; the caller sends the chunks to workers (`send_chunks`).
    A run already going for the same models is returned as it is; one for older models is
    superseded (its chunks stop writing)."""
    chunk_size = chunk_size or CHUNK_SIZE
    models = current_models(project.pk)
    if not models:
        raise ScoringError("the project has no current model: register one and make it current")
    detector, classifier = models.get(ModelVersion.DETECTOR), models.get(ModelVersion.CLASSIFIER)
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()  # one starter at a time
        running = ScoringRun.objects.filter(project=project, status=ScoringRun.RUNNING).first()
        if running and running.detector_id == (detector and detector.pk) and \
                running.classifier_id == (classifier and classifier.pk):
            return running
        if running:
            ScoringRun.objects.filter(pk=running.pk).update(status=ScoringRun.SUPERSEDED, finished_at=timezone.now(),
                                                            message="a newer model became current")
        frame_ids = _frames_to_score(project)
        run = ScoringRun.objects.create(
            project=project, detector=detector, classifier=classifier, strategy=project.sampling_strategy,
            reason=reason, chunks_total=(len(frame_ids) + chunk_size - 1) // chunk_size, frames_total=len(frame_ids),
            created_by=user if getattr(user, "is_authenticated", False) else None)
        chunks.make(ScoringChunk, run, frame_ids, chunk_size)
        audit.record(user, "scoring.start", run, {
            "project": project.pk, "reason": reason, "frames": len(frame_ids), "strategy": run.strategy,
            "detector": detector and detector.pk, "classifier": classifier and classifier.pk})
        if not frame_ids:
            transaction.on_commit(lambda: finalize(run.pk))
    return run


def _frames_to_score(project: Project) -> list[int]:
    """The open queue's frames; for a segment project, every frame of its open segments."""
    if project.work_unit == Project.SEGMENT:
        with connection.cursor() as cur:
            cur.execute(segment_ranking.FRAMES_TO_SCORE, [project.pk])
            return [r[0] for r in cur.fetchall()]
    return list(QueueItem.objects.filter(project=project, is_open=True, gold=False)
                .order_by("frame_id").values_list("frame_id", flat=True))


def claim(chunk_id: int, me: str, stale_s: float = STALE_S):
    return chunks.claim(ScoringChunk, chunk_id, me, stale_s)


_model_cache: dict[int, object] = {}


def model_for(version: ModelVersion):
    """The version's model, verified and loaded once per process."""
    from labeling.sampling import nets, registry

    model = _model_cache.get(version.pk)
    if model is None:
        nets.set_threads()
        model = registry.load(version).to(nets.device())
        _model_cache.clear()  # one project's models at a time is what a worker needs
        _model_cache[version.pk] = model
    return model


def _frames(frame_ids: list[int]) -> list[tuple[int, str]]:
    with connection.cursor() as cur:
        cur.execute(f"SELECT f.id, f.sha256, f.ext, {custody.DERIVED_FOR_MODELS_SQL} FROM labeling_frame f "
                    "WHERE f.id = ANY(%s) ORDER BY f.id", [frame_ids])
        return [(fid, custody.model_image(sha, ext, dsha)) for fid, sha, ext, dsha in cur.fetchall()]


def _sensitive_columns(version: ModelVersion | None) -> list[int]:
    """Output columns of the version's classes that the ontology flags sensitive."""
    if version is None:
        return []
    from labeling.work.payloads import classes_of

    classes = classes_of(version.ontology_version_id)
    return [i for i, key in enumerate(version.class_map) if key in classes and classes[key].sensitive]


@dataclass
class Scored:
    """One frame under a run's models. `sensitive`: the model's highest probability for a
    sensitive class on the frame (None when no model class is sensitive); `detections`: the
    detector's top boxes in frame pixels, the suggestions people see (None without a detector)."""

    frame_id: int
    score: float
    detector: float | None
    classifier: float | None
    embedding: list[float]
    sensitive: float | None
    detections: list[dict] | None


def compute(run: ScoringRun, frame_ids: list[int], on_batch=None) -> list[Scored]:
    """Score frames with the run's models. `on_batch()` is called after each batch (the heartbeat)."""
    from labeling.sampling import nets

    versions = [v for v in (run.detector, run.classifier) if v is not None]
    side = max(IMAGE_SIDE[v.kind] for v in versions)
    det_sensitive, cls_sensitive = _sensitive_columns(run.detector), _sensitive_columns(run.classifier)
    frames = _frames(frame_ids)
    out = []
    for batch_frames, decoded in zip(images_mod.batches(frames, BATCH_SIZE),
                                     images_mod.prefetched([name for _, name in frames], side, BATCH_SIZE)):
        tensors = [images_mod.to_tensor(pixels) for pixels, _ in decoded]
        det = nets.infer(model_for(run.detector), tensors) if run.detector else None
        cls = nets.infer(model_for(run.classifier), tensors) if run.classifier else None
        for i, (frame_id, _) in enumerate(batch_frames):
            d = nets.detector_score(det[i].box_probas, run.strategy) if det else None
            c = nets.classifier_score(cls[i].tag_probas, run.strategy) if cls else None
            embedding = (det or cls)[i].embedding
            sensitive = [0.0] if det_sensitive or cls_sensitive else []
            if det_sensitive and len(det[i].box_probas):
                sensitive.append(float(det[i].box_probas[:, [k + 1 for k in det_sensitive]].max()))
            if cls_sensitive:
                sensitive.append(float(cls[i].tag_probas[cls_sensitive].max()))
            detections = None
            if det:
                scale = decoded[i][1]
                detections = [{"class": run.detector.class_map[k], "score": round(score, 4),
                               "x": round(x1 / scale, 1), "y": round(y1 / scale, 1),
                               "w": round((x2 - x1) / scale, 1), "h": round((y2 - y1) / scale, 1)}
                              for k, score, x1, y1, x2, y2 in det[i].detections if k < len(run.detector.class_map)]
            out.append(Scored(frame_id, (d or 0.0) + (c or 0.0), d, c, [round(float(v), 6) for v in embedding],
                              max(sensitive) if sensitive else None, detections))
        if on_batch:
            on_batch()
    return out


def score_chunk(chunk_id: int, me: str | None = None) -> int:
    """Claim, score and store one chunk. Returns the number of frames written (0 when the chunk
    was done, claimed by a live worker, or its run was superseded)."""
    me = me or chunks.worker_name()
    claimed = claim(chunk_id, me)
    if claimed is None:
        return 0
    run_id, frame_ids = claimed
    run = ScoringRun.objects.select_related("detector", "classifier", "project").get(pk=run_id)
    if run.status != ScoringRun.RUNNING:
        chunks.drop(ScoringChunk, chunk_id)
        return 0
    rows = compute(run, list(frame_ids), on_batch=chunks.Beat(ScoringChunk, chunk_id, me, STALE_S))
    return store(run, chunk_id, me, rows)


def store(run: ScoringRun, chunk_id: int, me: str, rows) -> int:
    """Write a chunk's scores, mark it done and audit every score, in one transaction. Nothing is
    written when another worker completed the chunk first or the run stopped."""
    with transaction.atomic():
        chunk = chunks.finish(ScoringChunk, chunk_id, me)
        if chunk is None:
            return 0
        if not ScoringRun.objects.select_for_update().filter(pk=run.pk, status=ScoringRun.RUNNING).exists():
            return 0
        FrameScore.objects.bulk_create(
            [FrameScore(run_id=run.pk, frame_id=r.frame_id, score=r.score, detector_score=r.detector,
                        classifier_score=r.classifier, embedding=r.embedding, detections=r.detections)
             for r in rows], ignore_conflicts=True)
        ScoringRun.objects.filter(pk=run.pk).update(chunks_done=F("chunks_done") + 1,
                                                    frames_done=F("frames_done") + len(rows))
        audit.record(None, "scoring.chunk", run, {
            "chunk": chunk.number, "detector": run.detector_id, "classifier": run.classifier_id,
            "strategy": run.strategy, "worker": me, "scores": [[r.frame_id, round(r.score, 6)] for r in rows]})
        _flag_sensitive(run, rows)
        done, total = ScoringRun.objects.filter(pk=run.pk).values_list("chunks_done", "chunks_total").get()
        if done >= total:
            jobs.enqueue("finalize_scoring", run.pk)
    return len(rows)


def _flag_sensitive(run: ScoringRun, rows) -> None:
    """Frames the model finds graphic (a sensitive class above the project's threshold) become
    sensitive, with the model version recorded as the flag's source (annotator protection)."""
    from labeling.protection.flags import flag_from_model

    scores = [(r.frame_id, r.sensitive) for r in rows if r.sensitive is not None]
    if scores:
        flag_from_model(run.project, scores, run.detector if _sensitive_columns(run.detector) else run.classifier)


# a frame's stratum for the batch (labeling.footage.conditions): thermal, else night, else blurred
_OPEN_SCORES = """
SELECT s.frame_id, s.score, s.embedding, f.sequence_id, f.index,
       CASE WHEN c.frame_id IS NULL THEN 'unmeasured' WHEN c.thermal THEN 'thermal' WHEN c.night THEN 'night'
            WHEN c.blurred THEN 'blurred' ELSE 'day' END
FROM labeling_framescore s
JOIN labeling_frame f ON f.id = s.frame_id
LEFT JOIN labeling_framecondition c ON c.frame_id = s.frame_id
JOIN labeling_queueitem q ON q.frame_id = s.frame_id AND q.project_id = %s
WHERE s.run_id = %s AND q.is_open AND NOT q.gold
ORDER BY s.frame_id
"""

_LABELED_EMBEDDINGS = """
SELECT DISTINCT ON (s.frame_id) s.embedding
FROM labeling_framescore s
JOIN labeling_scoringrun r ON r.id = s.run_id AND r.project_id = %s
JOIN labeling_queueitem q ON q.frame_id = s.frame_id AND q.project_id = r.project_id
WHERE q.submitted > 0
ORDER BY s.frame_id DESC, s.scored_at DESC
LIMIT %s
"""

_APPLY = """
UPDATE labeling_queueitem q SET priority = v.p
FROM unnest(%s::bigint[], %s::float8[]) AS v(f, p)
WHERE q.project_id = %s AND q.frame_id = v.f
"""

_RECORD = """
UPDATE labeling_framescore s SET priority = v.p
FROM unnest(%s::bigint[], %s::float8[]) AS v(f, p)
WHERE s.run_id = %s AND s.frame_id = v.f
"""


def finalize(run_id: int, *, batch_size: int | None = None, min_gap: int | None = None) -> ScoringRun | None:
    """Turn a finished run's scores into queue priorities, at once (one transaction)."""
    with transaction.atomic():
        run = ScoringRun.objects.select_for_update().select_related("project").filter(pk=run_id).first()
        if run is None or run.status != ScoringRun.RUNNING or run.chunks_done < run.chunks_total:
            return run
        project = run.project
        if project.work_unit == Project.SEGMENT:
            ranked = _rank_segments(project, run, batch_size, min_gap)
            ScoringRun.objects.filter(pk=run.pk).update(status=ScoringRun.DONE, finished_at=timezone.now())
            audit.record(None, "scoring.applied", run, {
                "project": project.pk, "segments": ranked, "detector": run.detector_id,
                "classifier": run.classifier_id, "strategy": run.strategy})
            run.refresh_from_db()
            return run
        with connection.cursor() as cur:
            cur.execute(_OPEN_SCORES, [project.pk, run.pk])
            rows = cur.fetchall()
            cur.execute(_LABELED_EMBEDDINGS, [project.pk, 2000])
            labeled = [r[0] for r in cur.fetchall()]
            if rows:
                frame_ids = [r[0] for r in rows]
                priorities = strategies.queue_priorities(
                    np.array([r[1] for r in rows]), np.array([r[2] for r in rows], dtype=float),
                    np.array([r[3] for r in rows]), np.array([r[4] for r in rows]),
                    batch_size=batch_size or project.sampling_batch,
                    min_gap_frames=project.sampling_min_gap if min_gap is None else min_gap,
                    labeled_embeddings=np.array(labeled, dtype=float) if labeled else None,
                    strata=np.array([r[5] for r in rows]))
                values = [float(p) for p in priorities]
                cur.execute(_APPLY, [frame_ids, values, project.pk])
                cur.execute(_RECORD, [frame_ids, values, run.pk])
        ScoringRun.objects.filter(pk=run.pk).update(status=ScoringRun.DONE, finished_at=timezone.now())
        audit.record(None, "scoring.applied", run, {
            "project": project.pk, "frames": len(rows), "detector": run.detector_id,
            "classifier": run.classifier_id, "strategy": run.strategy})
    run.refresh_from_db()
    return run


def _rank_segments(project: Project, run: ScoringRun, batch_size: int | None, min_gap: int | None) -> int:
    """Queue priorities for a segment project's open segments (`segment_ranking`)."""
    with connection.cursor() as cur:
        cur.execute(segment_ranking.OPEN_SEGMENT_SCORES, [run.pk, project.pk])
        segments = segment_ranking.pool(cur.fetchall())
        if not segments.segment_ids:
            return 0
        cur.execute(_LABELED_EMBEDDINGS, [project.pk, 2000])
        labeled = [r[0] for r in cur.fetchall()]
        gap = segment_ranking.min_gap(project.sampling_min_gap if min_gap is None else min_gap,
                                      project.segment_length)
        priorities = strategies.queue_priorities(
            segments.scores, segments.embeddings, segments.sequence_ids, segments.first_indices,
            batch_size=batch_size or project.sampling_batch, min_gap_frames=gap,
            labeled_embeddings=np.array(labeled, dtype=float) if labeled else None)
        cur.execute(segment_ranking.APPLY, [segments.segment_ids, [float(p) for p in priorities], project.pk])
    return len(segments.segment_ids)


def pending_chunks(run_id: int) -> list[int]:
    return chunks.pending(ScoringChunk, run_id)


def sweep(stale_s: float = STALE_S) -> dict:
    """Resume what dead workers left: chunks whose claim went stale (and pending chunks whose
    message was lost) are sent again; finished runs that were not finalised are finalised."""
    resent, finalized = chunks.sweep(ScoringChunk, ScoringRun, "score_chunk", finalize, stale_s)
    return {"resent": resent, "finalized": finalized}


def rescore_due(every_s: float = RESCORE_EVERY_S) -> list[int]:
    """Projects with a current model whose last run is older than `every_s` (or that never ran)
    get a new run. Returns the new runs' ids."""
    started = []
    cutoff = timezone.now() - timezone.timedelta(seconds=every_s)
    for project in Project.objects.filter(model_versions__is_current=True).distinct():
        last = ScoringRun.objects.filter(project=project).exclude(status=ScoringRun.FAILED).first()
        if last and (last.status == ScoringRun.RUNNING or last.created_at >= cutoff):
            continue
        run = start_run(project, reason="schedule")
        send_chunks(run.pk)
        started.append(run.pk)
    return started


def send_chunks(run_id: int) -> int:
    """Send a run's unfinished chunks to the workers, once the run's transaction commits."""
    return chunks.send(ScoringChunk, run_id, "score_chunk")
