"""Projects tie a dataset to a published ontology version, with members and labeling settings."""
from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Project(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    dataset = models.ForeignKey("labeling.Dataset", on_delete=models.PROTECT, related_name="projects")
    ontology_version = models.ForeignKey("ontology.OntologyVersion", on_delete=models.PROTECT, related_name="projects")
    overlap = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(20)], help_text="Annotators per frame"
    )
    agreement_threshold = models.FloatField(
        default=0.7, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Frames below this agreement go to QA review",
    )
    iou_threshold = models.FloatField(default=0.5, validators=[MinValueValidator(0.05), MaxValueValidator(1.0)])
    gold_rate = models.FloatField(
        default=0.05, validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="Share of an annotator's frames that are gold frames (unannounced)",
    )
    consensus_quorum = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Annotators who must draw an object for the consensus to keep it (empty: a strict majority)",
    )
    frame_stride = models.PositiveIntegerField(default=1, help_text="Queue order without scores: every Nth frame first")
    sampling_strategy = models.CharField(
        max_length=20, default="margin",
        choices=[("least_confidence", "Least confidence"), ("margin", "Margin"), ("entropy", "Entropy")],
        help_text="How the sampler turns the model's class probabilities into uncertainty")
    sampling_batch = models.PositiveIntegerField(
        default=50, validators=[MaxValueValidator(1000)],
        help_text="How many frames the sampler picks as a diverse batch at the top of the queue")
    sampling_min_gap = models.PositiveIntegerField(
        default=10, help_text="Frames of one sequence closer than this are never consecutive picks")
    FRAME, SEGMENT = "frame", "segment"
    work_unit = models.CharField(
        max_length=8, choices=[(FRAME, "Frames, one at a time"), (SEGMENT, "Segments of video, as tracks")],
        default=FRAME, help_text="What an annotator gets from the queue")
    segment_length = models.PositiveIntegerField(
        default=100, validators=[MinValueValidator(10), MaxValueValidator(1000)],
        help_text="Frames per segment (segment projects)")
    segment_shared = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="Frames a segment shares with the next one, where track identities are stitched")
    blind_annotators = models.PositiveSmallIntegerField(
        default=1, validators=[MaxValueValidator(20)],
        help_text="The first N annotators of each frame or segment see no model suggestions, so that "
                  "agreement still measures independent work")
    annotators_need_raw = models.BooleanField(
        default=False, help_text="Only people holding raw access to the dataset label it (the task needs the raw "
                                 "frames, e.g. the redacted regions themselves); everyone else is not handed work")
    promotion_tolerance = models.FloatField(
        default=0.02, help_text="A version is promoted only when no slice of a required evaluation set lost more "
                                "than this much mAP@0.5 against the deployed version")
    incidents_block_promotion = models.BooleanField(
        default=True, help_text="Open confirmed incidents against a version block its promotion")
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", through_fields=("project", "user"), related_name="projects"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(overlap__gte=1), name="project_overlap_positive"),
            models.CheckConstraint(
                condition=models.Q(agreement_threshold__gte=0, agreement_threshold__lte=1),
                name="project_threshold_range",
            ),
            models.CheckConstraint(condition=models.Q(segment_shared__lt=models.F("segment_length") / 2),
                                   name="project_segment_shared_below_half"),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    added_at = models.DateTimeField(auto_now_add=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["project", "user"]
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.project}"
