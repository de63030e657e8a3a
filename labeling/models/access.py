"""Raw access: the scope that lets a named person receive a dataset's raw (unredacted) frames.
Everyone else gets the derived renditions (labeling.redaction)."""
from django.conf import settings
from django.db import models
from django.db.models import Q


class RawAccessGrant(models.Model):
    """A grant of raw access to one dataset for one person, by an admin, with a reason and an
    expiry; revocable. Rows are never deleted: the history of who could see raw footage stays."""

    dataset = models.ForeignKey("labeling.Dataset", on_delete=models.PROTECT, related_name="raw_grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="raw_grants")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    granted_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    revoke_reason = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "dataset"], condition=Q(revoked_at__isnull=True),
                                name="raw_grant_live_idx")]

    def __str__(self):
        return f"raw access to dataset {self.dataset_id} for user {self.user_id}"
