"""Celery entry points only: each calls a domain module."""
from celery import shared_task

from . import ingest


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def ingest_job(job_id: int) -> str:
    return ingest.run_job(job_id).status
