"""Exports: one archive (COCO, MOT, YOLO, YOLO-OBB, VisDrone DET or VID, DOTA) of a project's (or
dataset version's) annotations, built by a Celery job with a visible progress record, signed, stored, and downloaded with an audit event."""
from __future__ import annotations

from django.conf import settings
from django.db import models


class Export(models.Model):
    COCO = "coco"
    MOT = "mot"
    YOLO = "yolo"
    YOLO_OBB = "yolo_obb"
    VISDRONE = "visdrone"
    VISDRONE_VID = "visdrone_vid"
    DOTA = "dota"
    FORMATS = [(COCO, "COCO (detection)"), (MOT, "MOT (MOTChallenge)"), (YOLO, "YOLO (Ultralytics detection)"),
               (YOLO_OBB, "YOLO-OBB (Ultralytics oriented boxes)"), (VISDRONE, "VisDrone DET (per image)"),
               (VISDRONE_VID, "VisDrone VID (per sequence)"), (DOTA, "DOTA (oriented boxes)")]

    APPROVED = "approved"
    RAW = "raw"
    SCOPES = [(APPROVED, "Approved annotations"), (RAW, "Every annotator's current submissions (raw)")]

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STATUS_CHOICES = [(s, s.title()) for s in (QUEUED, RUNNING, DONE, FAILED)]
    FINISHED = (DONE, FAILED)

    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="exports")
    dataset_version = models.ForeignKey("labeling.DatasetVersion", null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="exports", help_text="Only this snapshot's sequences")
    format = models.CharField(max_length=16, choices=FORMATS)
    scope = models.CharField(max_length=10, choices=SCOPES, default=APPROVED)
    include_images = models.BooleanField(default=False)
    DERIVED = "derived"
    RAW_IMAGES = "raw"
    IMAGE_KINDS = [(DERIVED, "Derived (redacted) frames"), (RAW_IMAGES, "Raw frames (needs raw access)")]
    image_kind = models.CharField(max_length=8, choices=IMAGE_KINDS, default=DERIVED,
                                  help_text="Which frames the images are: derived unless raw access was used")
    include_sensitive = models.BooleanField(
        default=False, help_text="Images of sensitive (graphic) frames are included only when the requester "
                                 "acknowledged it; otherwise they are left out and counted in the manifest")
    ontology_version = models.ForeignKey("ontology.OntologyVersion", null=True, on_delete=models.PROTECT,
                                         related_name="+")
    annotations_as_of = models.BigIntegerField(
        default=0, help_text="Highest annotation id included: history is append-only, so this pins the snapshot")
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=QUEUED)
    items_done = models.PositiveIntegerField(default=0)
    items_total = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    frames = models.PositiveIntegerField(default=0)
    boxes = models.PositiveIntegerField(default=0)
    tracks = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, help_text="Of the zip archive")
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    signature = models.TextField(blank=True, help_text="Ed25519 over the manifest statement (base64)")
    key_id = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True,
                                        help_text="Renewed while a worker builds it; a stale one is sent again")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"export {self.pk} {self.format} of project {self.project_id} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.DONE:
            return 100
        if not self.items_total:
            return 0
        return min(99, int(100 * self.items_done / self.items_total))

    @property
    def download_name(self) -> str:
        return f"aerie-{self.format}-project{self.project_id}-export{self.pk}.zip"
