"""Redaction: the regions of a frame that derived data hides, the derived renditions rendered
from them, the chunked job that finds faces and renders, and signed derived dataset versions.

History is append-only here too: a region is never deleted (removing one marks it, with who and
why), and a frame whose live regions change gets a new derived rendition while the old one stays."""
from django.conf import settings
from django.db import models
from django.db.models import Q

from .chunks import Chunk


class RedactionRegion(models.Model):
    """A rectangle of a frame (frame pixels) that derived renditions hide, and what found it."""

    DETECTOR, ANNOTATION, PERSON = "detector", "annotation", "person"
    SOURCE_CHOICES = [(DETECTOR, "Detector"), (ANNOTATION, "Approved annotation"), (PERSON, "Person")]

    frame = models.ForeignKey("labeling.Frame", on_delete=models.PROTECT, related_name="redaction_regions")
    x = models.FloatField()
    y = models.FloatField()
    w = models.FloatField()
    h = models.FloatField()
    source = models.CharField(max_length=10, choices=SOURCE_CHOICES)
    detector = models.CharField(max_length=120, blank=True, help_text="detector name and version (source detector)")
    score = models.FloatField(null=True, blank=True, help_text="the detector's confidence")
    annotation = models.ForeignKey("labeling.Annotation", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    annotation_box = models.ForeignKey("labeling.AnnotationBox", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+")
    label_class = models.CharField(max_length=64, blank=True, help_text="the redact class's key (source annotation)")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    remove_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["frame", "id"]
        indexes = [models.Index(fields=["frame"], name="redaction_region_live_idx", condition=Q(removed_at__isnull=True))]
        constraints = [
            models.CheckConstraint(condition=Q(w__gt=0, h__gt=0), name="redaction_region_size_positive"),
            models.UniqueConstraint(fields=["annotation_box"], condition=Q(removed_at__isnull=True),
                                    name="redaction_region_one_live_per_box"),
        ]

    def __str__(self) -> str:
        return f"region {self.pk} of frame {self.frame_id} ({self.source})"


class FaceScan(models.Model):
    """A frame was searched for faces by one detector version (found or not), so that a later run
    neither searches it again nor brings back a detection a person removed."""

    frame = models.ForeignKey("labeling.Frame", on_delete=models.PROTECT, related_name="+")
    detector = models.CharField(max_length=120)
    faces = models.PositiveIntegerField(default=0)
    scanned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["frame", "detector"], name="face_scan_unique")]


class DerivedFrame(models.Model):
    """A derived rendition of a frame: the raw pixels with the live regions hidden by `method`,
    re-encoded (so no metadata of the raw file survives), content-addressed under derived/.
    `current` marks the latest per frame; older renditions stay as history."""

    frame = models.ForeignKey("labeling.Frame", on_delete=models.PROTECT, related_name="derived")
    sha256 = models.CharField(max_length=64, db_index=True)
    raw_sha256 = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    regions = models.JSONField(default=list, help_text="lineage: the regions rendered, each with what found it")
    regions_key = models.CharField(max_length=64, help_text="sha256 of the method and the live region ids")
    current = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["frame", "-id"]
        constraints = [models.UniqueConstraint(fields=["frame"], condition=Q(current=True),
                                               name="derived_frame_one_current")]

    @property
    def blob_name(self) -> str:
        from labeling.models.footage import blob_path

        return blob_path("derived", self.sha256, "jpg")


class RedactionRun(models.Model):
    """One pass of the face detector and the renderer over a dataset's frames, split into chunks
    that any worker may claim (like scoring)."""

    RUNNING, DONE, FAILED = "running", "done", "failed"
    STATUS_CHOICES = [(s, s.title()) for s in (RUNNING, DONE, FAILED)]

    dataset = models.ForeignKey("labeling.Dataset", on_delete=models.PROTECT, related_name="redaction_runs")
    detector = models.CharField(max_length=120)
    reason = models.CharField(max_length=40, help_text="ingest, by hand")
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=RUNNING)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    frames_total = models.PositiveIntegerField(default=0)
    frames_done = models.PositiveIntegerField(default=0)
    faces_found = models.PositiveIntegerField(default=0)
    renditions_made = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["dataset"], condition=Q(status="running"),
                                               name="one_running_redaction_run")]

    def __str__(self) -> str:
        return f"redaction run {self.pk} ({self.status} {self.chunks_done}/{self.chunks_total})"


class RedactionChunk(Chunk):
    """A slice of a redaction run's frames (labeling.jobs.chunks)."""

    run = models.ForeignKey(RedactionRun, on_delete=models.CASCADE, related_name="chunks")

    class Meta(Chunk.Meta):
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="redaction_chunk_unique")]


class DerivedDatasetVersion(models.Model):
    """A signed snapshot of the derived renditions of a raw dataset version's frames, with each
    frame's lineage (raw sha256, regions, method)."""

    dataset = models.ForeignKey("labeling.Dataset", on_delete=models.PROTECT, related_name="derived_versions")
    raw_version = models.ForeignKey("labeling.DatasetVersion", on_delete=models.PROTECT, related_name="derived_versions")
    number = models.PositiveIntegerField()
    frame_count = models.PositiveIntegerField()
    method = models.CharField(max_length=10)
    metadata_level = models.CharField(max_length=10)
    manifest_name = models.CharField(max_length=255)
    manifest_sha256 = models.CharField(max_length=64)
    signature = models.TextField(help_text="Ed25519 signature of the manifest bytes, base64")
    key_id = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "number"], name="derived_version_unique")]

    def __str__(self) -> str:
        return f"{self.dataset.name} derived v{self.number} (of raw v{self.raw_version.number})"
