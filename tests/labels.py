"""Labeled test data for exports and imports: two sequences of frames with approved annotations
(tracks across frames, an untracked box, attributes, tags), written through the same function the
consensus and the QA decisions use."""
from __future__ import annotations

import io
import zipfile

from labeling.footage import blobstore
from labeling.work import submissions
from labeling.work import payloads
from labeling.models import Annotation
from tests.conftest import make_frames
from tests.media import png_bytes


def store_labels(project, frame, payload, *, status=Annotation.APPROVED, source=Annotation.CONSENSUS, annotator=None):
    boxes, tags = payloads.validate(payload, payloads.classes_of(project.ontology_version_id), frame)
    head = submissions.head_revision(project.pk, frame.pk, annotator.pk if annotator else None)
    return submissions.store(project=project, frame=frame, boxes=boxes, tags=tags, source=source, status=status,
                             created_by=None, annotator=annotator, supersedes=head)


def labeled_project(project, *, with_images=False, metadata_level="full"):
    """cam-a: 6 frames 640×480, frames 0–4 approved (track 1 walks right, track 2 is a car on
    frames 1–3, an untracked truck on frame 2, frame 4 approved empty), frame 5 not approved.
    cam-b: 3 frames 320×240, all approved, track 7 on every frame, a 'crowd' tag on frame 0.
    The dataset's metadata level is `full`, so exports keep the sequence names the tests read
    (below it, derived exports name sequences `sequence-<id>`).
    Returns {"frames": approved frames, "boxes": n, "tracks": n (an untracked box counts as one)}."""
    type(project.dataset).objects.filter(pk=project.dataset_id).update(metadata_level=metadata_level)
    project.dataset.metadata_level = metadata_level
    a = make_frames(project, 6, sequence_name="cam-a", width=640, height=480)
    b = make_frames(project, 3, sequence_name="cam-b", width=320, height=240)
    for i, frame in enumerate(a[:4]):
        boxes = [{"class": "person", "x": 10.5 + 20 * i, "y": 30, "w": 40, "h": 90.25, "track_id": 1,
                  "attributes": {"posture": "standing"}}]
        if 1 <= i <= 3:
            boxes.append({"class": "car", "x": 300, "y": 200 + i, "w": 120.125, "h": 60, "track_id": 2})
        if i == 2:
            boxes.append({"class": "truck", "x": 500, "y": 380, "w": 139.5, "h": 99.75})
        store_labels(project, frame, {"boxes": boxes})
    store_labels(project, a[4], {"boxes": []})
    for i, frame in enumerate(b):
        store_labels(project, frame, {"boxes": [{"class": "car", "x": 1 + i / 3, "y": 2, "w": 50, "h": 30,
                                                 "track_id": 7}],
                                      "tags": [{"class": "crowd"}] if i == 0 else []})
    if with_images:
        for frame in a + b:
            blobstore.put(frame.image_name, png_bytes(frame.width, frame.height, color=(frame.index * 30, 90, 40)))
    return {"frames": 8, "boxes": 4 + 3 + 1 + 3, "tracks": 2 + 1 + 1, "sequences": {"cam-a": a, "cam-b": b}}


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def export_bytes(export) -> bytes:
    from django.core.files.storage import default_storage

    with default_storage.open(export.file_name, "rb") as fh:
        return fh.read()


def extract(data: bytes, folder) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(folder)
