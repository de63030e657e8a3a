"""Shares: a partner outside the installation downloads one derived dataset version (and the labels
of one export) through a link with a token, until it expires or is revoked."""
from django.conf import settings
from django.db import models


class Share(models.Model):
    derived_version = models.ForeignKey("labeling.DerivedDatasetVersion", on_delete=models.PROTECT,
                                        related_name="shares")
    export = models.ForeignKey("labeling.Export", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               help_text="The labels that travel with the frames (an export without raw images)")
    token_sha256 = models.CharField(max_length=64, unique=True, help_text="The token itself is shown once, never stored")
    note = models.TextField(help_text="Who it is for and why (goes into the audit trail)")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    revoke_reason = models.TextField(blank=True)
    downloads = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"share {self.pk} of {self.derived_version}"
