"""The model registry: signed model versions per project, and which one is current."""
from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from .chunks import Chunk


class ModelVersion(models.Model):
    DETECTOR = "detector"
    CLASSIFIER = "classifier"
    KINDS = [(DETECTOR, "Box detector"), (CLASSIFIER, "Frame-tag classifier")]

    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="model_versions")
    kind = models.CharField(max_length=12, choices=KINDS)
    architecture = models.CharField(max_length=80, help_text="A torchvision architecture from the allow-list")
    ontology_version = models.ForeignKey("ontology.OntologyVersion", on_delete=models.PROTECT, related_name="+")
    class_map = models.JSONField(help_text="Ontology class keys in the model's output order")
    blob_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    signature = models.TextField(help_text="Ed25519 over the signed statement (base64)")
    key_id = models.CharField(max_length=16, help_text="Which trusted key signed it")
    metrics = models.JSONField(default=dict, blank=True)
    lineage = models.JSONField(default=dict, blank=True,
                               help_text="Dataset version, ontology version, annotation snapshot, parent model")
    is_current = models.BooleanField(default=False, help_text="The version the sampler uses")
    is_deployed = models.BooleanField(default=False, help_text="Promoted: the version downstream systems use")
    deployed_at = models.DateTimeField(null=True, blank=True)
    intended_use = models.TextField(blank=True, help_text="Written by the trainer, for the model card")
    limitations = models.TextField(blank=True, help_text="Written by the trainer, for the model card")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "kind"], condition=Q(is_current=True),
                                    name="one_current_model_per_kind"),
            models.UniqueConstraint(fields=["project", "kind"], condition=Q(is_deployed=True),
                                    name="one_deployed_model_per_kind"),
        ]
        permissions = [("approve_modelversion", "Can approve or reject a model version's promotion")]

    def __str__(self) -> str:
        return f"{self.architecture} {self.sha256[:12]} ({self.project_id})"


class TrainingRun(models.Model):
    """One training job: which data trained which model, with progress per epoch."""

    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUS_CHOICES = [(s, s.title()) for s in (QUEUED, RUNNING, DONE, FAILED)]

    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="training_runs")
    kind = models.CharField(max_length=12, choices=ModelVersion.KINDS)
    architecture = models.CharField(max_length=80)
    parent = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               help_text="The version it was fine-tuned from (the current one when it started)")
    params = models.JSONField(default=dict, blank=True, help_text="Epochs, image size, learning rate, seed, …")
    make_current = models.BooleanField(default=False, help_text="Make the result current when it is registered")
    status = models.CharField(max_length=8, choices=STATUS_CHOICES, default=QUEUED)
    epochs_done = models.PositiveIntegerField(default=0)
    progress = models.JSONField(default=list, blank=True, help_text="One entry per finished epoch: loss and metrics")
    message = models.TextField(blank=True)
    result = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"training run {self.pk} ({self.kind}, {self.status})"


class ScoringRun(models.Model):
    """One pass of the current models over a project's open frames, split into chunks that any
    worker may claim. The queue's priorities change only when the whole run is finalised."""

    RUNNING, DONE, FAILED, SUPERSEDED = "running", "done", "failed", "superseded"
    STATUS_CHOICES = [(s, s.title()) for s in (RUNNING, DONE, FAILED, SUPERSEDED)]

    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="scoring_runs")
    detector = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    classifier = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    strategy = models.CharField(max_length=20)
    reason = models.CharField(max_length=40, help_text="new current model, schedule, or by hand")
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=RUNNING)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    frames_total = models.PositiveIntegerField(default=0)
    frames_done = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project"], condition=Q(status="running"), name="one_running_scoring_run"),
        ]

    def __str__(self) -> str:
        return f"scoring run {self.pk} ({self.status} {self.chunks_done}/{self.chunks_total})"


class ScoringChunk(Chunk):
    """A slice of a scoring run's frames (labeling.jobs.chunks)."""

    run = models.ForeignKey(ScoringRun, on_delete=models.CASCADE, related_name="chunks")

    class Meta(Chunk.Meta):
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="scoring_chunk_unique")]


class FrameScore(models.Model):
    """A frame's uncertainty under a scoring run's models, with the embedding the diversity
    rules use. Kept for every run: which score ordered the queue when is always traceable."""

    run = models.ForeignKey(ScoringRun, on_delete=models.CASCADE, related_name="scores")
    frame = models.ForeignKey("labeling.Frame", on_delete=models.PROTECT, related_name="+")
    score = models.FloatField(help_text="Uncertainty: higher = label sooner")
    detector_score = models.FloatField(null=True, blank=True)
    classifier_score = models.FloatField(null=True, blank=True)
    embedding = ArrayField(models.FloatField(), help_text="Projected backbone features (unit length)")
    priority = models.FloatField(null=True, blank=True, help_text="What the queue got when the run finished")
    detections = models.JSONField(null=True, blank=True,
                                  help_text="The detector's top boxes on the frame (suggestions): "
                                            "[{class, score, x, y, w, h}] in frame pixels")
    scored_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "frame"], name="frame_score_once_per_run")]
        indexes = [models.Index(fields=["frame", "-scored_at"], name="frame_score_latest_idx")]
