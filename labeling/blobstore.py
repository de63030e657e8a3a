"""Content-addressed storage of frame files and their renditions on Django's default storage
(local disk by default, S3-compatible with django-storages)."""
from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


def put(name: str, data: bytes) -> None:
    """Store bytes under a content-derived name once; an existing name already holds them."""
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(data))


def open_blob(name: str):
    return default_storage.open(name, "rb")


def exists(name: str) -> bool:
    return default_storage.exists(name)
