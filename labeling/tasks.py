"""Celery entry points only: each calls a domain module.

Every task is idempotent and acknowledged late. A lost database connection (OperationalError,
InterfaceError) is retried with backoff, on a fresh connection (Celery's Django fix-up closes
the broken one before the next try)."""
from celery import shared_task
from django.db import InterfaceError, OperationalError

from labeling.footage import ingest

#: worth another try: the database went away for a moment, or a file system hiccupped
TRANSIENT = (OperationalError, InterfaceError, OSError)
RETRY = dict(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=60, max_retries=8)


@shared_task(**RETRY)
def ingest_job(job_id: int) -> str:
    return ingest.run_job(job_id).status


# frame_agreement and gold_check: one check each. The web processes now send batches
# (the *_many tasks below); these stay for messages queued by an earlier release and for callers
# that want one check now.
@shared_task(**RETRY)
def frame_agreement(project_id: int, frame_id: int) -> float | None:
    from labeling.quality import frame_scoring

    result = frame_scoring.evaluate_frame(project_id, frame_id)
    return result.score if result else None


@shared_task(**RETRY)
def gold_check(annotation_id: int) -> bool | None:
    from labeling.quality import gold

    result = gold.check(annotation_id)
    return result.passed if result else None


@shared_task(**RETRY)
def frame_agreement_many(calls: list) -> int:
    """A web process's outbox (labeling.jobs.outbox): [[project_id, frame_id], ...]. Each check is
    idempotent, so a retry after a lost connection redoes the batch safely."""
    from labeling.quality import frame_scoring

    for project_id, frame_id in dict.fromkeys(tuple(c) for c in calls):
        frame_scoring.evaluate_frame(project_id, frame_id)
    return len(calls)


@shared_task(**RETRY)
def gold_check_many(calls: list) -> int:
    """A web process's outbox: [[annotation_id], ...] on gold frames."""
    from labeling.quality import gold

    for (annotation_id,) in calls:
        gold.check(annotation_id)
    return len(calls)


@shared_task(**RETRY)
def segment_agreement_many(calls: list) -> int:
    """A web process's outbox: [[project_id, segment_id], ...] of segments whose round is complete."""
    from labeling.quality import segment_scoring

    for project_id, segment_id in dict.fromkeys(tuple(c) for c in calls):
        segment_scoring.evaluate_segment(project_id, segment_id)
    return len(calls)


# --- agreement re-scoring (labeling/quality/rescoring.py) ---------------------------------------

@shared_task(**RETRY)
def start_agreement_rescore(project_id: int, reason: str, user_id: int | None = None) -> int | None:
    """A project's thresholds changed (labeling.work.projects): score every frame again."""
    from django.contrib.auth import get_user_model

    from labeling.models import Project
    from labeling.quality import rescoring

    project = Project.objects.filter(pk=project_id).first()
    if project is None or project.work_unit == Project.SEGMENT:
        return None
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    return rescoring.start_run(project, reason=reason, user=user).pk


@shared_task(**RETRY)
def agreement_chunk(chunk_id: int) -> int:
    from labeling.quality import rescoring

    return rescoring.process_chunk(chunk_id)


@shared_task(**RETRY)
def finalize_agreement_rescore(run_id: int) -> str | None:
    from labeling.quality import rescoring

    run = rescoring.finalize(run_id)
    return run.status if run else None


@shared_task(**RETRY)
def export_job(export_id: int) -> str:
    from labeling.exchange import exports

    return exports.run(export_id).status


# --- the sampler (labeling/sampling/) -----------------------------------------------------------

@shared_task(**RETRY)
def train_model(run_id: int) -> str:
    from labeling.sampling import training

    return training.run(run_id).status


@shared_task(**RETRY)
def start_scoring(project_id: int, reason: str = "new current model") -> int | None:
    from labeling.models import Project
    from labeling.sampling import scoring

    try:
        run = scoring.start_run(Project.objects.get(pk=project_id), reason=reason)
    except scoring.ScoringError:
        return None  # the model stopped being current meanwhile
    scoring.send_chunks(run.pk)
    return run.pk


@shared_task(**RETRY)
def score_chunk(chunk_id: int) -> int:
    from labeling.sampling import scoring

    return scoring.score_chunk(chunk_id)


@shared_task(**RETRY)
def finalize_scoring(run_id: int) -> str | None:
    from labeling.sampling import scoring

    run = scoring.finalize(run_id)
    return run.status if run else None


@shared_task(**RETRY)
def propagate(run_id: int) -> str:
    """Propagate a box through a segment (labeling.work.propagation_runs); resumes from its last box."""
    from labeling.work import propagation_runs

    return propagation_runs.run_now(run_id).status


# --- redaction (labeling/redaction/) ----------------------------------------------------------

@shared_task(**RETRY)
def start_redaction(dataset_id: int, reason: str = "by hand") -> int:
    from labeling.models import Dataset
    from labeling.redaction import runs

    return runs.start_and_send(Dataset.objects.get(pk=dataset_id), reason=reason).pk


@shared_task(**RETRY)
def redaction_chunk(chunk_id: int) -> int:
    from labeling.redaction import runs

    return runs.process_chunk(chunk_id)


@shared_task(**RETRY)
def finalize_redaction(run_id: int) -> str | None:
    from labeling.redaction import runs

    run = runs.finalize(run_id)
    return run.status if run else None


@shared_task(**RETRY)
def redact_frames(frame_ids: list) -> int:
    from labeling.redaction import derived

    return derived.follow_approvals(frame_ids)


@shared_task
def housekeeping() -> dict:
    """Celery beat: resume the scoring chunks and exports that dead workers left, re-score
    projects that are due, and run the quality checks no outbox delivered."""
    from labeling.exchange.exports import jobs
    from labeling.governance import evaluation
    from labeling.quality import frame_scoring, rescoring, segment_scoring
    from labeling.redaction import runs as redaction_runs
    from labeling.sampling import scoring
    from labeling.work import propagation_runs

    return {**segment_scoring.catch_up(), **scoring.sweep(), "started": scoring.rescore_due(), "exports_resent": jobs.sweep(),
            "propagations_resent": propagation_runs.sweep(), **redaction_runs.sweep(), **frame_scoring.catch_up(),
            **evaluation.sweep(), **rescoring.sweep()}


# --- the audit trail ----------------------------------------------------------------------------

@shared_task(ignore_result=True)
def link_audit() -> int:
    """Chain the audit events committed since the last run (celery beat, AERIE_AUDIT_LINK_EVERY_S)."""
    from labeling.audit import chain

    return chain.link_pending()


@shared_task(acks_late=True)
def seal_audit() -> int | None:
    """Sign the audit chain's head (celery beat, AERIE_AUDIT_SEAL_EVERY_S)."""
    from labeling.audit import chain

    made = chain.seal()
    return made.seq if made else None


# --- model evaluation (labeling/governance/evaluation.py) ----------------------------------------

@shared_task(**RETRY)
def evaluation_chunk(chunk_id: int) -> int:
    from labeling.governance import evaluation

    return evaluation.process_chunk(chunk_id)


@shared_task(**RETRY)
def finalize_evaluation(run_id: int) -> str | None:
    from labeling.governance import evaluation

    run = evaluation.finalize(run_id)
    return run.status if run else None
# --- end model evaluation ------------------------------------------------------------------------


# --- retention (labeling/custody/) --------------------------------------------------------------

@shared_task(**RETRY)
def retention_run(run_id: int) -> str:
    """Apply the retention policies (a started run, or one resumed after its worker died)."""
    from labeling.custody import retention

    return retention.run(run_id).status


@shared_task(acks_late=True)
def retention_sweep() -> dict:
    """Celery beat (AERIE_RETENTION_SWEEP_S): start a run when one is due, resume a stale one."""
    from labeling.custody import retention

    return retention.sweep()
