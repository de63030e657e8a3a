"""Annotation revisions. History is append-only: an edit is a new row that supersedes the old
one (at most one successor each, enforced by a unique constraint), and the database refuses
UPDATE and DELETE on these tables. Boxes and tags are rows, so agreement and exports can read
millions of them with plain SQL."""
from __future__ import annotations

from django.conf import settings
from django.db import models


class Annotation(models.Model):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"  # consensus or a QA decision: what exports and training use
    STATUS_CHOICES = [(DRAFT, "Draft"), (SUBMITTED, "Submitted"), (APPROVED, "Approved")]

    HUMAN = "human"
    MIGRATION = "migration"
    MODEL = "model"
    CONSENSUS = "consensus"
    REVIEW = "review"
    IMPORT = "import"
    SOURCE_CHOICES = [(s, s.title()) for s in (HUMAN, MIGRATION, MODEL, CONSENSUS, REVIEW, IMPORT)]

    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="annotations")
    frame = models.ForeignKey("labeling.Frame", on_delete=models.PROTECT, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="annotations",
        help_text="Whose labels these are (null for consensus/model)",
    )
    ontology_version = models.ForeignKey("ontology.OntologyVersion", on_delete=models.PROTECT, related_name="+")
    revision = models.PositiveIntegerField(default=1)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=SUBMITTED)
    source = models.CharField(max_length=10, choices=SOURCE_CHOICES, default=HUMAN)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    assignment = models.ForeignKey("labeling.Assignment", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="annotations")
    # Copied from the frame and the boxes when the row is written (rows never change), so that
    # "my nearest labeled frames in this sequence" and "my highest track id" are index scans
    # however much someone has labeled.
    sequence = models.ForeignKey("labeling.Sequence", null=True, on_delete=models.PROTECT, related_name="+")
    frame_index = models.PositiveIntegerField(null=True)
    max_track = models.PositiveIntegerField(null=True)

    class Meta:
        ordering = ["frame", "annotator", "revision"]
        indexes = [
            models.Index(fields=["project", "frame"]),
            models.Index(fields=["project", "annotator", "sequence", "frame_index", "revision"],
                         name="annotation_keyframes_idx"),
            models.Index(fields=["project", "annotator", "sequence", "max_track"], name="annotation_tracks_idx"),
        ]

    def __str__(self) -> str:
        return f"annotation {self.pk} r{self.revision} on frame {self.frame_id}"


class AnnotationBox(models.Model):
    annotation = models.ForeignKey(Annotation, on_delete=models.PROTECT, related_name="boxes")
    label_class = models.ForeignKey("ontology.LabelClass", on_delete=models.PROTECT, related_name="+")
    x = models.FloatField()
    y = models.FloatField()
    w = models.FloatField()
    h = models.FloatField()
    # An oriented box (its class is of kind obox): x, y, w, h are the unrotated rectangle and
    # `angle` turns it about its centre, degrees clockwise on screen, in (-90, 90]. Null for
    # every other box (labeling.work.oriented has the geometry).
    angle = models.FloatField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    track_id = models.PositiveIntegerField(null=True, blank=True)
    # Tracks in segments: a keyframe was placed by a person (or accepted as such); the boxes
    # between two keyframes are interpolated. `outside`: the object left the view here (the track
    # pauses or ends: such a box is a marker, never exported as an object); `occluded`: MOT's
    # visibility. Frame projects leave keyframe null.
    keyframe = models.BooleanField(null=True, blank=True)
    outside = models.BooleanField(default=False)
    occluded = models.BooleanField(default=False)
    DRAWN, SUGGESTION, ADJUSTED, PROPAGATED, INTERPOLATED = "drawn", "suggestion", "adjusted", "propagated", \
        "interpolated"
    SOURCES = [(DRAWN, "Drawn by a person"), (SUGGESTION, "A model suggestion, accepted"),
               (ADJUSTED, "A model suggestion, adjusted"), (PROPAGATED, "Propagated by a tracker or detector"),
               (INTERPOLATED, "Interpolated between keyframes")]
    source = models.CharField(max_length=12, choices=SOURCES, default=DRAWN, help_text="Provenance of the box")
    model_version = models.ForeignKey("labeling.ModelVersion", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+", help_text="The model a suggested or propagated box came from")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(w__gt=0, h__gt=0), name="box_size_positive"),
            # an oriented box's unrotated rectangle may reach past the frame where its turned one does not
            models.CheckConstraint(condition=models.Q(x__gte=0, y__gte=0) | models.Q(angle__isnull=False),
                                   name="box_origin_in_frame"),
            models.CheckConstraint(condition=models.Q(angle__isnull=True) | models.Q(angle__gt=-90, angle__lte=90),
                                   name="box_angle_range"),
        ]


class AnnotationTag(models.Model):
    """A frame-level mark: a scene tag, or a change-detection verdict."""

    annotation = models.ForeignKey(Annotation, on_delete=models.PROTECT, related_name="tags")
    label_class = models.ForeignKey("ontology.LabelClass", on_delete=models.PROTECT, related_name="+")
    attributes = models.JSONField(default=dict, blank=True)
    changed = models.BooleanField(null=True, blank=True,
                                  help_text="For a change class: the verdict against the previous frame")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["annotation", "label_class"], name="tag_once_per_annotation")]
