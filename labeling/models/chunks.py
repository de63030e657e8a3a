"""The chunk of a chunked background job (scoring, redaction): a slice of a run's frames that
any worker on any machine claims, works on and marks done (labeling.jobs.chunks)."""
from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models


class Chunk(models.Model):
    """A worker claims a chunk (row lock, SKIP LOCKED), works on it and marks it done in one
    transaction with its results; a claim whose heartbeat is older than the stale limit is taken
    over by another worker (the first one died). Subclasses add `run`, a foreign key to their run
    (related_name `chunks`)."""

    PENDING, CLAIMED, DONE = "pending", "claimed", "done"
    STATUS_CHOICES = [(s, s.title()) for s in (PENDING, CLAIMED, DONE)]

    number = models.PositiveIntegerField()
    frame_ids = ArrayField(models.BigIntegerField())
    status = models.CharField(max_length=8, choices=STATUS_CHOICES, default=PENDING)
    claimed_by = models.CharField(max_length=120, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["run", "number"]
