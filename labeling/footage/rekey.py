"""Rotating the key-encryption key: every encrypted blob's data key is unwrapped with the key it
names and wrapped again with the target key, in its header; the frames themselves are never
re-encrypted. Optionally, plaintext blobs written before encryption was switched on are
encrypted on the way.

Resumable by construction: a blob's header says which key wraps it, so a rerun skips what an
interrupted run already moved, and blobs are visited in a stable order. Each blob is replaced
atomically (temp file + rename on disk), so an interruption leaves every blob readable with one
of the two keys. The audit trail records each start (fresh or resumed) and the finish; once
finished, no blob needs the old keys any more."""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from django.conf import settings

from labeling import audit
from labeling.footage import blobstore, crypto, staging
from labeling.models import AuditEvent

SUBJECT = "data_key"  # the audit events' object_type; object_id: the target key's id


@dataclass
class Progress:
    target: str
    seen: int = 0
    rewrapped: int = 0
    encrypted: int = 0  # plaintext blobs encrypted (encrypt_plaintext)
    current: int = 0  # already on the target key
    plaintext: int = 0  # left in the clear
    failed: list = field(default_factory=list)  # (name, reason)

    def as_dict(self) -> dict:
        return {"seen": self.seen, "rewrapped": self.rewrapped, "encrypted": self.encrypted,
                "already_on_key": self.current, "plaintext_left": self.plaintext, "failed": len(self.failed)}


def blob_folders() -> list[str]:
    """The storage's top-level folders that can hold encrypted blobs: raw footage and derived
    renditions (exports, manifests and models are never encrypted)."""
    return [d for d in blobstore.top_folders() if crypto.is_raw(d + "/") or d.startswith(crypto.DERIVED_PREFIXES)]


def _target_ring(ring: crypto.Keyring, target: bytes) -> crypto.Keyring:
    return crypto.Keyring(target, ring.keys)


def _move_blob(name: str, ring: crypto.Keyring, target: bytes, encrypt_plaintext: bool, progress: Progress) -> None:
    stored = blobstore.read_stored(name)
    new = _moved(stored, name, ring, target, encrypt_plaintext and crypto.encrypted_kind(name), progress)
    if new is not None:
        blobstore.replace(name, new)


def _moved(stored: bytes, name: str, ring: crypto.Keyring, target: bytes, encrypt_plaintext: bool,
           progress: Progress) -> bytes | None:
    """The blob's new stored bytes, or None when it stays as it is."""
    if crypto.is_encrypted(stored):
        header = crypto.parse_header(stored, name)
        if header.kek_id == target:
            progress.current += 1
            return None
        progress.rewrapped += 1
        return crypto.rewrap(stored, ring, target, name) + stored[crypto.HEADER_SIZE:]
    if encrypt_plaintext:
        progress.encrypted += 1
        return crypto.seal(stored, name, _target_ring(ring, target))
    progress.plaintext += 1
    return None


def _rewrap_upload(path: Path, ring: crypto.Keyring, target: bytes, progress: Progress) -> None:
    """An upload (maybe gigabytes) re-wrapped as a stream: new header, then the same ciphertext."""
    with open(path, "rb") as fh:
        head = fh.read(crypto.HEADER_SIZE)
        if not crypto.is_encrypted(head):
            progress.plaintext += 1
            return
        if crypto.parse_header(head, path.name).kek_id == target:
            progress.current += 1
            return
        fresh = crypto.rewrap(head, ring, target, path.name)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rekey-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(fresh)
                shutil.copyfileobj(fh, out, 1024 * 1024)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    progress.rewrapped += 1


def _rewrap_remote_upload(name: str, ring: crypto.Keyring, target: bytes, progress: Progress) -> None:
    """An upload waiting in object storage: its header read first, the whole object copied here
    and stored back only when it needs the new key."""
    head = blobstore.head(staging.PREFIX + name)
    if crypto.is_encrypted(head) and crypto.parse_header(head, name).kek_id != target:
        with staging.remote_copy(name) as path:
            _rewrap_upload(path, ring, target, progress)
        return
    progress.plaintext += not crypto.is_encrypted(head)
    progress.current += crypto.is_encrypted(head)


def _uploads() -> list[Path]:
    """Uploads waiting for their ingest (encrypted with the key of their day). Files still being
    written are hidden (crypto.LocalWriter, uploads.EncryptingUploadHandler) and left alone: the
    processes writing them already run with the new key."""
    folder = Path(settings.AERIE_UPLOAD_DIR)  # with object storage, only copies of ingests under way
    if not folder.is_dir() or staging.remote():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))  # hidden: being written


def _step(name: str, move: Callable[[], None], progress: Progress, on_blob) -> None:
    progress.seen += 1
    try:
        move()
    except FileNotFoundError:
        progress.seen -= 1  # deleted meanwhile (retention): nothing to rotate
        return
    except (crypto.DataKeyError, crypto.BlobIntegrityError, OSError) as exc:
        progress.failed.append((name, str(exc)))
    if on_blob is not None:
        on_blob(progress, name)


def rotate(target: bytes, ring: crypto.Keyring | None = None, *, encrypt_plaintext: bool = False,
           on_blob: Callable[[Progress, str], None] | None = None, actor=None) -> Progress:
    """Move every encrypted blob (and every upload waiting for ingest) to KEK `target` (an id in
    `ring`, by default the configured keys). `on_blob(progress, name)` after each blob (the
    command's progress lines). Failures (a key not configured, a damaged header) are listed and
    the rotation does not count as finished; rerun it once they are fixed."""
    ring = ring or crypto.keyring()
    if target not in ring.keys:
        raise crypto.DataKeyError(f"the target key {target.hex()} is not among the configured keys")
    others = sorted(k.hex() for k in ring.keys if k != target)
    resumed = _unfinished(target.hex())
    audit.record(actor, "data_key.rotation_started", object_type=SUBJECT, object_id=target.hex(),
                 data={"to": target.hex(), "from": others, "resumed": resumed, "encrypt_plaintext": encrypt_plaintext})
    progress = Progress(target.hex())
    for folder in blob_folders():
        for name in blobstore.walk(folder):
            _step(name, lambda n=name: _move_blob(n, ring, target, encrypt_plaintext, progress), progress, on_blob)
    for path in _uploads():
        _step(f"uploads/{path.name}", lambda p=path: _rewrap_upload(p, ring, target, progress), progress, on_blob)
    for name in staging.waiting_remote():
        _step(staging.PREFIX + name, lambda n=name: _rewrap_remote_upload(n, ring, target, progress), progress,
              on_blob)
    verb = "data_key.rotation_finished" if not progress.failed else "data_key.rotation_incomplete"
    data = {"to": target.hex(), **progress.as_dict()}
    if progress.failed:
        data["failures"] = [f"{name}: {reason}" for name, reason in progress.failed[:20]]
    else:
        data["retired"] = others  # no blob needs these any more
    audit.record(actor, verb, object_type=SUBJECT, object_id=target.hex(), data=data)
    return progress


def _unfinished(target_hex: str) -> bool:
    """Whether an earlier rotation to this key started and never finished (this run resumes it)."""
    last = (AuditEvent.objects.filter(object_type=SUBJECT, object_id=target_hex,
                                      verb__startswith="data_key.rotation_").order_by("-pk").first())
    return last is not None and last.verb != "data_key.rotation_finished"
