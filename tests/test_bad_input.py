"""Bad footage ends the ingest with a clear error on the job and leaves no half-made frames
(except the documented good prefix of a video that breaks part-way)."""
import pytest

from labeling.footage import ingest, staging
from labeling.models import Frame, IngestJob, Sequence
from tests import media


def run(project, data, name, **options):
    job = ingest.create_job(project.dataset, media.upload(data, name), **options)
    return ingest.run_job(job.pk)


def assert_failed_cleanly(job, message_part):
    assert job.status == IngestJob.FAILED
    assert message_part in job.message
    assert Frame.objects.filter(sequence__dataset=job.dataset).count() == 0
    assert not Sequence.objects.filter(dataset=job.dataset).exclude(status=Sequence.FAILED).exists()
    assert not (staging.upload_dir() / job.upload_name).exists()


def test_not_a_video(project):
    assert_failed_cleanly(run(project, b"hello, this is a text file\n" * 50, "notes.mp4"), "not a readable video")


def test_random_bytes_with_a_video_name(project):
    assert_failed_cleanly(run(project, bytes(range(256)) * 400, "clip.avi"), "not a readable video")


def test_truncated_header_of_a_real_clip(project):
    head = media.bikes_path().read_bytes()[:2000]
    job = run(project, head, "bikes.mp4")
    assert_failed_cleanly(job, "")
    assert job.message


def test_truncated_recording_keeps_the_good_prefix_and_says_so(project, tmp_path):
    """A recording cut off part-way (camera lost power): the header claims 60 frames."""
    path = media.synthetic_video(tmp_path / "clip.avi", frames=60, container="avi")
    data = path.read_bytes()
    job = run(project, data[: len(data) // 2] + bytes(range(256)) * 40, "clip.avi")
    kept = Frame.objects.filter(sequence=job.sequence).count()
    assert job.status == IngestJob.PARTIAL
    assert job.sequence.status == Sequence.PARTIAL
    assert "says it has 60 frames" in job.message and "probably truncated" in job.message
    assert 0 < kept < 60
    assert kept == job.frames_done == job.sequence.frame_count
    assert list(job.sequence.frames.order_by("index").values_list("index", flat=True)) == list(range(kept))


def test_complete_synthetic_video_is_not_flagged(project, tmp_path):
    path = media.synthetic_video(tmp_path / "clip.avi", frames=30, container="avi")
    job = run(project, path.read_bytes(), "clip.avi")
    assert job.status == IngestJob.DONE and job.frames_done == 30


def test_decompression_bomb_image(project, settings):
    settings.AERIE_MAX_IMAGE_PIXELS = 10_000
    job = run(project, media.png_bytes(200, 200), "huge.png")
    assert_failed_cleanly(job, "over the pixel limit")


def test_decompression_bomb_inside_a_zip_fails_the_whole_zip(project, settings):
    settings.AERIE_MAX_IMAGE_PIXELS = 10_000
    archive = media.zip_bytes({"a.png": media.png_bytes(), "b.png": media.png_bytes(300, 300)})
    assert_failed_cleanly(run(project, archive, "set.zip"), "b.png")


def test_zip_slip_is_refused(project):
    archive = media.zip_bytes({"ok.png": media.png_bytes(), "../../etc/evil.png": media.png_bytes()})
    assert_failed_cleanly(run(project, archive, "slip.zip"), "unsafe path")


def test_absolute_path_in_zip_is_refused(project):
    archive = media.zip_bytes({"/tmp/abs.png": media.png_bytes()})
    assert_failed_cleanly(run(project, archive, "abs.zip"), "unsafe path")


def test_symlink_in_zip_is_refused(project):
    archive = media.zip_bytes({"ok.png": media.png_bytes()}, links={"link.png": "/etc/passwd"})
    assert_failed_cleanly(run(project, archive, "links.zip"), "links are not accepted")


def test_zip_with_a_non_image_member(project):
    archive = media.zip_bytes({"ok.png": media.png_bytes(), "readme.txt": b"hello"})
    assert_failed_cleanly(run(project, archive, "mixed.zip"), "readme.txt: not an image")


def test_zip_with_a_corrupt_image_fails_with_nothing_kept(project):
    good = media.png_bytes()
    archive = media.zip_bytes({"1.png": good, "2.png": good[: len(good) // 2]})
    assert_failed_cleanly(run(project, archive, "corrupt.zip"), "2.png")


def test_empty_upload_is_refused_before_anything_is_made(project):
    with pytest.raises(ingest.UploadError, match="empty"):
        ingest.create_job(project.dataset, media.upload(b"", "empty.mp4"))
    assert IngestJob.objects.count() == 0


def test_bad_options_are_refused(project):
    with pytest.raises(ingest.UploadError, match="either a stride or a target_fps"):
        ingest.create_job(project.dataset, media.upload(media.png_bytes(), "x.png"), stride=2, target_fps=1)
    with pytest.raises(ingest.UploadError, match="stride"):
        ingest.create_job(project.dataset, media.upload(media.png_bytes(), "x.png"), stride=0)
    assert IngestJob.objects.count() == 0


def test_frame_limit_fails_cleanly(project, settings, tmp_path):
    settings.AERIE_MAX_FRAMES_PER_SEQUENCE = 10
    path = media.synthetic_video(tmp_path / "long.ts", frames=30)
    assert_failed_cleanly(run(project, path.read_bytes(), "long.ts"), "more than 10 frames")
