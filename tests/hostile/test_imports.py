"""Hostile COCO and MOT files through the import API: 400 with the problems listed, and nothing
changed (no annotation, gold frame or audit row). Memory is bounded: a zip member that would
inflate past the import limit is refused from its declared size, before it is read."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import Annotation, AuditEvent, GoldFrame
from tests.conftest import api_client, make_frames
from tests.hostile import corpus

CASES = corpus.imports()


def rows():
    return Annotation.objects.count(), GoldFrame.objects.count(), AuditEvent.objects.count()


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_import_answers_400_and_changes_nothing(project, users, case):
    make_frames(project, 2, sequence_name="cam", width=64, height=48)
    form = dict(CASES[case])
    name, data = form.pop("file")
    form.setdefault("mode", "prelabel")
    client = api_client(users["qa"])  # signing in is itself an audit event: before the count
    before = rows()
    response = client.post(f"/api/projects/{project.pk}/imports/",
                                            {"file": SimpleUploadedFile(name, data), **form}, format="multipart")
    assert response.status_code == 400, (response.status_code, str(response.data)[:500])
    assert response.data.get("detail") or response.data.get("errors") or response.data, response.data
    assert rows() == before
    if "zip-bomb" in case:  # refused from the declared size, before inflating 600 MiB
        assert "inflate" in str(response.data), response.data
    if "errors" in response.data:
        assert len(response.data["errors"]) <= 201  # bounded, however many problems the file has


def test_import_page_refuses_the_same_files_without_a_500(project, users):
    make_frames(project, 2, sequence_name="cam", width=64, height=48)
    client = api_client(users["qa"])
    before = rows()
    for case in ("coco-top-level-array", "coco-deeply-nested", "mot-class-map-not-json", "unknown-format"):
        form = dict(CASES[case])
        name, data = form.pop("file")
        form.setdefault("mode", "prelabel")
        response = client.post(f"/projects/{project.pk}/imports/", {"file": SimpleUploadedFile(name, data), **form})
        assert response.status_code == 302, case
    assert rows() == before
    page = client.get(f"/projects/{project.pk}/exports/").content.decode()
    assert "refused" in page
