"""Footage in: real clips through the real Celery task, images, zips, retries."""
import hashlib
import time

import pytest
from django.core.files.storage import default_storage

from labeling.footage import ingest, staging
from labeling.models import Frame, IngestJob, Sequence
from tests import media


def wait_for(job_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = IngestJob.objects.get(pk=job_id)
        if job.status in IngestJob.FINISHED:
            return job
        time.sleep(0.2)
    raise AssertionError(f"ingest job {job_id} did not finish: {IngestJob.objects.get(pk=job_id).status}")


def stored_sha(name):
    with default_storage.open(name, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_real_clip_ingests_end_to_end_through_celery(celery_worker_app, project, users):
    # create_job sends the job itself once the transaction commits (at once here: autocommit)
    job = ingest.create_job(project.dataset, media.upload(media.bikes_path()), stride=10, user=users["admin"])
    job = wait_for(job.pk)

    assert job.status == IngestJob.DONE, job.message
    assert job.frames_done == job.frames_total == 25  # 250 frames, every 10th
    sequence = job.sequence
    assert sequence.status == Sequence.READY
    assert (sequence.width, sequence.height, sequence.codec) == (640, 272, "h264")
    assert sequence.fps == pytest.approx(25.0)
    assert sequence.source_sha256 == "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5"
    frames = list(sequence.frames.order_by("index"))
    assert [f.index for f in frames] == list(range(25))
    assert [f.source_index for f in frames] == list(range(0, 250, 10))
    assert frames[1].timestamp == pytest.approx(10 / 25, abs=1e-3)
    for frame in frames[:3]:
        assert stored_sha(frame.image_name) == frame.sha256  # content-addressed
        assert default_storage.exists(frame.thumbnail_name)
        assert default_storage.exists(frame.preview_name)
    assert not (staging.upload_dir() / job.upload_name).exists(), "the upload is removed once ingested"


@pytest.mark.django_db(transaction=True)
def test_progress_is_recorded_while_running(project, users, settings, monkeypatch):
    seen = []
    original_flush = ingest._FrameWriter.flush

    def spy(self):
        original_flush(self)
        seen.append(IngestJob.objects.values_list("frames_done", "frames_total").get(pk=self.job.pk))

    monkeypatch.setattr(ingest, "BATCH", 8)
    monkeypatch.setattr(ingest._FrameWriter, "flush", spy)
    job = ingest.create_job(project.dataset, media.upload(media.bikes_path()), stride=5, user=users["admin"])
    ingest.run_job(job.pk)
    done = [d for d, _ in seen]
    assert done[:3] == [8, 16, 24] and done[-1] == 50
    assert all(total == 50 for _, total in seen)


def test_target_fps_keeps_frames_spaced_in_time(project, users):
    job = ingest.create_job(project.dataset, media.upload(media.bikes_path()), target_fps=5, user=users["admin"])
    job = ingest.run_job(job.pk)
    assert job.status == IngestJob.DONE
    times = list(job.sequence.frames.order_by("index").values_list("timestamp", flat=True))
    assert len(times) == 50  # 10 s at 5 fps
    assert all(b - a == pytest.approx(0.2, abs=0.041) for a, b in zip(times, times[1:]))


def test_retry_after_a_crash_does_not_duplicate_frames(project, users, monkeypatch):
    job = ingest.create_job(project.dataset, media.upload(media.bikes_path()), stride=10, user=users["admin"])
    calls = {"n": 0}
    original_add = ingest._FrameWriter.add

    def crash_midway(self, decoded, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 14:
            self.flush()
            raise SystemExit("worker killed")
        return original_add(self, decoded, *args, **kwargs)

    monkeypatch.setattr(ingest._FrameWriter, "add", crash_midway)
    with pytest.raises(SystemExit):
        ingest.run_job(job.pk)
    assert IngestJob.objects.get(pk=job.pk).status == IngestJob.RUNNING
    assert Frame.objects.filter(sequence__jobs=job).count() == 13

    monkeypatch.setattr(ingest._FrameWriter, "add", original_add)
    job = ingest.run_job(job.pk)  # Celery redelivers the message (acks_late)
    assert job.status == IngestJob.DONE and job.attempts == 2
    assert Frame.objects.filter(sequence=job.sequence).count() == 25
    assert sorted(Frame.objects.filter(sequence=job.sequence).values_list("index", flat=True)) == list(range(25))
    again = ingest.run_job(job.pk)  # a duplicate delivery of a finished job changes nothing
    assert again.attempts == 2 and Frame.objects.filter(sequence=job.sequence).count() == 25


def test_single_image_and_zip_of_images(project, users):
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(media.png_bytes(), "one.png"),
                                           user=users["admin"]).pk)
    assert job.status == IngestJob.DONE
    frame = job.sequence.frames.get()
    assert (frame.width, frame.height, frame.ext) == (64, 48, "png")
    assert frame.sha256 == hashlib.sha256(media.png_bytes()).hexdigest()  # original bytes kept

    red, blue = media.png_bytes(color=(255, 0, 0)), media.png_bytes(color=(0, 0, 255), fmt="JPEG")
    archive = media.zip_bytes({"cam/img10.png": red, "cam/img2.jpg": blue, "cam/img1.png": red,
                               "__MACOSX/._img1.png": b"junk"})
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(archive, "shots.zip"),
                                           user=users["admin"]).pk)
    assert job.status == IngestJob.DONE, job.message
    frames = list(job.sequence.frames.order_by("index"))
    assert [f.source_name for f in frames] == ["cam/img1.png", "cam/img2.jpg", "cam/img10.png"]  # natural order
    assert frames[0].sha256 == frames[2].sha256  # the same picture is stored once
    assert frames[1].ext == "jpg"


def test_sequence_names_are_unique_within_a_dataset(project, users):
    ingest.create_job(project.dataset, media.upload(media.png_bytes(), "a.png"), sequence_name="cam1")
    with pytest.raises(ingest.UploadError, match="already has a sequence named 'cam1'"):
        ingest.create_job(project.dataset, media.upload(media.png_bytes(), "b.png"), sequence_name="cam1")
