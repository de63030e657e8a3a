"""REST API: visibility by project membership (404 for outsiders), writes by role, errors that
say what to fix."""
import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from labeling.footage import ingest
from labeling.models import Dataset, IngestJob, Membership, Project
from tests import media
from tests.conftest import api_client


@pytest.fixture
def ingested(project):
    job = ingest.create_job(project.dataset, media.upload(media.png_bytes(), "still.png"), sequence_name="still")
    return ingest.run_job(job.pk)


def test_anonymous_gets_nothing(project):
    for url in ("/api/datasets/", "/api/projects/", "/api/frames/", f"/api/projects/{project.pk}/"):
        assert api_client().get(url).status_code in (401, 403)


def test_token_auth(users, project):
    response = api_client().post("/api/auth/token/", {"username": "ann", "password": "correct-horse-battery"})
    assert response.status_code == 200
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.data['token']}")
    assert [p["name"] for p in client.get("/api/projects/").data["results"]] == ["Test project"]
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get("/api/projects/").status_code == 401
    assert Token.objects.count() == 1


def test_members_see_their_project_and_outsiders_get_404(users, project, ingested):
    frame = ingested.sequence.frames.get()
    annotator, outsider = api_client(users["annotator"]), api_client(users["outsider"])
    for url in (f"/api/projects/{project.pk}/", f"/api/datasets/{project.dataset_id}/",
                f"/api/sequences/{ingested.sequence_id}/", f"/api/frames/{frame.pk}/",
                f"/api/projects/{project.pk}/members/", f"/frames/{frame.pk}/thumbnail"):
        assert annotator.get(url).status_code == 200, url
        assert outsider.get(url).status_code == 404, url
    assert [p["name"] for p in outsider.get("/api/projects/").data["results"]] == ["Other project"]
    assert outsider.get(f"/api/frames/?dataset={project.dataset_id}").data["results"] == []
    assert api_client(users["admin"]).get(f"/api/projects/{project.pk}/").status_code == 200


def test_project_listing_hides_other_datasets(users, project):
    names = [d["name"] for d in api_client(users["annotator"]).get("/api/datasets/").data["results"]]
    assert names == ["Test footage"]
    everything = [d["name"] for d in api_client(users["admin"]).get("/api/datasets/").data["results"]]
    assert everything == ["Someone else's footage", "Test footage"]


@pytest.mark.parametrize("role,expected", [("annotator", 403), ("qa", 403), ("trainer", 403), ("admin", 201)])
def test_only_admins_create_datasets(users, project, role, expected):
    response = api_client(users[role]).post("/api/datasets/", {"name": f"new by {role}"}, format="json")
    assert response.status_code == expected
    assert Dataset.objects.filter(name=f"new by {role}").exists() == (expected == 201)


def test_ingest_upload_by_role(users, project, django_capture_on_commit_callbacks):
    url = f"/api/datasets/{project.dataset_id}/ingest/"
    denied = api_client(users["annotator"]).post(url, {"file": media.upload(media.png_bytes(), "a.png")},
                                                 format="multipart")
    assert denied.status_code == 403
    with django_capture_on_commit_callbacks() as callbacks:
        accepted = api_client(users["admin"]).post(
            url, {"file": media.upload(media.png_bytes(), "a.png"), "stride": 1}, format="multipart")
    assert accepted.status_code == 202, accepted.data
    assert accepted.data["status"] == "queued" and len(callbacks) == 1
    empty = api_client(users["admin"]).post(url, {"file": media.upload(b"", "b.png")}, format="multipart")
    assert empty.status_code == 400 and "empty" in empty.data["detail"]
    both = api_client(users["admin"]).post(
        url, {"file": media.upload(media.png_bytes(), "c.png"), "stride": 2, "target_fps": 1}, format="multipart")
    assert both.status_code == 400 and "either a stride or a target_fps" in both.data["detail"]
    assert IngestJob.objects.count() == 1


def test_ingest_jobs_show_progress_to_those_allowed(users, project, ingested):
    data = api_client(users["qa"]).get(f"/api/ingest-jobs/{ingested.pk}/").data
    assert (data["status"], data["frames_done"], data["frames_total"], data["percent"]) == ("done", 1, 1, 100)
    assert api_client(users["annotator"]).get(f"/api/ingest-jobs/{ingested.pk}/").status_code == 404
    assert api_client(users["outsider"]).get(f"/api/ingest-jobs/{ingested.pk}/").status_code == 404


def test_dataset_versions_by_role(users, project, ingested):
    url = f"/api/datasets/{project.dataset_id}/versions/"
    assert api_client(users["annotator"]).post(url, {}, format="json").status_code == 403
    created = api_client(users["trainer"]).post(url, {"note": "for training run 1"}, format="json")
    assert created.status_code == 201 and created.data["frame_count"] == 1 and created.data["signature"]
    assert len(api_client(users["trainer"]).get(url).data) == 1
    assert api_client(users["outsider"]).get(url).status_code == 404


def test_project_settings_and_members(users, project, published_version):
    admin = api_client(users["admin"])
    response = admin.patch(f"/api/projects/{project.pk}/", {"overlap": 3}, format="json")
    assert response.status_code == 200 and Project.objects.get(pk=project.pk).overlap == 3
    assert api_client(users["annotator"]).patch(f"/api/projects/{project.pk}/", {"overlap": 1},
                                                format="json").status_code == 403
    assert admin.patch(f"/api/projects/{project.pk}/", {"overlap": 0}, format="json").status_code == 400
    members = f"/api/projects/{project.pk}/members/"
    assert api_client(users["annotator"]).post(members, {"username": "olga"}, format="json").status_code == 403
    added = admin.post(members, {"username": "olga"}, format="json")
    assert added.status_code == 201 and added.data["role"] == "annotator"
    assert admin.post(members, {"username": "olga"}, format="json").status_code == 400
    assert api_client(users["outsider"]).get(f"/api/projects/{project.pk}/").status_code == 200
    assert admin.delete(f"/api/projects/{project.pk}/members/{added.data['id']}/").status_code == 204
    assert not Membership.objects.filter(project=project, user=users["outsider"]).exists()


def test_project_needs_a_published_ontology(users, project):
    from ontology import services

    draft = services.derive(project.ontology_version)
    response = api_client(users["admin"]).post("/api/projects/", {
        "name": "P2", "dataset": project.dataset_id, "ontology_version": draft.pk}, format="json")
    assert response.status_code == 400 and "publish it first" in str(response.data["ontology_version"])


def test_ontology_api_publish_and_immutability(users, project):
    admin = api_client(users["admin"])
    created = admin.post("/api/ontologies/", {"name": "Maritime"}, format="json")
    assert created.status_code == 201
    version_id = created.data["versions"][0]["id"]
    assert api_client(users["annotator"]).post("/api/label-classes/", {"version": version_id, "key": "boat",
                                                                       "name": "Boat"}, format="json").status_code == 403
    boat = admin.post("/api/label-classes/", {"version": version_id, "key": "boat", "name": "Boat", "kind": "box",
                                              "attributes": [{"key": "type", "type": "enum", "options": ["rib"]}]},
                      format="json")
    assert boat.status_code == 201, boat.data
    bad = admin.post("/api/label-classes/", {"version": version_id, "key": "x", "name": "X",
                                             "attributes": [{"key": "t", "type": "enum"}]}, format="json")
    assert bad.status_code == 400 and "options" in str(bad.data)
    assert admin.post(f"/api/ontology-versions/{version_id}/publish/").status_code == 200
    assert admin.patch(f"/api/label-classes/{boat.data['id']}/", {"name": "Ship"}, format="json").status_code == 409
    assert admin.delete(f"/api/label-classes/{boat.data['id']}/").status_code == 409
    assert admin.post(f"/api/ontology-versions/{version_id}/publish/").status_code == 400
    derived = admin.post(f"/api/ontology-versions/{version_id}/derive/")
    assert derived.status_code == 201 and derived.data["number"] == 2 and len(derived.data["classes"]) == 1


def test_ontology_versions_visible_only_through_projects(users, project):
    from ontology import services

    services.create_ontology("Secret")
    names = {o["name"] for o in api_client(users["annotator"]).get("/api/ontologies/").data["results"]}
    assert names == {"Test ontology"}


def test_openapi_schema_generates_without_warnings(capsys):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
