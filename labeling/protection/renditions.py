"""Blurred previews at a project's blur strength, and greyscale versions for people who prefer
them. The preview at the installation's default strength is made at ingest; other strengths and
greyscale copies are made from the stored frame on first use and kept (content-addressed, so a
name that exists holds the right bytes)."""
from __future__ import annotations

import hashlib
import io

import cv2
import numpy as np
from django.conf import settings
from PIL import Image

from labeling.footage import blobstore, thermal
from labeling.footage.decode import blurred_preview, encode_jpeg, small_copy
from labeling.models import Frame
from labeling.models.footage import blob_path


def _kind(radius: float, grey: bool) -> str:
    kind = "blurred"
    if abs(radius - float(settings.AERIE_PREVIEW_BLUR_RADIUS)) > 1e-9:
        kind += f"-r{radius:g}"
    return kind + ("-g" if grey else "")


def blurred_name(frame: Frame, radius: float, grey: bool = False) -> str:
    """The storage name of the frame's blurred preview at `radius` (greyscale if asked), made now
    if it does not exist yet."""
    kind = _kind(radius, grey)
    if kind == "blurred":
        return frame.preview_name
    name = blob_path(kind, frame.sha256, "jpg")
    if not blobstore.exists(name):
        blobstore.put(name, _render(frame, radius, grey))
    return name


def _render(frame: Frame, radius: float, grey: bool) -> bytes:
    if _kind(radius, False) == "blurred":  # the ingest preview, only greyer
        with blobstore.open_blob(frame.preview_name) as fh:
            return greyscale(fh.read())
    with blobstore.open_blob(frame.image_name) as fh:
        img = Image.open(io.BytesIO(fh.read()))
        img.load()
    img = img.convert("RGB")
    base = small_copy(img, max(settings.AERIE_THUMBNAIL_SIZE, settings.AERIE_PREVIEW_SIZE))
    data = blurred_preview(base, settings.AERIE_PREVIEW_SIZE, radius)
    return greyscale(data) if grey else data


def greyscale(data: bytes, quality: int = 85) -> bytes:
    """A JPEG's greyscale copy (the original of a revealed frame for a greyscale preference is
    made this way on each reveal, never stored)."""
    img = Image.open(io.BytesIO(data))
    return encode_jpeg(img.convert("L"), quality)


def in_palette(name: str, palette: str) -> str:
    """A 16-bit (thermal) frame's image (its display image, thumbnail, preview or derived
    rendition: all grey, with the sequence's gain) coloured with `palette` (white-hot: as it is),
    made on first use and kept under a name derived from the grey image's name."""
    if palette == thermal.PALETTES[0]:
        return name
    ext = "png" if name.endswith(".png") else "jpg"
    coloured = blob_path(f"palette-{palette}", hashlib.sha256(name.encode()).hexdigest(), ext)
    if not blobstore.exists(coloured):
        with blobstore.open_blob(name) as fh:
            data = fh.read()
        blobstore.put(coloured, coloured_bytes(data, palette, ext))
    return coloured


def coloured_bytes(data: bytes, palette: str, ext: str = "jpg") -> bytes:
    grey = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    ok, out = cv2.imencode(f".{ext}", thermal.apply_palette(grey, palette),
                           [cv2.IMWRITE_JPEG_QUALITY, 90] if ext == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise ValueError("the coloured frame could not be encoded")
    return out.tobytes()
