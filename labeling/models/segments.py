"""Segments: the unit of tracking work in a project whose work unit is `segment`.

A segment is a run of `segment_length` consecutive frames of one sequence; neighbouring segments
share `segment_shared` frames, on which track identities are stitched. Segments belong to a
project (their length is the project's) and go through the same queue as frames: the segment's
queue item points at its first frame and at the segment."""
from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q


class Segment(models.Model):
    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="segments")
    sequence = models.ForeignKey("labeling.Sequence", on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField(help_text="0-based position of the segment in its sequence")
    first_index = models.PositiveIntegerField()
    last_index = models.PositiveIntegerField()
    sensitive = models.BooleanField(default=False, help_text="At least one of its frames is sensitive")

    class Meta:
        ordering = ["project", "sequence", "number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "sequence", "number"], name="segment_unique"),
            models.CheckConstraint(condition=Q(last_index__gte=F("first_index")), name="segment_range"),
        ]
        indexes = [models.Index(fields=["sequence", "first_index"], name="segment_frames_idx")]

    @property
    def frame_count(self) -> int:
        return self.last_index - self.first_index + 1

    def __str__(self) -> str:
        return f"segment {self.number} of sequence {self.sequence_id} (frames {self.first_index}–{self.last_index})"


class PropagationRun(models.Model):
    """One box propagated through a segment's frames (forward or backward), for the person who
    holds the segment's lease. The boxes found so far are kept on the row as they arrive, so the
    page shows them while the run goes on; a run is resumed from them if its worker dies."""

    RUNNING, DONE, FAILED = "running", "done", "failed"
    STATUS_CHOICES = [(s, s.title()) for s in (RUNNING, DONE, FAILED)]
    FORWARD, BACKWARD = "forward", "backward"

    assignment = models.ForeignKey("labeling.Assignment", on_delete=models.CASCADE, related_name="propagations")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(max_length=64, help_text="The class of the box (detections of it steer the tracker)")
    start_frame = models.PositiveIntegerField()
    start_box = models.JSONField(help_text="{x, y, w, h} in frame pixels")
    direction = models.CharField(max_length=8, choices=[(FORWARD, "Forward"), (BACKWARD, "Backward")])
    last_frame = models.PositiveIntegerField(help_text="The last frame to reach (inclusive)")
    model_version = models.ForeignKey("labeling.ModelVersion", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+", help_text="The detector that steered it, if any")
    status = models.CharField(max_length=8, choices=STATUS_CHOICES, default=RUNNING)
    frames_total = models.PositiveIntegerField()
    boxes = models.JSONField(default=list, help_text="[{frame, x, y, w, h, method, score}] in the order found")
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"propagation {self.pk} ({self.direction} from frame {self.start_frame}, {self.status})"


class SegmentAgreement(models.Model):
    """How the annotators of a segment's round agree on its tracks: IDF1 and the CLEAR-MOT counts
    of every pair (labeling.quality.agreement.track_scores) and the frame tags; at or above the
    project's threshold the fused tracks become the segment's approved labels, below it the
    segment goes to QA review."""

    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="+")
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="agreements")
    round = models.PositiveSmallIntegerField(default=0)
    computed_at = models.DateTimeField()
    annotators = ArrayField(models.BigIntegerField(), default=list)
    assignments = ArrayField(models.BigIntegerField(), default=list)
    score = models.FloatField(null=True, help_text="The lower of the mean pair IDF1 and the tag agreement")
    idf1 = models.FloatField(null=True)
    tag_score = models.FloatField(null=True)
    pairs = models.JSONField(default=list, help_text="[{a, b, idf1, mota, id_switches, fp, fn}] per annotator pair")
    passed = models.BooleanField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "round"], name="segment_agreement_once")]
