"""Model governance: held-out evaluation sets and evaluation runs per model version, promotion of
a version to *deployed* under a two-person rule, incidents filed against versions, and quarantine
of an annotator's submissions (the response to poisoned labels)."""
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from .chunks import Chunk


class EvaluationSet(models.Model):
    """A frozen, signed list of approved frames of a project that training never uses. Each frame
    is recorded with the approved revision it froze, so later label changes are reported against
    the set."""

    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="evaluation_sets")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    selection = models.JSONField(default=dict, blank=True,
                                 help_text="How the frames were chosen: sequences, conditions, an area, by hand")
    frame_ids = ArrayField(models.BigIntegerField())
    annotation_ids = ArrayField(models.BigIntegerField(), help_text="Each frame's approved revision when frozen")
    required = models.BooleanField(default=False, help_text="Promotion needs an evaluation run on this set")
    manifest_sha256 = models.CharField(max_length=64)
    signature = models.TextField()
    key_id = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["project", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="evaluation_set_name_unique")]

    def __str__(self) -> str:
        return f"evaluation set {self.name} ({len(self.frame_ids)} frames)"


class EvaluationRun(models.Model):
    """One model version evaluated on one evaluation set: a chunked job (labeling.jobs.chunks);
    the metrics (overall, per class, per slice) and the latency at batch 1 when it is done."""

    RUNNING, DONE, FAILED = "running", "done", "failed"
    STATUS_CHOICES = [(s, s.title()) for s in (RUNNING, DONE, FAILED)]

    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="evaluation_runs")
    model_version = models.ForeignKey("labeling.ModelVersion", on_delete=models.PROTECT, related_name="evaluations")
    evaluation_set = models.ForeignKey(EvaluationSet, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=8, choices=STATUS_CHOICES, default=RUNNING)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    frames_total = models.PositiveIntegerField(default=0)
    frames_done = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True, help_text="overall, per_class, slices")
    latency_ms_b1 = models.FloatField(null=True, blank=True, help_text="Forward pass of one frame, median")
    hardware = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class EvaluationChunk(Chunk):
    """A slice of an evaluation run's frames (labeling.jobs.chunks)."""

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="chunks")

    class Meta(Chunk.Meta):
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="evaluation_chunk_unique")]


class EvaluationOutput(models.Model):
    """The model's detections on one frame of an evaluation run (frame pixels), kept so that the
    run's metrics can be computed again and its failures looked at."""

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="outputs")
    frame = models.ForeignKey("labeling.Frame", on_delete=models.PROTECT, related_name="+")
    detections = models.JSONField(default=list, help_text="[{class, x, y, w, h, score}]")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "frame"], name="evaluation_output_unique")]


class Promotion(models.Model):
    """A proposal to deploy a model version, and its decision (two-person rule: the approver
    neither trained nor uploaded the version)."""

    PROPOSED, APPROVED, REJECTED, WITHDRAWN = "proposed", "approved", "rejected", "withdrawn"
    STATUS_CHOICES = [(s, s.title()) for s in (PROPOSED, APPROVED, REJECTED, WITHDRAWN)]

    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="promotions")
    model_version = models.ForeignKey("labeling.ModelVersion", on_delete=models.PROTECT, related_name="promotions")
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=PROPOSED)
    checks = models.JSONField(default=dict, blank=True,
                              help_text="Evaluation runs used, slices against the deployed version, incidents")
    note = models.TextField(blank=True)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-proposed_at"]
        constraints = [models.UniqueConstraint(fields=["model_version"], condition=Q(status="proposed"),
                                               name="one_open_promotion_per_version")]


class Incident(models.Model):
    """Something a model version did wrong, filed by anyone on the project, triaged by QA leads."""

    FALSE_DETECTION, MISSED_OBJECT, HARMFUL, OTHER = "false_detection", "missed_object", "harmful", "other"
    KINDS = [(FALSE_DETECTION, "A confident wrong detection"), (MISSED_OBJECT, "A missed object"),
             (HARMFUL, "A harmful failure"), (OTHER, "Other")]
    OPEN, CONFIRMED, NOT_MODEL, FIXED = "open", "confirmed", "not_model_fault", "fixed"
    STATUS_CHOICES = [(OPEN, "Open"), (CONFIRMED, "Confirmed"), (NOT_MODEL, "Not a model fault"), (FIXED, "Fixed")]

    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="incidents")
    model_version = models.ForeignKey("labeling.ModelVersion", on_delete=models.PROTECT, related_name="incidents")
    frame = models.ForeignKey("labeling.Frame", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=KINDS)
    note = models.TextField()
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=OPEN)
    fixed_in = models.ForeignKey("labeling.ModelVersion", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    filed_at = models.DateTimeField(auto_now_add=True)
    triaged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    triaged_at = models.DateTimeField(null=True, blank=True)
    triage_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-filed_at"]


class Quarantine(models.Model):
    """An annotator's submissions to a project over a time range, set aside: they stop counting
    toward agreement and consensus until the quarantine is lifted. Nothing is deleted."""

    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="quarantines")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    lift_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")),
                                              name="quarantine_range_positive")]
