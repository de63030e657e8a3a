"""Keys and provenance: the signing keyring (every key that ever signed here, and other
installations' keys this one trusts) and the software bills of materials (SBOMs) of the software
that made exports and models."""
from __future__ import annotations

from django.db import models
from django.db.models import Q


class SigningKey(models.Model):
    """One Ed25519 public key and its life: made (or trusted), active, retired, revoked.

    The private keys of this installation's own keys are PEM files (AERIE_SIGNING_KEY_DIR,
    `<key_id>.pem`); the database names which one is active, so every web server and worker signs
    with the same key. A row is never deleted and its key never changes (migration trigger);
    a revocation is never undone. Changes go through labeling.access.key_custody (audited)."""

    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"
    TRUSTED_EXTERNAL = "trusted-external"
    STATES = [(ACTIVE, "active (signs from now on)"), (RETIRED, "retired (its signatures still verify)"),
              (REVOKED, "revoked"), (TRUSTED_EXTERNAL, "trusted external (another installation's key)")]
    OWN = "own"
    EXTERNAL = "external"
    ORIGINS = [(OWN, "this installation's"), (EXTERNAL, "another installation's")]

    key_id = models.CharField(max_length=16, unique=True, help_text="sha256 of the raw public key, first 16 hex")
    public_key = models.CharField(max_length=64, help_text="base64 of the raw 32-byte Ed25519 public key")
    origin = models.CharField(max_length=8, choices=ORIGINS)
    state = models.CharField(max_length=16, choices=STATES)
    source = models.CharField(max_length=32, help_text="where it came from: generated, key file, settings, ...")
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(help_text="when the key was made or first trusted here")
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True,
                                      help_text="signatures made from this time on are untrusted")
    revoked_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["state"], condition=Q(state="active"), name="one_active_signing_key"),
            models.CheckConstraint(condition=Q(state__in=["active", "retired", "revoked", "trusted-external"]),
                                   name="signing_key_state_known"),
            models.CheckConstraint(condition=~Q(origin="external", state="active") & ~Q(origin="own",
                                                                                      state="trusted-external"),
                                   name="signing_key_state_fits_origin"),
            models.CheckConstraint(condition=Q(state="revoked", revoked_at__isnull=False)
                                   | (~Q(state="revoked") & Q(revoked_at__isnull=True)),
                                   name="signing_key_revoked_has_time"),
        ]

    def __str__(self) -> str:
        return f"{self.key_id} ({self.state})"


class SoftwareBill(models.Model):
    """A CycloneDX SBOM of this installation's software as it ran (Python packages, aerie's
    version and commit, the PostgreSQL server), stored content-addressed and signed. Exports and
    model versions name the one of the software that made them. Append-only."""

    sha256 = models.CharField(max_length=64, unique=True)
    fingerprint = models.CharField(max_length=64, unique=True,
                                   help_text="sha256 of what the SBOM describes (one SBOM per software state)")
    blob_name = models.CharField(max_length=200)
    aerie_version = models.CharField(max_length=40)
    git_commit = models.CharField(max_length=40, blank=True)
    postgres_version = models.CharField(max_length=80, blank=True)
    packages = models.IntegerField()
    signature = models.TextField()
    key_id = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"SBOM {self.sha256[:12]} (aerie {self.aerie_version} {self.git_commit[:10]})"
