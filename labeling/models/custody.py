"""Custody of the data over years (labeling.custody): legal holds, retention runs and the
tombstones of the files they deleted."""
from django.conf import settings
from django.db import models
from django.db.models import Q


class LegalHold(models.Model):
    """A legal hold on a dataset or on one sequence: while it is live (not lifted), retention
    deletes nothing under it. Rows are never deleted; lifting one records who, when and why."""

    dataset = models.ForeignKey("labeling.Dataset", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="legal_holds")
    sequence = models.ForeignKey("labeling.Sequence", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="legal_holds")
    reason = models.TextField()
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    placed_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    lift_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-placed_at"]
        constraints = [models.CheckConstraint(
            condition=Q(dataset__isnull=False, sequence__isnull=True) | Q(dataset__isnull=True, sequence__isnull=False),
            name="legal_hold_one_target")]
        indexes = [models.Index(fields=["dataset"], condition=Q(lifted_at__isnull=True), name="legal_hold_live_ds_idx"),
                   models.Index(fields=["sequence"], condition=Q(lifted_at__isnull=True),
                                name="legal_hold_live_seq_idx")]

    def __str__(self) -> str:
        target = f"dataset {self.dataset_id}" if self.dataset_id else f"sequence {self.sequence_id}"
        return f"legal hold {self.pk} on {target}" + (" (lifted)" if self.lifted_at else "")


class RetentionRun(models.Model):
    """One pass of the retention policies (all datasets, or one), with its progress. Safe to run
    again: what a run deleted is not there to delete twice, and a resumed run carries on."""

    RUNNING, DONE, FAILED = "running", "done", "failed"
    STATUS_CHOICES = [(s, s.title()) for s in (RUNNING, DONE, FAILED)]

    dataset = models.ForeignKey("labeling.Dataset", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="retention_runs", help_text="empty: every dataset")
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=RUNNING)
    reason = models.CharField(max_length=40, help_text="schedule, command, api")
    sequences_total = models.PositiveIntegerField(default=0)
    sequences_done = models.PositiveIntegerField(default=0)
    blobs_deleted = models.PositiveIntegerField(default=0)
    bytes_deleted = models.BigIntegerField(default=0)
    counts = models.JSONField(default=dict, help_text="per kind: files and bytes deleted, sequences held or waiting")
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["status"], condition=Q(status="running"),
                                               name="one_running_retention_run")]

    def __str__(self) -> str:
        return f"retention run {self.pk} ({self.status} {self.sequences_done}/{self.sequences_total})"


class Tombstone(models.Model):
    """A stored file that a retention run deleted: what it was (its content address, name and
    size), when, under which dataset's policy and by which run. `verify_manifest` reports a file
    with a tombstone as deleted under retention, not as missing. Append-only."""

    RAW, DERIVED, SOURCE = "raw", "derived", "source"
    KIND_CHOICES = [(RAW, "Raw frame files"), (DERIVED, "Derived renditions"), (SOURCE, "Uploaded source file")]

    name = models.CharField(max_length=255, db_index=True, help_text="storage name (or upload path) of the file")
    sha256 = models.CharField(max_length=64, help_text="the content address the name was derived from (a frame's "
                                                       "sha256 for its files, a derived rendition's for its own)")
    size = models.BigIntegerField()
    kind = models.CharField(max_length=8, choices=KIND_CHOICES)
    dataset = models.ForeignKey("labeling.Dataset", on_delete=models.PROTECT, related_name="+",
                                help_text="the dataset whose policy deleted it")
    sequence = models.ForeignKey("labeling.Sequence", on_delete=models.PROTECT, related_name="+")
    policy_days = models.PositiveIntegerField(null=True, help_text="the policy in force: days kept after ingest "
                                                                   "(empty: the policy was lifted after the decision)")
    run = models.ForeignKey(RetentionRun, on_delete=models.PROTECT, related_name="tombstones")
    deleted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-deleted_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="tombstone_once_per_run")]

    def __str__(self) -> str:
        return f"{self.name} (deleted by retention run {self.run_id})"

    def describe(self, dataset_name: str | None = None) -> str:
        """What verify_manifest says about the file."""
        what = {self.RAW: "raw frames", self.DERIVED: "derived renditions", self.SOURCE: "uploaded sources"}[self.kind]
        kept = f"{what} kept {self.policy_days} days" if self.policy_days is not None else what
        return (f"deleted under retention policy of dataset '{dataset_name or self.dataset.name}' ({kept}) "
                f"on {self.deleted_at:%Y-%m-%d} by retention run {self.run_id}")
