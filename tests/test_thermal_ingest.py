"""16-bit (thermal) frames from upload to export: kept losslessly (sha256 over the values), shown
with the sequence's smoothed gain in the person's palette, signed in dataset versions by their
values, exported raw as 16-bit PNGs."""
from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import cv2
import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from labeling.access import raw
from labeling.footage import blobstore, dataset_versions, ingest, thermal
from labeling.models import Frame, IngestJob, Sequence
from tests import media
from tests.conftest import api_client

FRAMES = 10


def thermal_frames(n=FRAMES, width=160, height=120, drift=15, blink=False) -> list[np.ndarray]:
    """A cool gradient (about 7200..7600 counts) with a warm blob (9000) that moves right, sensor
    noise and a slow drift of the whole scene, as an uncooled microbolometer would give. `blink`:
    the blob is there on odd frames only (a hot object flashing in and out of view)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:height, 0:width]
    out = []
    for i in range(n):
        scene = 7200 + 400 * yy / height + drift * i
        blob = ((xx - 30 - 8 * i) ** 2 + (yy - 60) ** 2) < 15 ** 2
        if blink and i % 2 == 0:
            blob[:] = False
        scene = np.where(blob, 9000 + drift * i, scene) + rng.normal(0, 6, scene.shape)
        out.append(np.clip(scene, 0, 65535).astype(np.uint16))
    return out


def zip_of(frames, fmt="png") -> bytes:
    members = {}
    for i, values in enumerate(frames):
        ok, data = cv2.imencode(f".{'tif' if fmt == 'tiff' else 'png'}", values)
        assert ok
        members[f"thermal_{i:04d}.{'tif' if fmt == 'tiff' else 'png'}"] = data.tobytes()
    return media.zip_bytes(members)


@pytest.fixture
def ingested(project, users):
    frames = thermal_frames()
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(zip_of(frames), "thermal.zip"),
                                           user=users["admin"]).pk)
    assert job.status == IngestJob.DONE, job.message
    return job.sequence, frames


def grey_of(name: str) -> np.ndarray:
    with blobstore.open_blob(name) as fh:
        return cv2.imdecode(np.frombuffer(fh.read(), np.uint8), cv2.IMREAD_UNCHANGED)


def test_16bit_frames_are_kept_losslessly_and_shown_with_a_smoothed_gain(ingested):
    sequence, frames = ingested
    sequence.refresh_from_db()
    assert sequence.bits == 16 and sequence.frame_count == FRAMES
    stored = list(Frame.objects.filter(sequence=sequence).select_related("condition").order_by("index"))
    for frame, values in zip(stored, frames):
        assert frame.sha256 == thermal.raw_sha256(values) and frame.ext == "png"
        with blobstore.open_blob(frame.raw16_name) as fh:
            assert np.array_equal(thermal.read_16bit(fh.read()), values)  # lossless
        display = grey_of(frame.image_name)
        assert display.dtype == np.uint8 and display.ndim == 2 and display.shape == values.shape
        blob = values > 8500
        assert display[blob].mean() > 200 and display[~blob].mean() < 150  # warm is bright (white-hot)
        assert frame.condition.thermal is True and frame.condition.night is None
    # the sampler's models see the display image on three equal channels
    from labeling.sampling import images

    pixels, scale = images.decode(stored[0].image_name, 320)
    assert pixels.shape == (120, 160, 3) and scale == 1.0
    assert np.array_equal(pixels[:, :, 0], pixels[:, :, 2]) and np.array_equal(pixels[:, :, 0], grey_of(stored[0].image_name))


def test_a_hot_object_flashing_in_and_out_does_not_make_the_scene_flicker(project, users):
    frames = thermal_frames(12, drift=0, blink=True)
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(zip_of(frames), "blink.zip"),
                                           user=users["admin"]).pk)
    stored = Frame.objects.filter(sequence=job.sequence).order_by("index")
    background = [grey_of(f.image_name)[:, 100:].mean() for f in stored]  # right of where the blob goes
    # each frame's own window would jump with the blob: the background's grey swings by tens of levels
    alone = [thermal.to_8bit(v, *thermal.percentile_window(v))[:, 100:].mean() for v in frames]
    assert max(alone) - min(alone) > 20, alone
    assert max(background) - min(background) < 0.3 * (max(alone) - min(alone)), background


def test_a_16bit_tiff_image_alone_and_a_mixed_zip(project, users):
    values = thermal_frames(1)[0]
    ok, tiff = cv2.imencode(".tif", values)
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(tiff.tobytes(), "one.tif"),
                                           user=users["admin"]).pk)
    assert job.status == IngestJob.DONE, job.message
    assert Frame.objects.get(sequence=job.sequence).sha256 == thermal.raw_sha256(values)
    mixed = media.zip_bytes({"a_0001.png": cv2.imencode(".png", values)[1].tobytes(),
                             "a_0002.png": media.png_bytes(160, 120)})
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(mixed, "mixed.zip"),
                                           user=users["admin"]).pk)
    assert job.status == IngestJob.FAILED and "a_0002.png" in job.message and "16-bit" in job.message
    assert not Frame.objects.filter(sequence=job.sequence).exists()


def test_each_person_chooses_a_palette_and_images_follow(ingested, users):
    sequence, _ = ingested
    frame = Frame.objects.filter(sequence=sequence).first()
    client = api_client(users["annotator"])  # no raw access: the derived rendition, still in a palette
    url = f"/frames/{frame.pk}/original"

    def pixels(answer):
        return cv2.imdecode(np.frombuffer(b"".join(answer.streaming_content), np.uint8), cv2.IMREAD_COLOR)

    white = pixels(client.get(url))
    assert np.array_equal(white[:, :, 0], white[:, :, 1])  # grey
    iron = pixels(client.get(url + "?palette=ironbow"))
    assert not np.array_equal(iron[:, :, 0], iron[:, :, 2])  # colour
    assert client.patch("/api/protection/me/", {"thermal_palette": "sepia"}, format="json").status_code == 400
    answer = client.patch("/api/protection/me/", {"thermal_palette": "black-hot"}, format="json")
    assert answer.status_code == 200 and answer.json()["thermal_palette"] == "black-hot"
    black = pixels(client.get(url))
    assert np.abs(black.astype(int) + white.astype(int) - 255).mean() < 4  # the inverse of white-hot
    thumb = pixels(client.get(f"/frames/{frame.pk}/thumbnail?palette=ironbow"))
    assert thumb.shape[0] <= 256 and not np.array_equal(thumb[:, :, 0], thumb[:, :, 2])


def test_versions_sign_the_values_and_raw_exports_carry_16bit_pngs(ingested, project, users):
    sequence, frames = ingested
    version = dataset_versions.create_version(project.dataset, user=users["admin"])
    assert dataset_versions.verify_version(version).ok
    first = Frame.objects.filter(sequence=sequence).order_by("index").first()
    path = default_storage.path(first.raw16_name)
    original = open(path, "rb").read()
    changed = frames[0].copy()
    changed[0, 0] += 1  # one count of one pixel
    open(path, "wb").write(thermal.encode_png16(changed))
    report = dataset_versions.verify_version(version)
    assert not report.ok and len(report.changed) == 1
    ok, tiff = cv2.imencode(".tif", frames[0])
    open(path, "wb").write(tiff.tobytes())  # the same values in another file format: still the frame
    assert dataset_versions.verify_version(version).ok
    open(path, "wb").write(original)

    from labeling.exchange import exports
    from tests.labels import export_bytes, members, store_labels

    store_labels(project, first, {"boxes": [{"class": "person", "x": 20, "y": 45, "w": 30, "h": 30}]})
    trainer = users["trainer"]
    raw.grant(project.dataset, trainer, users["admin"], "trains on thermal", timezone.now() + timedelta(days=1))
    export = exports.run(exports.create(project, trainer, format="coco", include_images=True,
                                        image_kind="raw").pk)
    files = {name: data for name, data in members(export_bytes(export)).items() if name.startswith("images/")}
    assert len(files) == 1
    assert np.array_equal(thermal.read_16bit(next(iter(files.values()))), frames[0])
    derived = exports.run(exports.create(project, trainer, format="coco", include_images=True).pk)
    image = next(d for n, d in members(export_bytes(derived)).items() if n.startswith("images/"))
    assert image[:2] == b"\xff\xd8"  # an 8-bit JPEG rendition
