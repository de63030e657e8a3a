"""Content-addressed storage of frame files and their renditions on Django's default storage
(local disk by default, S3-compatible with django-storages).

Names are derived from content, so a name that exists already holds the right bytes and is
never written twice. On local disk, files are written straight (temp file + rename, so a
reader never sees half a file) instead of through Storage.save, whose per-file directory
creation and name probing cost more than encoding the frame."""
from __future__ import annotations

import os
import tempfile

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage, storages

_known_dirs: set[str] = set()


def _local_root() -> str | None:
    storage = storages["default"]
    return storage.location if isinstance(storage, FileSystemStorage) else None


def put(name: str, data: bytes) -> None:
    """Store bytes under a content-derived name once; an existing name already holds them."""
    root = _local_root()
    if root is None:
        if not default_storage.exists(name):
            default_storage.save(name, ContentFile(data))
        return
    path = os.path.join(root, name)
    if os.path.exists(path):
        return
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


def open_blob(name: str):
    return storages["default"].open(name, "rb")  # the same storage `put` wrote to


def exists(name: str) -> bool:
    return storages["default"].exists(name)


def delete(name: str) -> None:
    """Remove a stored file (retention, labeling.custody); a name already gone is no error."""
    storages["default"].delete(name)
