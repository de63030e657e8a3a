"""Content-addressed storage of frame files and their renditions on Django's default storage
(local disk by default, S3-compatible with django-storages).

Names are derived from content, so a name that exists already holds the right bytes and is
never written twice. On local disk, files are written straight (temp file + rename, so a
reader never sees half a file) instead of through Storage.save, whose per-file directory
creation and name probing cost more than encoding the frame.

Raw footage is stored encrypted when a data key is configured (labeling.footage.crypto): `put`
encrypts, `open_blob` decrypts as it streams."""
from __future__ import annotations

import os
import tempfile

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage, storages

from labeling.footage import crypto

_known_dirs: set[str] = set()


def _local_root() -> str | None:
    storage = storages["default"]
    return storage.location if isinstance(storage, FileSystemStorage) else None


def is_local() -> bool:
    """Whether the default storage is this machine's disk (else object storage that every
    machine shares)."""
    return _local_root() is not None


def put(name: str, data: bytes, *, raw: bool | None = None) -> None:
    """Store bytes under a content-derived name once; an existing name already holds them. Raw
    footage is encrypted when a data key is configured (labeling.footage.crypto; `raw` overrides
    what the name says); the name stays that of the plaintext."""
    if crypto.should_encrypt(name, raw):
        data = crypto.seal(data, name)
    root = _local_root()
    if root is None:
        if not default_storage.exists(name):
            default_storage.save(name, ContentFile(data))
        return
    path = os.path.join(root, name)
    if os.path.exists(path):
        return
    _write_local(path, data)


def _write_local(path: str, data: bytes) -> None:
    """Temp file + rename: a reader sees the old file or the new one, never half of one."""
    directory = os.path.dirname(path)
    if directory not in _known_dirs:
        os.makedirs(directory, exist_ok=True)
        _known_dirs.add(directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def overwriting_storage():
    """The default storage configured to replace an existing name in place (S3: one PUT, which
    readers see whole, the old object or the new). Made once per default storage (a rotation
    replaces every blob; each new S3 storage would open its own client)."""
    base = storages["default"]
    made = getattr(base, "_aerie_overwriting", None)
    if made is None:
        options = dict(settings.STORAGES["default"].get("OPTIONS", {}), file_overwrite=True)
        made = base._aerie_overwriting = base.__class__(**options)
    return made


def replace(name: str, stored: bytes) -> None:
    """Overwrite an existing blob's stored bytes as they are (no encryption applied here): the
    key rotation's re-wrapped header, or an old plaintext blob now encrypted. Atomic on local
    disk and on object storage (one write over the old object: a reader never finds it missing)."""
    root = _local_root()
    if root is not None:
        _write_local(os.path.join(root, name), stored)
        return
    saved = overwriting_storage().save(name, ContentFile(stored))
    if saved != name:
        raise OSError(f"{name}: the storage saved the blob as {saved}")


def head(name: str, size: int = crypto.HEADER_SIZE) -> bytes:
    """The first bytes of a blob as stored (an encrypted blob's header)."""
    with storages["default"].open(name, "rb") as fh:
        return fh.read(size)


def read_stored(name: str) -> bytes:
    """A blob's bytes as stored (ciphertext when encrypted)."""
    with storages["default"].open(name, "rb") as fh:
        return fh.read()


def top_folders() -> list[str]:
    try:
        dirs, _ = storages["default"].listdir("")
    except FileNotFoundError:  # nothing stored yet
        return []
    return sorted(dirs)


def walk(folder: str):
    """Every blob name under `folder`, in a stable order (a resumed rotation goes the same way)."""
    storage = storages["default"]
    if not storage.exists(folder) and _local_root() is not None:
        return
    dirs, files = storage.listdir(folder)
    for file in sorted(files):
        if not file.startswith(".part-"):
            yield f"{folder}/{file}"
    for sub in sorted(dirs):
        yield from walk(f"{folder}/{sub}")


def open_blob(name: str):
    """A blob for reading (the same storage `put` wrote to): decrypted on the fly, one segment at
    a time, when it is encrypted (crypto.DataKeyError for a key not configured,
    crypto.BlobIntegrityError for tampered or cut ciphertext); as stored when it is plaintext."""
    fh = storages["default"].open(name, "rb")
    try:
        return crypto.open_reader(fh, name)
    except BaseException:
        fh.close()
        raise


def exists(name: str) -> bool:
    return storages["default"].exists(name)


def delete(name: str) -> None:
    """Remove a stored file (retention, labeling.custody); a name already gone is no error."""
    storages["default"].delete(name)
