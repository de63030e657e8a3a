"""Where an upload waits for its ingest, so that the web server that took it and the worker that
ingests it need not share a disk.

- Local storage (the default): the upload is kept in AERIE_UPLOAD_DIR until its ingest ends. On
  several machines sharing a filesystem, AERIE_UPLOAD_DIR goes on it too.
- Object storage (AERIE_S3_BUCKET): the web server stores the upload (encrypted when a data key
  is configured, as on disk) under `uploads/` in the bucket. The worker that takes the ingest
  copies it to its own AERIE_UPLOAD_DIR for the job's time (`fetched`); the bucket's copy goes
  once the ingest ended (`discard`), so a worker that dies mid-ingest leaves it for the next.

An SRT sidecar uploaded beside a video travels with it as `<name>.srt`."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages

from labeling.footage import blobstore, crypto

PREFIX = "uploads/"
SIDECAR_SUFFIX = ".srt"


def upload_dir() -> Path:
    path = Path(settings.AERIE_UPLOAD_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def remote() -> bool:
    """Whether uploads wait in object storage (shared by every machine) rather than on this disk."""
    return not blobstore.is_local()


def sidecar_name(name: str) -> str:
    return name + SIDECAR_SUFFIX


def sidecar_path(upload: Path) -> Path:
    """Where an SRT sidecar uploaded beside a video is kept on disk until its ingest ends."""
    return upload.with_name(sidecar_name(upload.name))


def keep(upload, name: str) -> None:
    """Store an uploaded file under `name` until its ingest ends: encrypted when a data key is
    configured (an upload the request already wrote encrypted, labeling.footage.uploads, is
    moved, not copied), then, with object storage, sent to the bucket."""
    path = upload_dir() / name
    adopt = getattr(upload, "adopt_encrypted", None)
    if not (adopt is not None and crypto.keyring().enabled and adopt(path)):
        with crypto.LocalWriter(path) as out:
            for chunk in upload.chunks():
                out.write(chunk)
    if remote():
        try:
            _push(path, PREFIX + name)
        finally:
            path.unlink(missing_ok=True)


def _push(path: Path, key: str) -> None:
    storage = storages["default"]
    with open(path, "rb") as fh:
        saved = storage.save(key, File(fh, name=Path(key).name))
    if saved != key:  # names are fresh uuids: a clash means something else wrote there
        storage.delete(saved)
        raise OSError(f"{key}: the storage saved the upload as {saved}")


@contextmanager
def fetched(name: str) -> Iterator[Path | None]:
    """The upload `name` as a file on this machine for the ingest's time (its sidecar beside it
    when there is one); None when it is gone. With object storage the local copies are removed
    afterwards; the bucket's stay until `discard`."""
    path = upload_dir() / name
    if not remote():
        yield path if path.exists() else None
        return
    storage = storages["default"]
    if not storage.exists(PREFIX + name):
        yield None
        return
    copies = [path]
    try:
        _pull(PREFIX + name, path)
        if storage.exists(PREFIX + sidecar_name(name)):
            copies.append(sidecar_path(path))
            _pull(PREFIX + sidecar_name(name), copies[-1])
        yield path
    finally:
        for copy in copies:
            copy.unlink(missing_ok=True)


def _pull(key: str, path: Path) -> None:
    """Copy a stored upload to `path` as stored (still encrypted), via a hidden temp file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, storages["default"].open(key, "rb") as src:
            for chunk in iter(lambda: src.read(1024 * 1024), b""):
                out.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def discard(name: str) -> None:
    """Remove an upload and its sidecar wherever they wait (the ingest ended, or retention)."""
    path = upload_dir() / name
    path.unlink(missing_ok=True)
    sidecar_path(path).unlink(missing_ok=True)
    if remote():
        storage = storages["default"]
        storage.delete(PREFIX + name)
        storage.delete(PREFIX + sidecar_name(name))


def stored(name: str) -> list[tuple[str, int]]:
    """(storage-style name, size) of an upload and its sidecar still waiting: what retention
    deletes and records."""
    found = []
    for each in (name, sidecar_name(name)):
        if remote():
            storage = storages["default"]
            if storage.exists(PREFIX + each):
                found.append((PREFIX + each, storage.size(PREFIX + each)))
        else:
            path = upload_dir() / each
            if path.exists():
                found.append((PREFIX + each, path.stat().st_size))
    return found


def waiting_remote() -> list[str]:
    """Names of the uploads waiting in object storage (the key rotation re-wraps them)."""
    if not remote():
        return []
    _, files = storages["default"].listdir(PREFIX.rstrip("/"))
    return sorted(f for f in files if not f.startswith("."))


@contextmanager
def remote_copy(name: str) -> Iterator[Path]:
    """A waiting upload in object storage copied here as stored; what the block leaves at the
    path is stored back under the same name (the key rotation's re-wrapped header). An object
    store cannot rewrite part of an object, so this is a delete and a save: a worker fetching
    the upload in between finds it gone and its ingest is sent again by the next retry."""
    path = upload_dir() / f".rekey-{name}"
    _pull(PREFIX + name, path)
    try:
        yield path
        with open(path, "rb") as fh:
            blobstore.overwriting_storage().save(PREFIX + name, File(fh, name=name))
    finally:
        path.unlink(missing_ok=True)
