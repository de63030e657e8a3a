"""Versioned label ontology.

A published OntologyVersion is immutable: the model layer refuses to change it, and so does
the database (triggers in migration 0002), so raw SQL cannot change it either. Annotations pin
the version they were made against; moving them to another version is an explicit
OntologyMigration that writes new annotation revisions.
"""
from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models


class ImmutableError(Exception):
    """Raised when code tries to change something that history says may not change."""


class Ontology(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "ontologies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OntologyVersion(models.Model):
    DRAFT = "draft"
    PUBLISHED = "published"
    STATUS_CHOICES = [(DRAFT, "Draft"), (PUBLISHED, "Published")]

    ontology = models.ForeignKey(Ontology, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=DRAFT)
    derived_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="derived_versions"
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["ontology", "number"]
        constraints = [
            models.UniqueConstraint(fields=["ontology", "number"], name="ontology_version_number_unique"),
            models.CheckConstraint(
                condition=~models.Q(status="published") | models.Q(published_at__isnull=False),
                name="ontology_version_published_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ontology.name} v{self.number}"

    @property
    def is_published(self) -> bool:
        return self.status == self.PUBLISHED

    def save(self, *args, **kwargs):
        if self.pk:
            stored = OntologyVersion.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored == self.PUBLISHED:
                raise ImmutableError(f"{self} is published and cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.is_published:
            raise ImmutableError(f"{self} is published and cannot be deleted")
        return super().delete(*args, **kwargs)


class LabelClass(models.Model):
    BOX = "box"
    TAG = "tag"
    CHANGE = "change"
    OBOX = "obox"
    KIND_CHOICES = [
        (BOX, "Box (object in the frame)"),
        (OBOX, "Oriented box (a rotated rectangle: x, y, w, h of the unrotated box and an angle)"),
        (TAG, "Tag (frame-level scene label)"),
        (CHANGE, "Change (change detection against the previous frame)"),
    ]
    #: the kinds drawn as boxes on the frame (everything but frame tags)
    BOX_KINDS = (BOX, OBOX, CHANGE)

    version = models.ForeignKey(OntologyVersion, on_delete=models.CASCADE, related_name="classes")
    key = models.CharField(
        max_length=64,
        validators=[RegexValidator(r"^[a-z][a-z0-9_]*$", "lowercase letters, digits and _; starts with a letter")],
    )
    name = models.CharField(max_length=120)
    color = models.CharField(
        max_length=7, default="#3b82f6", validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "a colour like #1f77b4")]
    )
    shortcut = models.CharField(max_length=1, blank=True)
    kind = models.CharField(max_length=8, choices=KIND_CHOICES, default=BOX)
    sensitive = models.BooleanField(
        default=False, help_text="Graphic content: frames labelled with this class are protected."
    )
    redact = models.BooleanField(
        default=False, help_text="Identifying content (face, licence plate, insignia, document): boxes of this class "
                                 "in approved annotations are hidden in derived renditions."
    )
    attributes = models.JSONField(default=list, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["version", "order", "key"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="label_class_key_unique"),
            models.UniqueConstraint(
                fields=["version", "shortcut"],
                condition=~models.Q(shortcut=""),
                name="label_class_shortcut_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.kind})"

    def _check_mutable(self) -> None:
        version_ids = {self.version_id}
        if self.pk:
            version_ids.add(LabelClass.objects.filter(pk=self.pk).values_list("version_id", flat=True).first())
        if OntologyVersion.objects.filter(pk__in=version_ids, status=OntologyVersion.PUBLISHED).exists():
            raise ImmutableError("label classes of a published ontology version cannot be changed")

    def save(self, *args, **kwargs):
        self._check_mutable()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._check_mutable()
        return super().delete(*args, **kwargs)


class OntologyMigration(models.Model):
    """An explicit mapping from the classes of one version to another: {old_key: new_key or null}."""

    from_version = models.ForeignKey(OntologyVersion, on_delete=models.PROTECT, related_name="migrations_out")
    to_version = models.ForeignKey(OntologyVersion, on_delete=models.PROTECT, related_name="migrations_in")
    mapping = models.JSONField(help_text="old class key -> new class key, or null to drop")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    applied_revisions = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.from_version} → {self.to_version}"
