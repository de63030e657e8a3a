"""Hostile footage through the upload API: the job fails with a message and nothing is kept (no
frame, no sequence, no upload, no file outside the media folder); what is refused at upload
answers 4xx and creates no job. A video that claims a billion frames keeps what it really has."""
from pathlib import Path

import pytest

from labeling.models import Frame, IngestJob, Sequence
from tests.conftest import api_client
from tests.hostile import corpus

OUTSIDE = [Path("/tmp/aerie-slip.png"), Path("/tmp/aerie-abs.png")]


def upload(client, project, name, data, **fields):
    from tests import media

    return client.post(f"/api/datasets/{project.dataset_id}/ingest/", {"file": media.upload(data, name), **fields},
                       format="multipart")


def counts(project):
    return (IngestJob.objects.count(), Frame.objects.count(),
            Sequence.objects.exclude(status=Sequence.FAILED).count())


@pytest.mark.parametrize("case", [
    "random-bytes-as-mp4", "text-as-mkv", "header-only-of-a-real-clip", "mp4-box-of-nothing", "png-bomb",
    "png-bomb-in-zip", "truncated-png", "zip-slip", "zip-absolute-path", "zip-windows-slip", "zip-symlink",
    "zip-of-a-text-file", "corrupt-zip"])
def test_hostile_footage_fails_the_job_and_keeps_nothing(project, users, tmp_path, case,
                                                         django_capture_on_commit_callbacks):
    name, data = corpus.footage(tmp_path)[case]
    client = api_client(users["admin"])
    with django_capture_on_commit_callbacks(execute=True):  # the ingest task runs as it is sent
        response = upload(client, project, name, data)
    assert response.status_code == 202, response.data
    job = IngestJob.objects.get(pk=response.data["id"])
    assert job.status == IngestJob.FAILED, (job.status, job.message)
    assert job.message
    assert Frame.objects.count() == 0
    assert not Sequence.objects.exclude(status=Sequence.FAILED).exists()
    assert not any(p.exists() for p in OUTSIDE)
    from labeling.footage import staging

    assert not (staging.upload_dir() / job.upload_name).exists()
    # the failure shows on the job's API and on the dataset page
    assert client.get(f"/api/ingest-jobs/{job.pk}/").data["status"] == "failed"
    assert client.get(f"/datasets/{project.dataset_id}/").status_code == 200


def test_a_video_that_claims_a_billion_frames_keeps_only_what_it_has(project, users, tmp_path,
                                                                    django_capture_on_commit_callbacks):
    data = corpus.video_claiming_frames(tmp_path, claimed=10**9, real=20)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api_client(users["admin"]), project, "liar.avi", data)
    assert response.status_code == 202
    job = IngestJob.objects.get(pk=response.data["id"])
    assert job.status == IngestJob.PARTIAL, job.message
    assert "1000000000 frames" in job.message and Frame.objects.count() == job.frames_done == 20


@pytest.mark.parametrize("fields, message", [
    ({"stride": 0}, "stride"),
    ({"stride": -1}, "stride"),
    ({"stride": "'; DROP TABLE labeling_frame; --"}, "stride"),
    ({"target_fps": "nan"}, "target_fps"),
    ({"target_fps": "1e309"}, "target_fps"),
    ({"stride": 2, "target_fps": 1}, "either a stride or a target_fps"),
    ({"sequence_name": "x" * 201}, "sequence_name"),
])
def test_bad_upload_options_answer_400_and_create_nothing(project, users, fields, message):
    from tests import media

    before = counts(project)
    response = upload(api_client(users["admin"]), project, "a.png", media.png_bytes(), **fields)
    assert response.status_code == 400, response.data
    assert message in str(response.data)
    assert counts(project) == before


def test_empty_missing_and_mistyped_uploads_answer_4xx(project, users):
    client = api_client(users["admin"])
    url = f"/api/datasets/{project.dataset_id}/ingest/"
    before = counts(project)
    assert upload(client, project, "empty.mp4", b"").status_code == 400
    assert client.post(url, {}, format="multipart").status_code == 400
    assert client.post(url, {"file": "clip.mp4"}, format="json").status_code == 415
    assert client.post(url, b"\x00" * 100, content_type="application/octet-stream").status_code == 415
    assert client.post(url, b"--x\r\nbroken", content_type="multipart/form-data; boundary=x").status_code == 400
    assert counts(project) == before


def test_hostile_file_names_are_kept_as_text(project, users, django_capture_on_commit_callbacks):
    """Names with markup, SQL, path parts and control characters: stored and shown as text (the
    pages that show them are checked in a browser in test_xss_pages)."""
    from tests import media

    client = api_client(users["admin"])
    for i, name in enumerate(corpus.XSS[:2] + corpus.SQL[:1] + ["../../etc/passwd.png", "a\x00b\r\n.png"]):
        with django_capture_on_commit_callbacks(execute=True):
            response = upload(client, project, f"{name}.png", media.png_bytes(), sequence_name=f"seq {i}")
        assert response.status_code == 202, response.data
        job = IngestJob.objects.get(pk=response.data["id"])
        assert job.status == IngestJob.DONE, job.message
        assert "/" not in job.original_filename and "\x00" not in job.original_filename
    page = client.get(f"/datasets/{project.dataset_id}/").content.decode()
    assert "<script>alert" not in page and "<img src=x onerror" not in page
    assert "&lt;img src=x onerror=alert(&#x27;xss-img&#x27;)&gt;" in page
