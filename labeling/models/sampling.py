"""The model registry: signed model versions per project, and which one is current."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


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
    is_current = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "kind"], condition=Q(is_current=True),
                                    name="one_current_model_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.architecture} {self.sha256[:12]} ({self.project_id})"
