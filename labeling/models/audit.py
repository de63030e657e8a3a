from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One append-only record of something that matters: who did what to which object, when.
    The database refuses UPDATE and DELETE on this table, and links every committed event into
    a hash chain (AuditLink) within seconds (migration 0012, labeling.audit.chain).

    `project` and `dataset` say whose audit trail the event belongs to (QA leads see the events
    of their projects and of their projects' datasets); they are plain references without a
    foreign-key constraint, so the trail outlives what it talks about."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    verb = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    project = models.ForeignKey("labeling.Project", null=True, blank=True, on_delete=models.DO_NOTHING,
                                db_constraint=False, db_index=False, related_name="+")
    dataset = models.ForeignKey("labeling.Dataset", null=True, blank=True, on_delete=models.DO_NOTHING,
                                db_constraint=False, db_index=False, related_name="+")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"]),
                   models.Index(fields=["project", "id"], name="labeling_audit_project_id"),
                   models.Index(fields=["dataset", "id"], name="labeling_audit_dataset_id")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.verb} {self.object_type}:{self.object_id}"


class AuditPending(models.Model):
    """An event not linked into the chain yet: the database adds one row per event it stores,
    and removes it when it links the event (aerie_audit_link_pending, within seconds)."""

    event = models.OneToOneField(AuditEvent, on_delete=models.DO_NOTHING, db_constraint=False, primary_key=True,
                                 related_name="+")


class AuditLink(models.Model):
    """An event's place in the installation's hash chain: `hash` = sha256 over the previous
    link's hash and the event's content (labeling.audit.chain). Written by the database itself
    (aerie_audit_link_pending), never by the application; append-only."""

    seq = models.BigIntegerField(primary_key=True)
    event = models.OneToOneField(AuditEvent, on_delete=models.DO_NOTHING, db_constraint=False, related_name="link")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.hash[:12]}"


class AuditSeal(models.Model):
    """The chain's head at one moment, signed with the installation's Ed25519 key: whoever
    rewrites history before a seal would need the key to sign a matching head. Append-only."""

    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    at = models.DateTimeField()
    key_id = models.CharField(max_length=16)
    signature = models.TextField()
    sealed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")

    class Meta:
        ordering = ["-seq", "-id"]

    def __str__(self) -> str:
        return f"seal #{self.seq} {self.hash[:12]} at {self.at:%Y-%m-%d %H:%M}"
