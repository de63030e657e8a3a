"""The images a person without raw access is served: the frame's derived rendition and the
thumbnail and blurred preview made from it (never from the raw file). A frame the pipeline has not
reached yet is searched for faces and rendered now, on its first view, exactly as the job would
(faces, `redact` boxes of approved annotations, manual regions), so there is never a moment when
only the raw file exists to serve. Thumbnails and previews are made on first use and kept,
content-addressed by the derived file's sha256."""
from __future__ import annotations

import io

from django.conf import settings
from django.db import transaction
from PIL import Image

from labeling.custody import state as custody
from labeling.footage import blobstore
from labeling.footage.decode import blurred_preview, encode_jpeg, small_copy, thumbnail
from labeling.models import DerivedFrame, Frame
from labeling.models.footage import blob_path
from labeling.redaction import derived, faces, regions, runs


def ensure(frame: Frame) -> DerivedFrame:
    """The frame's current derived rendition, made now if the pipeline has not made one.
    custody.Gone when retention deleted it (or the raw file it would be made from)."""
    custody.check_derived(frame.sequence)
    current = derived.derived_for(frame)
    if current is not None:
        return current
    custody.check_raw(frame.sequence)
    detector = faces.version()
    found, pixels, _ = runs.detect_frames([frame], detector)  # the slow part, outside any lock
    with transaction.atomic():
        Frame.objects.select_for_update(no_key=True).filter(pk=frame.pk).first()  # one maker per frame
        current = derived.derived_for(frame)
        if current is not None:  # another request (or the job) made it meanwhile
            return current
        regions.add_detections(found, detector)
        regions.sync_annotation_regions([frame.pk])
        return derived.rerender(frame, pixels.get(frame.pk))


def original_name(frame: Frame) -> str:
    return blob_path("derived", ensure(frame).sha256, "jpg")


def _made(name: str, make) -> str:
    if not blobstore.exists(name):
        blobstore.put(name, make())
    return name


def _base(sha: str) -> Image.Image:
    with blobstore.open_blob(blob_path("derived", sha, "jpg")) as fh:
        img = Image.open(io.BytesIO(fh.read()))
        img.load()
    return small_copy(img.convert("RGB"), max(settings.AERIE_THUMBNAIL_SIZE, settings.AERIE_PREVIEW_SIZE))


def thumbnail_name(frame: Frame) -> str:
    sha = ensure(frame).sha256
    return _made(blob_path("derived-thumbs", sha, "jpg"),
                 lambda: thumbnail(_base(sha), settings.AERIE_THUMBNAIL_SIZE))


def preview_name(frame: Frame, radius: float, grey: bool = False) -> str:
    """The blurred preview of the derived frame at `radius` (greyscale if asked)."""
    sha = ensure(frame).sha256
    kind = f"derived-blurred-r{radius:g}" + ("-g" if grey else "")

    def make() -> bytes:
        data = blurred_preview(_base(sha), settings.AERIE_PREVIEW_SIZE, radius)
        if not grey:
            return data
        return encode_jpeg(Image.open(io.BytesIO(data)).convert("L"), 85)

    return _made(blob_path(kind, sha, "jpg"), make)
