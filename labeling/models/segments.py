"""Segments: the unit of tracking work in a project whose work unit is `segment`.

A segment is a run of `segment_length` consecutive frames of one sequence; neighbouring segments
share `segment_shared` frames, on which track identities are stitched. Segments belong to a
project (their length is the project's) and go through the same queue as frames: the segment's
queue item points at its first frame and at the segment."""
from __future__ import annotations

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
