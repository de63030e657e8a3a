"""Shares: a partner downloads one derived dataset version (and an export's labels) by a link with a
token, until it expires or is revoked; every download is audited; the token opens nothing else."""
import hashlib
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.exchange import exports
from labeling.footage import dataset_versions
from labeling.models import AuditEvent, Share
from labeling.redaction import runs
from tests.conftest import api_client
from tests.labels import labeled_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def derived_version(project, users):
    labeled_project(project, with_images=True)
    raw = dataset_versions.create_version(project.dataset, user=users["admin"])
    run = runs.start_run(project.dataset, reason="test")
    for chunk in runs.pending_chunks(run.pk):
        runs.process_chunk(chunk, "test")
    made = api_client(users["admin"]).post(f"/api/dataset-versions/{raw.pk}/derive/")
    assert made.status_code == 201, made.json()
    return made.json()["id"]


def later(days=3):
    return (timezone.now() + timedelta(days=days)).isoformat()


def test_a_partner_downloads_the_derived_version_and_its_labels_by_link(client, project, users, derived_version):
    export = exports.run(exports.create(project, users["trainer"], format="coco").pk)
    admin = api_client(users["admin"])
    made = admin.post(f"/api/derived-versions/{derived_version}/shares/",
                      {"expires_at": later(), "note": "for the partner lab, training run 3", "export": export.pk},
                      format="json")
    assert made.status_code == 201, made.json()
    url = made.json()["url"]
    assert "url" not in admin.get(f"/api/derived-versions/{derived_version}/shares/").json()["shares"][0]
    response = client.get(url)  # nobody signed in
    assert response.status_code == 200
    files = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    manifest = json.loads(files.read("derived-manifest.json"))
    assert len(manifest["frames"]) == 9 and files.read(f"labels/{export.download_name}")[:2] == b"PK"
    for entry in manifest["frames"]:
        data = files.read(f"frames/{entry['sequence']}/{entry['index']:06d}.jpg")
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] != entry["raw_sha256"]  # derived, as signed
    signature = json.loads(files.read("derived-manifest.sig.json"))
    assert signature["sha256"] == hashlib.sha256(files.read("derived-manifest.json")).hexdigest()
    assert Share.objects.get().downloads == 1
    assert AuditEvent.objects.filter(verb="share.download").count() == 1


def test_a_share_ends_at_its_expiry_or_revocation_and_opens_nothing_else(client, project, users, derived_version):
    admin = api_client(users["admin"])
    made = admin.post(f"/api/derived-versions/{derived_version}/shares/", {"expires_at": later(), "note": "lab B"},
                      format="json").json()
    token = made["url"].split("/")[2]
    assert client.get(made["url"]).status_code == 200
    # the token is no key anywhere else
    for path in ("/api/projects/", "/api/datasets/", f"/api/derived-versions/{derived_version}/shares/"):
        assert client.get(path, HTTP_AUTHORIZATION=f"Token {token}").status_code == 401
    assert client.get(f"/shares/{token[:-1]}x/").status_code == 404  # a guess
    assert admin.post(f"/api/shares/{made['id']}/revoke/", {}, format="json").status_code == 400  # a reason
    assert admin.post(f"/api/shares/{made['id']}/revoke/", {"reason": "the lab's contract ended"},
                      format="json").status_code == 200
    assert client.get(made["url"]).status_code == 404
    again = admin.post(f"/api/derived-versions/{derived_version}/shares/", {"expires_at": later(), "note": "lab C"},
                       format="json").json()
    Share.objects.filter(pk=again["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(again["url"]).status_code == 404
    assert AuditEvent.objects.filter(verb="share.download").count() == 1


@pytest.mark.parametrize("body, field", [
    ({"expires_at": later(), "note": ""}, "note"),
    ({"expires_at": later(-1), "note": "x"}, "expires_at"),
    ({"expires_at": later(120), "note": "x"}, "expires_at"),
    ({"note": "x"}, "expires_at"),
])
def test_a_bad_share_names_the_field_and_makes_nothing(project, users, derived_version, body, field):
    answered = api_client(users["admin"]).post(f"/api/derived-versions/{derived_version}/shares/", body, format="json")
    assert answered.status_code == 400 and field in str(answered.json())
    assert not Share.objects.exists()


def test_only_admins_share(project, users, derived_version):
    for role in ("annotator", "qa", "trainer"):
        answered = api_client(users[role]).post(f"/api/derived-versions/{derived_version}/shares/",
                                                {"expires_at": later(), "note": "me"}, format="json")
        assert answered.status_code == 403
    assert not Share.objects.exists()


def test_the_dataset_page_runs_redaction_derives_shares_and_revokes(client, project, users,
                                                                  django_capture_on_commit_callbacks):
    from django.contrib.messages import get_messages

    labeled_project(project, with_images=True)
    raw = dataset_versions.create_version(project.dataset, user=users["admin"])
    client.force_login(users["admin"])
    page = f"/datasets/{project.dataset_id}/"
    assert "No redaction run yet" in client.get(page).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{page}redaction/")  # the job runs inline here (eager Celery)
    assert "Last redaction run" in client.get(page).content.decode()
    client.post(f"{page}versions/{raw.pk}/derive/")
    derived = project.dataset.derived_versions.get()
    answered = client.post(f"{page}derived/{derived.pk}/share/",
                           {"note": "partner lab", "expires": (timezone.localdate() + timedelta(days=3)).isoformat()})
    link = next(str(m) for m in get_messages(answered.wsgi_request) if "/shares/" in str(m)).split(": ")[-1]
    path = link.split("testserver")[-1]
    client.logout()
    assert client.get(path).status_code == 200
    client.force_login(users["admin"])
    assert "partner lab" in client.get(page).content.decode()
    client.post(f"{page}shares/{Share.objects.get().pk}/revoke/", {"reason": "lab done"})
    client.logout()
    assert client.get(path).status_code == 404
