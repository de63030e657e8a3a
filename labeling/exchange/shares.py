"""Shares for partners outside the installation: a time-limited, revocable download of one derived
dataset version (its signed manifest and its derived frames) and, optionally, the labels of one
export of a project on that dataset (an export without raw images). The link carries a random
token; only its sha256 is stored, the token is shown once. The token opens this one download and
nothing else (no session, no API). Every creation, download and revocation is an audit event.

What the archive holds:
    derived-manifest.json        the derived version's manifest, as signed
    derived-manifest.sig.json    its signature, key id, sha256 and the version it belongs to
    frames/<sequence>/<index>.jpg  every derived frame the manifest lists (sha256 as listed there)
    labels/<export file>.zip     the export, as signed (when the share names one)
"""
from __future__ import annotations

import hashlib
import json
import secrets
import tempfile
import zipfile
from datetime import datetime, timedelta

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labeling import audit
from labeling.custody import state as custody
from labeling.footage import blobstore
from labeling.models import DerivedDatasetVersion, Export, Share

MAX_DAYS = 90
MAX_NOTE = 2000


class ShareError(ValueError):
    """Refused, naming the field; nothing changed."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class Gone(LookupError):
    """No such link, or it expired or was revoked: one answer for all, so a guess learns nothing."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(version: DerivedDatasetVersion, user, *, expires_at, note, export: Export | None = None) -> tuple[Share, str]:
    """A share of `version` (and `export`'s labels) until `expires_at`; returns it and its token."""
    note = note.strip() if isinstance(note, str) else ""
    if not note:
        raise ShareError("note", "say who the share is for and why")
    if len(note) > MAX_NOTE:
        raise ShareError("note", f"at most {MAX_NOTE} characters")
    now = timezone.now()
    if not isinstance(expires_at, datetime) or timezone.is_naive(expires_at):
        raise ShareError("expires_at", "a date and time with a time zone")
    if not now < expires_at <= now + timedelta(days=MAX_DAYS):
        raise ShareError("expires_at", f"in the future, at most {MAX_DAYS} days from now")
    if export is not None:
        if export.project.dataset_id != version.dataset_id:
            raise ShareError("export", "an export of a project on this dataset")
        if export.status != Export.DONE:
            raise ShareError("export", "a finished export")
        if export.include_images and export.image_kind == Export.RAW_IMAGES:
            raise ShareError("export", "it holds raw frames: a share carries derived data only")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        share = Share.objects.create(derived_version=version, export=export, token_sha256=_digest(token), note=note,
                                     created_by=user, expires_at=expires_at)
        audit.record(user, "share.create", share, {"derived_version": version.pk, "export": export.pk if export else None,
                                                   "expires_at": expires_at.isoformat(), "note": note},
                     dataset=version.dataset_id)
    return share, token


def revoke(share: Share, user, reason) -> Share:
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise ShareError("reason", "say why")
    with transaction.atomic():
        share = Share.objects.select_for_update().get(pk=share.pk)
        if share.revoked_at:
            raise ShareError("share", "already revoked")
        share.revoked_at, share.revoked_by, share.revoke_reason = timezone.now(), user, reason[:MAX_NOTE]
        share.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        audit.record(user, "share.revoke", share, {"reason": share.revoke_reason},
                     dataset=share.derived_version.dataset_id)
    return share


def live(token: str) -> Share:
    """The share this token opens now, or Gone."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise Gone()
    share = (Share.objects.select_related("derived_version__dataset", "export")
             .filter(token_sha256=_digest(token)).first())
    if share is None or share.revoked_at is not None or share.expires_at <= timezone.now():
        raise Gone()
    return share


def download(token: str, client: str = ""):
    """The archive of a live share, as an open temporary file (counted and audited)."""
    share = live(token)
    version = share.derived_version
    out = tempfile.TemporaryFile()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        with default_storage.open(version.manifest_name, "rb") as fh:
            manifest = fh.read()
        zf.writestr("derived-manifest.json", manifest)
        zf.writestr("derived-manifest.sig.json", json.dumps({
            "dataset": version.dataset.name, "derived_version": version.number, "sha256": version.manifest_sha256,
            "signature": version.signature, "key_id": version.key_id}, indent=1))
        frames = json.loads(manifest)["frames"]
        absent = {}
        for entry in frames:
            try:
                with blobstore.open_blob(entry["file"]) as fh:
                    zf.writestr(f"frames/{entry['sequence']}/{entry['index']:06d}.jpg", fh.read())
            except FileNotFoundError:
                absent[f"{entry['sequence']}#{entry['index']}"] = entry["file"]
        if absent:  # deleted under a retention policy (labeling.custody) is said; anything else is an error
            stones = custody.tombstones(absent.values())
            lost = [label for label, name in absent.items() if name not in stones]
            if lost:
                raise FileNotFoundError(f"frame files missing: {', '.join(lost[:5])}")
            zf.writestr("frames-deleted-under-retention.txt", "".join(
                f"{label}: {stones[name].describe()}\n" for label, name in absent.items()))
        if share.export is not None:
            with default_storage.open(share.export.file_name, "rb") as fh:
                zf.writestr(f"labels/{share.export.download_name}", fh.read())
    out.seek(0)
    Share.objects.filter(pk=share.pk).update(downloads=F("downloads") + 1)
    audit.record(None, "share.download", share, {"derived_version": version.pk, "frames": len(frames),
                                                  "client": client[:100]}, dataset=version.dataset_id)
    return share, out
