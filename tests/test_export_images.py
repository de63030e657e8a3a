"""What images an export carries: derived renditions unless the requester holds raw access and asks
for raw; images of sensitive frames only with an explicit acknowledgement; the manifest says which."""
import hashlib
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.access import raw
from labeling.exchange import exports
from labeling.footage import blobstore
from labeling.models import AuditEvent, Export, Frame
from labeling.redaction import derived
from tests.conftest import api_client
from tests.labels import export_bytes, labeled_project, members

pytestmark = pytest.mark.django_db


def made(project, user, **kwargs) -> Export:
    return exports.run(exports.create(project, user, **kwargs).pk)


def blob_sha(name) -> str:
    with blobstore.open_blob(name) as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def image_members(files: dict) -> dict:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()
            if name.endswith((".jpg", ".png"))}


def manifest_of(files: dict) -> dict:
    name = next(n for n in files if n.endswith("manifest.json"))
    return json.loads(files[name])


@pytest.mark.parametrize("fmt", ["coco", "mot"])
def test_exports_carry_derived_frames_by_default(project, users, fmt):
    labeled = labeled_project(project, with_images=True)
    frames = [f for seq in labeled["sequences"].values() for f in seq]
    raw_shas = {blob_sha(f.image_name) for f in frames}
    files = members(export_bytes(made(project, users["trainer"], format=fmt, include_images=True)))
    shas = image_members(files)
    assert shas and not set(shas.values()) & raw_shas  # not one raw frame
    current = {d.sha256 for d in map(derived.derived_for, frames) if d is not None}
    assert set(shas.values()) <= current  # each image is the frame's current derived rendition
    assert all(name.endswith(".jpg") for name in shas)
    assert manifest_of(files)["images"]["kind"] == "derived"


def test_raw_images_need_raw_access_to_ask_and_to_download(project, users):
    labeled = labeled_project(project, with_images=True)
    trainer = users["trainer"]
    with pytest.raises(exports.ExportForbidden):
        exports.create(project, trainer, format="coco", include_images=True, image_kind="raw")
    assert not Export.objects.exists()
    api = api_client(trainer)
    refused = api.post(f"/api/projects/{project.pk}/exports/", {"format": "coco", "include_images": True,
                                                                 "image_kind": "raw"}, format="json")
    assert refused.status_code == 403 and "raw access" in refused.json()["detail"]
    raw.grant(project.dataset, trainer, users["admin"], "trains on raw", timezone.now() + timedelta(days=3))
    export = made(project, trainer, format="coco", include_images=True, image_kind="raw")
    files = members(export_bytes(export))
    raw_shas = {blob_sha(f.image_name) for seq in labeled["sequences"].values() for f in seq}
    assert set(image_members(files).values()) <= raw_shas
    assert manifest_of(files)["images"]["kind"] == "raw"
    assert AuditEvent.objects.filter(verb="raw.use", data__what="export").count() == 1
    admin = api_client(users["admin"])  # may download exports, holds no raw access
    url = f"/api/projects/{project.pk}/exports/{export.pk}/download/"
    assert admin.get(url).status_code == 403
    assert api.get(url).status_code == 200


def test_sensitive_images_are_left_out_unless_acknowledged(project, users):
    labeled = labeled_project(project, with_images=True)
    graphic = labeled["sequences"]["cam-b"][0]
    Frame.objects.filter(pk=graphic.pk).update(sensitive=True)
    left = members(export_bytes(made(project, users["trainer"], format="mot", include_images=True)))
    assert "cam-b/img1/000001.jpg" not in left and "cam-b/img1/000002.jpg" in left
    assert manifest_of(left)["images"]["sensitive_left_out"] == 1
    assert manifest_of(left)["images"]["sensitive"] == "left out"
    assert left["cam-b/gt/gt.txt"] == kept_labels(project, users)  # the labels are exported all the same
    kept = members(export_bytes(made(project, users["trainer"], format="mot", include_images=True,
                                     include_sensitive=True)))
    assert "cam-b/img1/000001.jpg" in kept
    assert manifest_of(kept)["images"]["sensitive_included"] == 1


def kept_labels(project, users) -> bytes:
    return members(export_bytes(made(project, users["trainer"], format="mot")))["cam-b/gt/gt.txt"]
