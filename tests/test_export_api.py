"""Exports and imports over the API and the page: who may, the job with its progress on a real
Celery worker, the audited download, and clear 4xx answers that change nothing."""
import io
import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from labeling.exchange import exports
from labeling.models import Annotation, AuditEvent, Export
from tests.conftest import ARTIFACTS, api_client
from tests.labels import labeled_project, members


@pytest.fixture
def labeled(project):
    return labeled_project(project)


def test_a_trainer_exports_and_downloads_through_the_api(project, users, labeled, django_capture_on_commit_callbacks):
    client = api_client(users["trainer"])
    with django_capture_on_commit_callbacks(execute=True):  # the task runs when it is sent (eager)
        response = client.post(f"/api/projects/{project.pk}/exports/", {"format": "coco"}, format="json")
    assert response.status_code == 201, response.data
    detail = client.get(f"/api/projects/{project.pk}/exports/{response.data['id']}/").data
    assert detail["status"] == "done" and detail["percent"] == 100 and detail["boxes"] == labeled["boxes"]
    download = client.get(detail["download"])
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    data = b"".join(download.streaming_content)
    assert exports.verify_archive(io.BytesIO(data)).ok
    event = AuditEvent.objects.get(verb="export.download")
    assert event.actor == users["trainer"] and event.object_id == str(detail["id"])
    assert event.data["sha256"] == detail["sha256"]
    assert [e["id"] for e in client.get(f"/api/projects/{project.pk}/exports/").data] == [detail["id"]]


def test_only_trainers_and_admins_export(project, users, labeled):
    export = exports.run(exports.create(project, users["admin"], format="mot").pk)
    base = f"/api/projects/{project.pk}/exports/"
    for who in ("annotator", "qa"):
        client = api_client(users[who])
        assert client.get(base).status_code == 403
        assert client.post(base, {"format": "coco"}, format="json").status_code == 403
        assert client.get(f"{base}{export.pk}/download/").status_code == 403
        assert client.get(f"/projects/{project.pk}/exports/{export.pk}/download/").status_code == 403
    outsider = api_client(users["outsider"])
    assert outsider.get(f"{base}{export.pk}/download/").status_code == 404
    assert outsider.get(f"/projects/{project.pk}/exports/").status_code == 404
    assert api_client(users["annotator"]).get(f"/projects/{project.pk}/exports/").status_code == 403
    assert api_client(users["admin"]).get(f"{base}{export.pk}/download/").status_code == 200
    assert AuditEvent.objects.filter(verb="export.download").count() == 1
    assert Export.objects.count() == 1


def test_bad_export_requests_get_400_and_create_nothing(project, users, labeled):
    client = api_client(users["trainer"])
    base = f"/api/projects/{project.pk}/exports/"
    assert client.post(base, {"format": "pascal_voc"}, format="json").status_code == 400
    assert client.post(base, {"format": "coco", "scope": "everything"}, format="json").status_code == 400
    response = client.post(base, {"format": "coco", "dataset_version": 999}, format="json")
    assert response.status_code == 400 and response.data["field"] == "dataset_version"
    other = api_client(users["admin"]).post(f"/api/projects/{project.pk + 1}/exports/", {"format": "coco"},
                                            format="json")
    assert other.status_code == 400 and "no approved annotations" in other.data["detail"]
    assert not Export.objects.exists()


def test_imports_over_the_api_are_all_or_nothing(project, users, labeled):
    base = f"/api/projects/{project.pk}/imports/"
    good = b"1,1,10,20,30,40,1,1,1\n2,1,11,20,30,40,1,1,1\n"
    upload = SimpleUploadedFile("gt.txt", good)
    assert api_client(users["trainer"]).post(base, {"file": upload, "format": "mot", "mode": "prelabel",
                                                    "sequence": "cam-a"}).status_code == 403
    before = Annotation.objects.count()
    bad = SimpleUploadedFile("gt.txt", good + b"3,1,x,20,30,40,1,1,1\n")
    response = api_client(users["qa"]).post(base, {"file": bad, "format": "mot", "mode": "prelabel",
                                                   "sequence": "cam-a", "class_map": '{"pedestrian": "person"}'})
    assert response.status_code == 400
    assert response.data["errors"] == ["gt.txt line 3: column 3 (x) 'x' is not a number"]
    assert Annotation.objects.count() == before
    response = api_client(users["qa"]).post(base, {"file": SimpleUploadedFile("gt.txt", good), "format": "mot",
                                                   "mode": "annotator", "annotator": "nobody", "sequence": "cam-a"})
    assert response.status_code == 400 and "no user 'nobody'" in response.data["detail"]
    response = api_client(users["qa"]).post(base, {"file": SimpleUploadedFile("gt.txt", good), "format": "mot",
                                                   "mode": "annotator", "annotator": "ann", "sequence": "cam-a",
                                                   "class_map": json.dumps({"pedestrian": "person"})})
    assert response.status_code == 201, response.data
    assert (response.data["frames"], response.data["boxes"], response.data["tracks"]) == (2, 2, 1)
    assert Annotation.objects.filter(annotator=users["annotator"], source=Annotation.IMPORT).count() == 2
    assert api_client(users["outsider"]).post(base, {"file": SimpleUploadedFile("gt.txt", good), "format": "mot",
                                                     "mode": "prelabel"}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_builds_the_export_with_progress(celery_worker_app, project, users, monkeypatch):
    from labeling.exchange.exports import jobs

    labeled_project(project)
    monkeypatch.setattr(jobs, "PROGRESS_EVERY", 1)
    export = exports.create(project, users["trainer"], format="coco")  # sent at once (autocommit)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        export.refresh_from_db()
        if export.status in Export.FINISHED:
            break
        time.sleep(0.2)
    assert export.status == Export.DONE, export.message
    assert export.items_done == export.items_total == 16  # 8 frames, two passes
    assert AuditEvent.objects.filter(verb="export.done", object_id=str(export.pk)).exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_trainer_exports_from_the_page_and_downloads_it(page, login, live_server, users, project):
    labeled_project(project)
    login(users["trainer"])
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Exports").click()
    form = page.get_by_test_id("export-form")
    form.locator("select[name=format]").select_option("mot")
    form.get_by_role("button", name="Start export").click()
    expect(page.locator(".msg-success")).to_contain_text("started")
    row = page.locator("tr[data-export]").first
    expect(row).to_contain_text("Done", timeout=30_000)  # eager task in tests; the table polls while running
    expect(row).to_contain_text("11 boxes")
    expect(page.get_by_test_id("import-form")).to_have_count(0)  # trainers do not import
    page.screenshot(path=str(ARTIFACTS / "exports.png"), full_page=True)
    with page.expect_download() as info:
        row.get_by_role("link", name="Download").click()
    path = info.value.path()
    data = open(path, "rb").read()
    assert "cam-a/gt/gt.txt" in members(data) and exports.verify_archive(io.BytesIO(data)).ok
    assert AuditEvent.objects.filter(verb="export.download", actor=users["trainer"]).count() == 1


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_admin_sees_import_problems_on_the_page(page, login, live_server, users, project, tmp_path):
    labeled_project(project)
    login(users["admin"])
    page.goto(f"{live_server.url}/projects/{project.pk}/exports/")
    page.locator("details:has([data-testid=import-form]) summary").click()
    form = page.get_by_test_id("import-form")
    bad = tmp_path / "gt.txt"
    bad.write_text("1,1,10,20,30,40,1,1,1\n1,1,10,20,30,40,1,1,1\n")
    form.locator("input[type=file]").set_input_files(str(bad))
    form.locator("select[name=format]").select_option("mot")
    form.locator("select[name=sequence]").select_option("cam-a")
    form.locator("input[name=class_map]").fill('{"pedestrian": "person"}')
    form.get_by_role("button", name="Check and import").click()
    expect(page.locator(".msg-error").first).to_contain_text("refused, nothing changed")
    expect(page.locator(".msg-error").nth(1)).to_contain_text("gt.txt line 2: track 1 already has a box on frame 1")
    page.screenshot(path=str(ARTIFACTS / "exports-import-refused.png"), full_page=True)
    assert not Annotation.objects.filter(source=Annotation.MODEL).exists()
