"""The labeling queue: one QueueItem per (project, frame), and one Assignment per annotator
lease on it.

QueueItem carries what the next-frame query needs so that it is one index scan: the priority
(uncertainty score, filled by the sampler), a fallback order key (project stride, then
sequence order), how many live leases and submissions the frame has, and whether it is still
open (fewer than `overlap`). Handing out a frame locks its QueueItem row
(`FOR UPDATE SKIP LOCKED`) and updates the counts in the same transaction."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class QueueItem(models.Model):
    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="queue_items")
    frame = models.ForeignKey("labeling.Frame", on_delete=models.PROTECT, related_name="queue_items",
                              help_text="The frame, or a segment's first frame")
    segment = models.OneToOneField("labeling.Segment", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="queue_item", help_text="Set in segment projects")
    priority = models.FloatField(null=True, blank=True, help_text="Uncertainty score; higher first; null = unscored")
    order_key = models.BigIntegerField(help_text="Order without scores: the project's stride, then sequence order")
    assigned = models.PositiveSmallIntegerField(default=0, help_text="Live leases plus submissions")
    submitted = models.PositiveSmallIntegerField(default=0)
    is_open = models.BooleanField(default=True, help_text="assigned < project overlap (never for gold frames)")
    gold = models.BooleanField(default=False, help_text="A gold frame: handed out by the gold policy only")
    round = models.PositiveSmallIntegerField(default=0, help_text="Bumped when QA sends the frame back")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "frame"], name="queue_item_unique"),
            models.CheckConstraint(condition=Q(submitted__lte=F("assigned")), name="queue_item_counts"),
        ]
        indexes = [
            models.Index("project", F("priority").desc(nulls_last=True), "order_key", name="queue_next_idx",
                         condition=Q(is_open=True)),
            # gold frames of a project (few): the gold policy looks them up on every lease
            models.Index(fields=["project"], name="queue_gold_idx", condition=Q(gold=True)),
        ]

    def __str__(self) -> str:
        return f"queue item {self.pk} (frame {self.frame_id})"


class Assignment(models.Model):
    ACTIVE = "active"
    SUBMITTED = "submitted"
    SKIPPED = "skipped"
    EXPIRED = "expired"
    RETURNED = "returned"  # submitted, then sent back by QA: the frame is relabelled by others
    STATUS_CHOICES = [(s, s.title()) for s in (ACTIVE, SUBMITTED, SKIPPED, EXPIRED, RETURNED)]

    item = models.ForeignKey(QueueItem, on_delete=models.PROTECT, related_name="assignments")
    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="assignments")
    frame = models.ForeignKey("labeling.Frame", on_delete=models.PROTECT, related_name="assignments")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments")
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=ACTIVE)
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=500, blank=True)
    late = models.BooleanField(default=False, help_text="Submitted after the lease had expired (kept, flagged)")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "annotator"], name="assignment_once_per_annotator"),
        ]
        indexes = [
            models.Index(fields=["expires_at"], name="assignment_live_idx", condition=Q(status="active")),
            models.Index(fields=["annotator", "project", "status"], name="assignment_mine_idx"),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk}: frame {self.frame_id} → {self.annotator_id} ({self.status})"


class Draft(models.Model):
    """Autosaved work in progress on an assignment. Not history: it is replaced on each save and
    becomes an Annotation revision on submit."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="draft")
    payload = models.JSONField()
    saved_at = models.DateTimeField(auto_now=True)
