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


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def export_job(export_id: int) -> str:
    from . import exports

    return exports.run(export_id).status
