"""Footage: datasets hold sequences (a video, or an ordered set of images) made of frames.

Frame image files are content-addressed: a frame's file lives at a path derived from the
sha256 of its bytes, so a frame that appears twice is stored once.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models


def blob_path(kind: str, sha256: str, ext: str) -> str:
    """Storage name of a content-addressed file: frames/ab/abcd….jpg (256 folders per kind:
    few enough that creating them is rare, many enough for millions of files)."""
    return f"{kind}/{sha256[:2]}/{sha256}.{ext}"


class Dataset(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    sensitive = models.BooleanField(default=False, help_text="The uploader marks all footage in it as graphic.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    # redaction (labeling.redaction): how derived renditions hide regions, what metadata derived
    # data keeps, and whether every ingest starts a redaction run
    BLUR, PIXELATE, FILL = "blur", "pixelate", "fill"
    METHOD_CHOICES = [(BLUR, "Blur"), (PIXELATE, "Pixelate"), (FILL, "Fill")]
    METADATA_FULL, METADATA_COARSE, METADATA_NONE = "full", "coarse", "none"
    METADATA_CHOICES = [(METADATA_FULL, "Full (exact capture times, file names)"),
                        (METADATA_COARSE, "Coarse (dates only, no file names)"),
                        (METADATA_NONE, "None (no capture times, file names or positions)")]
    redaction_method = models.CharField(max_length=10, choices=METHOD_CHOICES, default=BLUR)
    metadata_level = models.CharField(max_length=10, choices=METADATA_CHOICES, default=METADATA_COARSE)
    redact_at_ingest = models.BooleanField(default=False, help_text="Every finished ingest starts a redaction run")
    # retention (labeling.custody): days after a sequence's ingest that its raw frames (and what is
    # made from them unredacted: thumbnails, blurred previews) and its derived renditions are kept;
    # empty: forever. Derived renditions are remade from raw on first view, so they are never kept
    # for less time than raw (a constraint says so).
    raw_retention_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days after ingest that raw frames are kept (empty: forever)")
    derived_retention_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days after ingest that derived (redacted) renditions are kept (empty: "
                                         "forever); at least as long as raw frames")

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(
            condition=models.Q(derived_retention_days__isnull=True)
            | models.Q(raw_retention_days__isnull=False, raw_retention_days__lte=models.F("derived_retention_days")),
            name="dataset_derived_kept_as_long_as_raw")]

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.derived_retention_days is not None and (
                self.raw_retention_days is None or self.raw_retention_days > self.derived_retention_days):
            raise ValidationError({"derived_retention_days": "derived renditions are remade from raw frames, so they "
                                   "are kept at least as long: set raw retention to this many days or fewer"})

    def __str__(self) -> str:
        return self.name


class Sequence(models.Model):
    VIDEO = "video"
    IMAGES = "images"
    KIND_CHOICES = [(VIDEO, "Video"), (IMAGES, "Images")]

    PENDING = "pending"
    INGESTING = "ingesting"
    READY = "ready"
    PARTIAL = "partial"
    FAILED = "failed"
    STATUS_CHOICES = [(s, s.title()) for s in (PENDING, INGESTING, READY, PARTIAL, FAILED)]

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="sequences")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=KIND_CHOICES)
    status = models.CharField(max_length=12, choices=STATUS_CHOICES, default=PENDING)
    source_name = models.CharField(max_length=255)
    source_sha256 = models.CharField(max_length=64)
    source_size = models.BigIntegerField()
    codec = models.CharField(max_length=40, blank=True)
    fps = models.FloatField(null=True, blank=True, help_text="Frames per second of the source video")
    stride = models.PositiveIntegerField(default=1, help_text="Every Nth source frame was kept")
    target_fps = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    frame_count = models.PositiveIntegerField(default=0)
    sensitive = models.BooleanField(default=False)
    bits = models.PositiveSmallIntegerField(default=8, help_text="8, or 16 for single-channel 16-bit (thermal) frames")
    telemetry_source = models.CharField(max_length=4, blank=True, help_text="klv or srt; blank: none found")
    telemetry_frames = models.PositiveIntegerField(default=0, help_text="Frames with a telemetry record")
    telemetry_malformed = models.PositiveIntegerField(default=0, help_text="Telemetry packets or cues skipped")
    created_at = models.DateTimeField(auto_now_add=True)
    # retention (labeling.custody.retention): when a run decided that the sequence's raw frames (or
    # derived renditions) go, from which moment they are never served; and when their files were
    # all deleted (a legal hold placed in between leaves the rest until it is lifted)
    raw_expired_at = models.DateTimeField(null=True, blank=True)
    raw_purged_at = models.DateTimeField(null=True, blank=True)
    derived_expired_at = models.DateTimeField(null=True, blank=True)
    derived_purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dataset", "name"]
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="sequence_name_unique")]

    def __str__(self) -> str:
        return f"{self.dataset.name}/{self.name}"


class Frame(models.Model):
    sequence = models.ForeignKey(Sequence, on_delete=models.PROTECT, related_name="frames")
    index = models.PositiveIntegerField(help_text="0-based position in the sequence")
    source_index = models.PositiveIntegerField(help_text="Frame number in the source video, or image order")
    source_name = models.CharField(max_length=255, blank=True, help_text="File name inside an image upload")
    timestamp = models.FloatField(null=True, blank=True, help_text="Seconds from the start of the video")
    sha256 = models.CharField(max_length=64, db_index=True)
    ext = models.CharField(max_length=4, default="jpg")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sensitive = models.BooleanField(default=False)

    class Meta:
        ordering = ["sequence", "index"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "index"], name="frame_index_unique"),
            models.CheckConstraint(condition=models.Q(width__gt=0, height__gt=0), name="frame_size_positive"),
        ]
        # "does this project have sensitive frames?" (asked every few seconds per process by the
        # queue) is an index lookup however many frames there are
        indexes = [models.Index(fields=["sequence"], name="frame_sensitive_idx", condition=models.Q(sensitive=True))]

    def __str__(self) -> str:
        return f"{self.sequence_id}#{self.index}"

    @property
    def image_name(self) -> str:
        return blob_path("frames", self.sha256, self.ext)

    @property
    def raw16_name(self) -> str:
        """A 16-bit (thermal) frame's raw values, as a lossless 16-bit PNG: the frame's sha256 is
        over these values (labeling.footage.thermal.raw_sha256). `image_name` of such a frame is
        its 8-bit display image (the sequence's smoothed gain applied), which every page, the
        sampler and redaction read."""
        return blob_path("raw16", self.sha256, "png")

    @property
    def thumbnail_name(self) -> str:
        return blob_path("thumbs", self.sha256, "jpg")

    @property
    def preview_name(self) -> str:
        return blob_path("blurred", self.sha256, "jpg")


class IngestJob(models.Model):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    PARTIAL = "partial"
    FAILED = "failed"
    STATUS_CHOICES = [(s, s.title()) for s in (QUEUED, RUNNING, DONE, PARTIAL, FAILED)]
    FINISHED = (DONE, PARTIAL, FAILED)

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="ingest_jobs")
    sequence = models.ForeignKey(Sequence, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs")
    sequence_name = models.CharField(max_length=200)
    upload_name = models.CharField(max_length=255, help_text="Path of the stored upload under AERIE_UPLOAD_DIR")
    original_filename = models.CharField(max_length=255)
    upload_size = models.BigIntegerField(default=0)
    stride = models.PositiveIntegerField(default=1)
    target_fps = models.FloatField(null=True, blank=True)
    sensitive = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=QUEUED)
    frames_done = models.PositiveIntegerField(default=0)
    frames_total = models.PositiveIntegerField(null=True, blank=True, help_text="Estimate while running")
    message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"ingest {self.pk} {self.original_filename} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status in (self.DONE, self.PARTIAL):
            return 100
        if not self.frames_total:
            return 0
        return min(99, int(100 * self.frames_done / self.frames_total))


class DatasetVersion(models.Model):
    """An immutable snapshot of a dataset's ready sequences, with a signed manifest."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    sequences = models.ManyToManyField(Sequence, related_name="dataset_versions")
    frame_count = models.PositiveIntegerField()
    manifest_name = models.CharField(max_length=255)
    manifest_sha256 = models.CharField(max_length=64)
    signature = models.TextField(help_text="Ed25519 signature of the manifest bytes, base64")
    key_id = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "number"], name="dataset_version_unique")]

    def __str__(self) -> str:
        return f"{self.dataset.name} v{self.number}"
