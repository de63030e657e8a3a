"""Changing the signing keyring: rotate (a new active key, the old one retired), revoke, retire
an external key, trust another installation's key. One function each, inside a transaction under
the keyring's lock, with an audit event; the audit chain is then sealed with the (new) active
key, so the change itself is signed by the key that signs from now on."""
from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import transaction
from django.utils import timezone

from labeling import audit
from labeling.access import keyring
from labeling.access.keyring import KeyringError
from labeling.audit import chain
from labeling.models import AuditSeal, SigningKey


def _row(key_id: str) -> SigningKey:
    """The key named by its id (or an unambiguous prefix of it, 6 characters at least)."""
    key_id = (key_id or "").strip().lower()
    rows = list(SigningKey.objects.select_for_update().filter(key_id__startswith=key_id)[:2]) \
        if len(key_id) >= 6 else []
    if len(rows) != 1:
        raise KeyringError(f"no single key in the keyring has the id {key_id!r} (see `manage.py signing_keys`)")
    return rows[0]


def rotate(user=None, *, private_key_file: str | Path | None = None,
           note: str = "") -> tuple[SigningKey, SigningKey, AuditSeal]:
    """Make a new key the active one; the active key becomes retired (its signatures keep
    verifying). The new private key is written to AERIE_SIGNING_KEY_DIR (mode 0600), or taken
    from `private_key_file` (a key made and copied to every machine beforehand). Returns (new
    key, retired key, the seal the new key made)."""
    keyring.ensure()
    private = keyring.read_private_key(Path(private_key_file)) if private_key_file else Ed25519PrivateKey.generate()
    new_id = keyring.key_id_of(private.public_key())
    if SigningKey.objects.filter(key_id=new_id).exists():
        raise KeyringError(f"key {new_id} is already in the keyring: a key is used once")
    path = keyring.key_path(new_id)
    if not path.exists():
        keyring.write_private_key(path, private)
    with transaction.atomic():
        keyring.lock()
        old = SigningKey.objects.select_for_update().get(state=SigningKey.ACTIVE)
        now = timezone.now()
        old.state, old.retired_at = SigningKey.RETIRED, now
        old.save(update_fields=["state", "retired_at"])
        new = SigningKey.objects.create(
            key_id=new_id, public_key=base64.b64encode(keyring.raw_public(private.public_key())).decode(),
            origin=SigningKey.OWN, state=SigningKey.ACTIVE, created_at=now, activated_at=now, note=note,
            source="key file given" if private_key_file else "generated")
        audit.record(user, "signing_key.rotate", new, {"key_id": new_id, "retired": old.key_id, "note": note})
    return new, old, chain.seal(user)


def revoke(key_id: str, *, at: dt.datetime, reason: str, user=None) -> tuple[SigningKey, AuditSeal]:
    """Mark a key revoked from `at` on: its signatures made since are untrusted, older ones
    still verify with a warning. The active key is rotated out first (rotate)."""
    reason = (reason or "").strip()
    if not reason:
        raise KeyringError("--reason: say why the key is revoked (it is printed with every signature it made)")
    if at is None or timezone.is_naive(at):
        raise KeyringError("--at: a time with its zone, e.g. 2026-03-01T12:00:00+00:00")
    if at > timezone.now():
        raise KeyringError("--at: the revocation time is in the future; revoke when it has come")
    keyring.ensure()
    with transaction.atomic():
        keyring.lock()
        row = _row(key_id)
        if row.state == SigningKey.REVOKED:
            raise KeyringError(f"key {row.key_id} is already revoked (at {row.revoked_at:%Y-%m-%d %H:%M:%S %Z}: "
                               f"{row.revoked_reason})")
        if row.state == SigningKey.ACTIVE:
            raise KeyringError(f"key {row.key_id} is the active key: rotate first (`manage.py rotate_signing_key`), "
                               "then revoke it")
        previous = row.state
        row.state, row.revoked_at, row.revoked_reason = SigningKey.REVOKED, at, reason
        if previous == SigningKey.TRUSTED_EXTERNAL and row.retired_at is None:
            row.retired_at = timezone.now()
        row.save(update_fields=["state", "revoked_at", "revoked_reason", "retired_at"])
        audit.record(user, "signing_key.revoke", row, {"key_id": row.key_id, "at": at.isoformat(),
                                                       "reason": reason, "was": previous})
    return row, chain.seal(user)


def retire(key_id: str, *, user=None) -> tuple[SigningKey, AuditSeal]:
    """Stop trusting another installation's key for new signatures; what it signed before still
    verifies. (This installation's keys are retired by rotating.)"""
    keyring.ensure()
    with transaction.atomic():
        keyring.lock()
        row = _row(key_id)
        if row.state != SigningKey.TRUSTED_EXTERNAL:
            hint = " (the active key is retired by `manage.py rotate_signing_key`)" \
                if row.state == SigningKey.ACTIVE else ""
            raise KeyringError(f"key {row.key_id} is {row.state}: only a trusted external key is retired here{hint}")
        row.state, row.retired_at = SigningKey.RETIRED, timezone.now()
        row.save(update_fields=["state", "retired_at"])
        audit.record(user, "signing_key.retire", row, {"key_id": row.key_id})
    return row, chain.seal(user)


def trust(public_key_b64: str, *, note: str = "", user=None) -> tuple[SigningKey, AuditSeal]:
    """Trust another installation's public key (base64 of the raw 32 bytes) for model weights."""
    public = keyring.public_from_b64(public_key_b64 or "")
    kid = keyring.key_id_of(public)
    keyring.ensure()
    with transaction.atomic():
        keyring.lock()
        existing = SigningKey.objects.filter(key_id=kid).first()
        if existing is not None:
            raise KeyringError(f"key {kid} is already in the keyring ({existing.state}, {existing.origin})")
        row = SigningKey.objects.create(
            key_id=kid, public_key=base64.b64encode(keyring.raw_public(public)).decode(), origin=SigningKey.EXTERNAL,
            state=SigningKey.TRUSTED_EXTERNAL, source="added", note=note, created_at=timezone.now())
        audit.record(user, "signing_key.trust", row, {"key_id": kid, "note": note})
    return row, chain.seal(user)
