"""Derived renditions: a frame's raw pixels with its live regions hidden, content-addressed under
derived/ like the originals, each with its lineage (the raw sha256, the method, every region and
what found it).

Every frame gets a derived rendition once the pipeline ran over it, also a frame without regions:
its pixels re-encoded. So a derived file's bytes never equal the raw file's (what the raw-access
crawler checks: no served image is an original), no metadata the raw file carried survives, and
the serving code has one rule: serve `derived_blob_name(frame)`.

A frame whose live region set (or its dataset's method) changes gets a new rendition; the
previous one stays, no longer `current` (the history a derived dataset version points into)."""
from __future__ import annotations

import hashlib

import numpy as np
from django.db import transaction

from labeling.footage import blobstore
from labeling.models import Dataset, DerivedFrame, Frame, RedactionRegion
from labeling.models.footage import blob_path
from labeling.redaction import regions as regions_mod
from labeling.redaction import render


def lineage(region: RedactionRegion) -> dict:
    """What a derived manifest and the API say about one region: where and what found it."""
    out = {"id": region.pk, "x": round(region.x, 2), "y": round(region.y, 2), "w": round(region.w, 2),
           "h": round(region.h, 2), "source": region.source}
    if region.source == RedactionRegion.DETECTOR:
        out.update(detector=region.detector, score=region.score)
    elif region.source == RedactionRegion.ANNOTATION:
        out.update(annotation=region.annotation_id, label_class=region.label_class)
    else:
        out.update(user=region.created_by.username if region.created_by_id else None, reason=region.reason)
    return out


def regions_key(method: str, region_ids) -> str:
    return hashlib.sha256(f"{method}:{','.join(str(i) for i in sorted(region_ids))}".encode()).hexdigest()


def derived_for(frame) -> DerivedFrame | None:
    """The frame's current derived rendition (None before the pipeline ran over it)."""
    frame_id = getattr(frame, "pk", frame)
    return DerivedFrame.objects.filter(frame_id=frame_id, current=True).first()


def derived_blob_name(frame) -> str | None:
    """Storage name of the frame's current derived file (blobstore.open_blob reads it)."""
    frame_id = getattr(frame, "pk", frame)
    sha = DerivedFrame.objects.filter(frame_id=frame_id, current=True).values_list("sha256", flat=True).first()
    return blob_path("derived", sha, "jpg") if sha else None


def history(frame):
    """Every derived rendition the frame had, newest first."""
    return DerivedFrame.objects.filter(frame_id=getattr(frame, "pk", frame)).order_by("-pk")


def raw_pixels(frame: Frame) -> np.ndarray:
    with blobstore.open_blob(frame.image_name) as fh:
        return render.decode(fh.read())


def boxes_of(regions) -> tuple[tuple[float, float, float, float], ...]:
    """The boxes a rendition hides, in one order whatever order the regions came in (overlapping
    regions compose, so the order is part of what makes the bytes)."""
    return tuple(sorted((float(r[0]), float(r[1]), float(r[2]), float(r[3])) if isinstance(r, (tuple, list))
                        else (r.x, r.y, r.w, r.h) for r in regions))


def encoded(pixels: np.ndarray, boxes, method: str) -> bytes:
    """The derived file's bytes: the pixels with `boxes` hidden by `method`, as JPEG."""
    return render.encode_jpeg(render.render(pixels, boxes, method))


def rerender(frame: Frame, pixels: np.ndarray | None = None, method: str | None = None,
             live: list[RedactionRegion] | None = None) -> DerivedFrame:
    """Make the frame's derived rendition current for its live regions and its dataset's method:
    the existing one when nothing changed, else a new one (the old stays in the history).
    `pixels` (BGR, as decoded from the raw file) and `live` save a read when the caller has them."""
    if method is None:
        method = Dataset.objects.filter(sequences__frames=frame).values_list("redaction_method", flat=True).get()
    return rerender_many([frame], method, {frame.pk: pixels} if pixels is not None else {},
                         {frame.pk: live} if live is not None else None)[frame.pk]


def rerender_many(frames: list[Frame], method: str, pixels: dict, live: dict | None = None,
                  ready: dict | None = None) -> dict[int, DerivedFrame]:
    """`rerender` for many frames of one dataset with a few statements: the frames are locked
    (in id order: one renderer per frame), their current renditions read at once, the new ones
    written at once. `ready` ({frame id: (boxes, bytes)}) holds encodings made ahead, while the
    detector ran: one is used only when its boxes are exactly the frame's live boxes now.
    Returns {frame id: its current rendition}."""
    ids = sorted(f.pk for f in frames)
    ready = ready or {}
    with transaction.atomic():
        locked = {f.pk: f for f in Frame.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")}
        if live is None:
            live = regions_mod.live(ids)
        currents = {d.frame_id: d for d in DerivedFrame.objects.filter(frame_id__in=ids, current=True)}
        out, made, stale = {}, [], []
        for frame_id in ids:
            frame, regions = locked[frame_id], live[frame_id]
            key = regions_key(method, [r.pk for r in regions])
            current = currents.get(frame_id)
            if current is not None and current.regions_key == key and current.raw_sha256 == frame.sha256:
                out[frame_id] = current
                continue
            boxes = boxes_of(regions)
            early = ready.get(frame_id)
            if early is not None and early[0] == boxes:
                data = early[1]
            else:
                bgr = pixels.get(frame_id)
                data = encoded(bgr if bgr is not None else raw_pixels(frame), boxes, method)
            sha = hashlib.sha256(data).hexdigest()
            blobstore.put(blob_path("derived", sha, "jpg"), data)
            if current is not None:
                stale.append(current.pk)
            made.append(DerivedFrame(frame=frame, sha256=sha, raw_sha256=frame.sha256, method=method,
                                     regions=[lineage(r) for r in regions], regions_key=key, current=True))
        if stale:
            DerivedFrame.objects.filter(pk__in=stale).update(current=False)
        for rendition in DerivedFrame.objects.bulk_create(made):
            out[rendition.frame_id] = rendition
    return out


def follow_approvals(frame_ids: list[int]) -> int:
    """Approved labels of `redact` classes changed on these frames: their annotation regions
    follow, and frames that already have a derived rendition get a new one where that changed
    the regions (a frame without one gets it, with these regions, on its first view)."""
    frame_ids = sorted(set(frame_ids))
    regions_mod.sync_annotation_regions(frame_ids)
    made = 0
    # a frame whose raw file retention deleted keeps the rendition it has (labeling.custody)
    for frame in Frame.objects.filter(pk__in=frame_ids, derived__current=True, sequence__raw_expired_at__isnull=True):
        before = derived_for(frame)
        made += rerender(frame).pk != before.pk
    return made
