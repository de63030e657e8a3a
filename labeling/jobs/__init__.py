"""Background work: sending Celery tasks by name after commit (`send`), and the per-process
outbox that batches the quality checks (`outbox`)."""
from labeling.jobs.send import enqueue, send_now

__all__ = ["enqueue", "send_now"]
