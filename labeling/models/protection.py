"""Annotator protection: where a frame's sensitivity came from, each project's protection
policy, each person's protection state (consent, preferences, the current work stretch, breaks),
their exposure to sensitive frames, consent history and private wellbeing check-ins.

The frame's own `sensitive` column stays the one fact the queue and the image route read;
`SensitivityFlag` rows say who or what made it so (append-only)."""
from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class SensitivityFlag(models.Model):
    """Why frames are sensitive. One row per decision: an uploader's mark covers a dataset, a
    sequence or a range of frames; the other sources name one frame."""

    UPLOADER = "uploader"
    ANNOTATION = "annotation"  # an annotation used a class flagged sensitive in the ontology
    REPORT = "report"  # an annotator reported it
    MODEL = "model"  # the current model scored it above the project's threshold
    CLEARED = "cleared"  # a QA lead or admin found the frame not graphic (with a reason): it is no longer sensitive
    SOURCES = [(UPLOADER, "Marked by the uploader"), (ANNOTATION, "Labeled with a sensitive class"),
               (REPORT, "Reported by an annotator"), (MODEL, "Scored sensitive by the model"),
               (CLEARED, "Cleared by a QA lead")]

    source = models.CharField(max_length=12, choices=SOURCES)
    dataset = models.ForeignKey("labeling.Dataset", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sequence = models.ForeignKey("labeling.Sequence", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    first_index = models.PositiveIntegerField(null=True, blank=True, help_text="A range of the sequence's frames")
    last_index = models.PositiveIntegerField(null=True, blank=True)
    frame = models.ForeignKey("labeling.Frame", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    frames = models.PositiveIntegerField(default=0, help_text="Frames that became sensitive by this flag")
    project = models.ForeignKey("labeling.Project", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    note = models.TextField(blank=True)
    annotation = models.ForeignKey("labeling.Annotation", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    label_class = models.ForeignKey("ontology.LabelClass", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    model_version = models.ForeignKey("labeling.ModelVersion", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+")
    score = models.FloatField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["frame"], name="sensitivity_flag_frame_idx", condition=Q(frame__isnull=False))]


class ProtectionPolicy(models.Model):
    """A project's protection settings. A project without a row uses the defaults below (the
    `policy_for` selector), so every project is protected from the start."""

    project = models.OneToOneField("labeling.Project", primary_key=True, on_delete=models.CASCADE,
                                   related_name="protection_policy")
    blur_radius = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(4.0), MaxValueValidator(64.0)],
        help_text="Blur of sensitive previews in preview pixels (empty: AERIE_PREVIEW_BLUR_RADIUS)")
    daily_sensitive_frames = models.PositiveIntegerField(
        default=200, help_text="Sensitive frames a person gets per day (their local day)")
    daily_exposure_minutes = models.FloatField(
        default=60.0, validators=[MinValueValidator(0.0)], help_text="Minutes of unblurred viewing per day")
    max_sensitive_in_a_row = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1)],
        help_text="At most this many sensitive frames in a row when a non-sensitive frame is available")
    break_after_minutes = models.PositiveIntegerField(
        default=50, help_text="A break after this many minutes of continuous work (0: never)")
    break_after_sensitive = models.PositiveIntegerField(
        default=40, help_text="A break after this many sensitive frames (0: never)")
    break_minutes = models.PositiveIntegerField(default=10, validators=[MinValueValidator(1)])
    micro_break_minutes = models.PositiveIntegerField(
        default=20, help_text="A reminder to look away for a moment every this many minutes (0: never)")
    model_threshold = models.FloatField(
        default=0.8, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="A model score for a sensitive class at or above this makes the frame sensitive")
    wellbeing_min_group = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(3)],
        help_text="Leads see wellbeing averages only over at least this many people")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"protection policy of {self.project_id}"


class ProtectionState(models.Model):
    """One row per person: consent, preferences and the current stretch of work. The queue locks
    this row (SELECT … FOR UPDATE) while it decides, so two tabs of one person cannot both pass a
    cap."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="protection")
    consent = models.BooleanField(default=False)
    consent_version = models.CharField(max_length=40, blank=True)
    consent_at = models.DateTimeField(null=True, blank=True)
    greyscale = models.BooleanField(default=False, help_text="Show sensitive frames in greyscale")
    timezone = models.CharField(max_length=64, blank=True, help_text="IANA name; empty: the server's TIME_ZONE")
    thermal_palette = models.CharField(max_length=12, default="white-hot",
                                       help_text="How 16-bit (thermal) frames are coloured for this person")
    streak = models.PositiveIntegerField(default=0, help_text="Sensitive frames in a row")
    stretch_started_at = models.DateTimeField(null=True, blank=True, help_text="Start of the current work stretch")
    last_active_at = models.DateTimeField(null=True, blank=True)
    sensitive_since_break = models.PositiveIntegerField(default=0)
    break_until = models.DateTimeField(null=True, blank=True)
    break_reason = models.CharField(max_length=200, blank=True)
    micro_reminded_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True, help_text="Last content warning shown")
    checkin_due = models.CharField(max_length=12, blank=True, help_text="start | after_break | empty")

    def __str__(self) -> str:
        return f"protection state of {self.user_id}"


class ConsentEvent(models.Model):
    """Opt-in and withdrawal, with the policy version agreed to (append-only)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    given = models.BooleanField()
    policy_version = models.CharField(max_length=40)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]


class Exposure(models.Model):
    """One sensitive frame served to a person, or one reveal of an original with its duration."""

    FRAME = "frame"
    REVEAL = "reveal"
    KINDS = [(FRAME, "Sensitive frame served (blurred)"), (REVEAL, "Original revealed")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey("labeling.Project", null=True, on_delete=models.PROTECT, related_name="+")
    frame = models.ForeignKey("labeling.Frame", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=KINDS)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True, help_text="Reveals: seconds the original was shown")
    served_at = models.DateTimeField(null=True, blank=True,
                                     help_text="Reveals: when its one image was served (a reveal URL works once)")

    class Meta:
        indexes = [models.Index(fields=["user", "started_at"], name="exposure_user_time_idx"),
                   models.Index(fields=["project", "started_at"], name="exposure_project_time_idx")]


class WellbeingCheckin(models.Model):
    """How are you doing, 1–5 (optional). Private to the person; leads see only averages over
    groups of at least the project's minimum size."""

    START = "start"
    AFTER_BREAK = "after_break"
    MOMENTS = [(START, "At the start"), (AFTER_BREAK, "After a break")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("labeling.Project", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    score = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    moment = models.CharField(max_length=12, choices=MOMENTS)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="wellbeing_score_range")]
        indexes = [models.Index(fields=["project", "at"], name="wellbeing_project_time_idx")]
