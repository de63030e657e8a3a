"""Celery entry points only: each calls a domain module."""
from celery import shared_task

from . import ingest


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def ingest_job(job_id: int) -> str:
    return ingest.run_job(job_id).status


@shared_task(acks_late=True)
def frame_agreement(project_id: int, frame_id: int) -> float | None:
    from . import quality

    result = quality.evaluate_frame(project_id, frame_id)
    return result.score if result else None


@shared_task(acks_late=True)
def gold_check(annotation_id: int) -> bool | None:
    from . import gold

    result = gold.check(annotation_id)
    return result.passed if result else None


# --- the sampler (labeling/sampling/) -----------------------------------------------------------

@shared_task(acks_late=True)
def train_model(run_id: int) -> str:
    from .sampling import training

    return training.run(run_id).status


@shared_task(acks_late=True)
def start_scoring(project_id: int, reason: str = "new current model") -> int | None:
    from .models import Project
    from .sampling import scoring

    try:
        run = scoring.start_run(Project.objects.get(pk=project_id), reason=reason)
    except scoring.ScoringError:
        return None  # the model stopped being current meanwhile
    scoring.send_chunks(run.pk)
    return run.pk


@shared_task(acks_late=True)
def score_chunk(chunk_id: int) -> int:
    from .sampling import scoring

    return scoring.score_chunk(chunk_id)


@shared_task(acks_late=True)
def finalize_scoring(run_id: int) -> str | None:
    from .sampling import scoring

    run = scoring.finalize(run_id)
    return run.status if run else None


@shared_task
def scoring_housekeeping() -> dict:
    """Celery beat: resume chunks dead workers left, and re-score projects that are due."""
    from .sampling import scoring

    return {**scoring.sweep(), "started": scoring.rescore_due()}


# --- the audit trail ----------------------------------------------------------------------------

@shared_task(ignore_result=True)
def link_audit() -> int:
    """Chain the audit events committed since the last run (celery beat, AERIE_AUDIT_LINK_EVERY_S)."""
    from .audit import chain

    return chain.link_pending()


@shared_task(acks_late=True)
def seal_audit() -> int | None:
    """Sign the audit chain's head (celery beat, AERIE_AUDIT_SEAL_EVERY_S)."""
    from .audit import chain

    made = chain.seal()
    return made.seq if made else None
