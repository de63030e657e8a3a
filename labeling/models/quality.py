"""Quality control: agreement per frame and per annotator pair, gold frames and checks, and the
QA review queue with its decisions.

Agreement rows are derived data (recomputed when an annotator revises); gold checks and review
decisions are history and append-only."""
from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from .chunks import Chunk


class FrameAgreement(models.Model):
    """Agreement among the annotators of one round of a frame (a frame sent back for
    relabelling starts a new round)."""

    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="frame_agreements")
    frame = models.ForeignKey("labeling.Frame", on_delete=models.PROTECT, related_name="+")
    sequence = models.ForeignKey("labeling.Sequence", on_delete=models.PROTECT, related_name="+")
    round = models.PositiveSmallIntegerField(default=0)
    computed_at = models.DateTimeField()
    annotators = ArrayField(models.BigIntegerField(), help_text="User ids, in the order of the units' values")
    annotations = ArrayField(models.BigIntegerField(), help_text="The revisions compared")
    score = models.FloatField(null=True, help_text="min(box score, tag score)")
    box_score = models.FloatField(null=True, help_text="Mean F1 over annotator pairs")
    tag_score = models.FloatField(null=True, help_text="Share of tags everyone agrees on")
    units = models.JSONField(default=list, help_text="Per object: each annotator's class, or absent")
    tag_units = models.JSONField(default=dict, help_text="Per tag: each annotator's value, or absent")
    attribute_units = models.JSONField(default=dict, help_text="class.attribute -> per object, numeric values")
    passed = models.BooleanField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "frame", "round"], name="agreement_once_per_round")]
        indexes = [models.Index(fields=["project", "computed_at"], name="agreement_time_idx")]


class PairAgreement(models.Model):
    """Two annotators on one frame; `a` is the reference (the lower user id)."""

    agreement = models.ForeignKey(FrameAgreement, on_delete=models.CASCADE, related_name="pairs")
    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="+")
    annotator_a = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    annotator_b = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    precision = models.FloatField()
    recall = models.FloatField()
    f1 = models.FloatField()
    mean_iou = models.FloatField(null=True)
    matched = models.PositiveIntegerField()
    n_a = models.PositiveIntegerField()
    n_b = models.PositiveIntegerField()
    confusions = models.JSONField(default=list, help_text="[class of a, class of b] of overlapping boxes")
    per_class = models.JSONField(default=dict, help_text="class -> [matched, boxes of a, boxes of b]")

    class Meta:
        indexes = [models.Index(fields=["project", "annotator_a", "annotator_b"], name="pair_matrix_idx")]


class GoldFrame(models.Model):
    """A frame with a known answer, mixed unannounced into annotators' queues."""

    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="gold_frames")
    frame = models.ForeignKey("labeling.Frame", on_delete=models.PROTECT, related_name="+")
    answer = models.ForeignKey("labeling.Annotation", on_delete=models.PROTECT, related_name="+",
                               help_text="The reference labels")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "frame"], condition=Q(active=True),
                                               name="gold_once_per_frame")]


class GoldCheck(models.Model):
    """An annotator's submission on a gold frame, scored against the answer (append-only)."""

    gold = models.ForeignKey(GoldFrame, on_delete=models.PROTECT, related_name="checks")
    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="+")
    annotation = models.OneToOneField("labeling.Annotation", on_delete=models.PROTECT, related_name="gold_check")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    score = models.FloatField()
    precision = models.FloatField()
    recall = models.FloatField()
    passed = models.BooleanField()
    checked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["project", "annotator", "checked_at"], name="gold_accuracy_idx")]


class ReviewItem(models.Model):
    DISAGREEMENT = "disagreement"
    GOLD = "gold"
    FLAGGED = "flagged"
    REASONS = [(DISAGREEMENT, "Annotators disagree"), (GOLD, "Failed gold check"), (FLAGGED, "Flagged by annotator")]
    OPEN = "open"
    RESOLVED = "resolved"

    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="review_items")
    frame = models.ForeignKey("labeling.Frame", on_delete=models.PROTECT, related_name="+")
    sequence = models.ForeignKey("labeling.Sequence", on_delete=models.PROTECT, related_name="+")
    round = models.PositiveSmallIntegerField(default=0)
    reason = models.CharField(max_length=20, choices=REASONS)
    severity = models.FloatField(help_text="The agreement or gold score: lowest first")
    status = models.CharField(max_length=10, default=OPEN, choices=[(OPEN, "Open"), (RESOLVED, "Resolved")])
    opened_at = models.DateTimeField(auto_now_add=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    annotators = ArrayField(models.BigIntegerField(), default=list)
    classes = ArrayField(models.CharField(max_length=100), default=list)
    agreement = models.ForeignKey(FrameAgreement, null=True, on_delete=models.SET_NULL, related_name="+")
    gold_check = models.ForeignKey(GoldCheck, null=True, on_delete=models.PROTECT, related_name="+")
    segment = models.ForeignKey("labeling.Segment", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                help_text="A segment's review (its frame is the segment's first)")
    resolved_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["severity", "opened_at"]
        constraints = [models.UniqueConstraint(fields=["project", "frame", "reason", "round"],
                                               condition=Q(status="open"), name="review_open_once")]
        indexes = [models.Index(fields=["project", "severity", "opened_at"], condition=Q(status="open"),
                                name="review_queue_idx")]


class ReviewDecision(models.Model):
    """What a QA lead decided on a review item (append-only)."""

    ACCEPT = "accept"
    EDIT = "edit"
    RELABEL = "relabel"
    DISMISS = "dismiss"
    AGREED = "agreed"  # the annotators' own revisions brought the frame above the threshold
    CHOICES = [(ACCEPT, "Accepted one version"), (EDIT, "Edited an approved version"),
               (RELABEL, "Sent back for relabelling"), (DISMISS, "Dismissed"), (AGREED, "Agreed after revision")]

    item = models.ForeignKey(ReviewItem, on_delete=models.PROTECT, related_name="decisions")
    decision = models.CharField(max_length=10, choices=CHOICES)
    comment = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(auto_now_add=True)
    accepted = models.ForeignKey("labeling.Annotation", null=True, on_delete=models.PROTECT, related_name="+",
                                 help_text="The annotator's version that was accepted")
    result = models.ForeignKey("labeling.Annotation", null=True, on_delete=models.PROTECT, related_name="+",
                               help_text="The approved revision this decision made")


class AgreementRun(models.Model):
    """Re-scoring the agreement of a project's frames (all of them, or those a quarantine
    touched): a chunked job (labeling.jobs.chunks, labeling.quality.rescoring) with its progress
    and what it changed. Started by a change of the project's IoU or agreement threshold or
    consensus quorum, a quarantine or its lifting, or a QA lead."""

    RUNNING, DONE, SUPERSEDED = "running", "done", "superseded"
    STATUS_CHOICES = [(s, s.title()) for s in (RUNNING, DONE, SUPERSEDED)]

    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="agreement_runs")
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=RUNNING)
    reason = models.CharField(max_length=200)
    whole_project = models.BooleanField(default=True, help_text="Every frame, or only the frames given")
    params = models.JSONField(default=dict, help_text="The project's thresholds when the run started")
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    frames_total = models.PositiveIntegerField(default=0)
    frames_done = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, help_text="scored, passed, below, consensus, review opened/closed")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"agreement run {self.pk} ({self.status} {self.chunks_done}/{self.chunks_total})"


class AgreementChunk(Chunk):
    """A slice of an agreement run's frames (labeling.jobs.chunks)."""

    run = models.ForeignKey(AgreementRun, on_delete=models.CASCADE, related_name="chunks")
    counts = models.JSONField(default=dict, help_text="What scoring the chunk changed (labeling.quality.bulk_scoring)")

    class Meta(Chunk.Meta):
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="agreement_chunk_unique")]
