"""Raw access: an admin grants a named person raw access to a dataset with a reason and an expiry,
and revokes it; each is an audit event; bad requests change nothing."""
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.access import cache, raw
from labeling.models import AuditEvent, RawAccessGrant
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


def later(days=7):
    return (timezone.now() + timedelta(days=days)).isoformat()


def test_grant_use_and_revoke_through_the_api(project, users):
    admin = api_client(users["admin"])
    url = f"/api/datasets/{project.dataset_id}/raw-access/"
    qa = users["qa"]
    assert not raw.holds(qa, project.dataset_id)
    made = admin.post(url, {"user": qa.username, "reason": "checks what the face detector missed",
                            "expires_at": later()}, format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["state"] == "live" and made.json()["granted_by"] == users["admin"].username
    assert raw.holds(qa, project.dataset_id)
    assert not raw.holds(users["annotator"], project.dataset_id)  # named people only
    assert not raw.holds(qa, project.dataset_id + 999)  # one dataset only
    listed = admin.get(url).json()["grants"]
    assert [g["user"] for g in listed] == [qa.username]
    grant_id = made.json()["id"]
    revoke = f"/api/raw-access/{grant_id}/revoke/"
    assert admin.post(revoke, {}, format="json").status_code == 400  # a reason is required
    assert raw.holds(qa, project.dataset_id)
    ended = admin.post(revoke, {"reason": "task done"}, format="json")
    assert ended.status_code == 200 and ended.json()["state"] == "revoked"
    assert not raw.holds(qa, project.dataset_id)
    assert admin.post(revoke, {"reason": "again"}, format="json").status_code == 400  # already revoked
    verbs = list(AuditEvent.objects.filter(verb__startswith="raw.").order_by("pk").values_list("verb", "data"))
    assert [v for v, _ in verbs] == ["raw.grant", "raw.revoke"]
    assert verbs[0][1]["reason"] == "checks what the face detector missed" and verbs[1][1]["reason"] == "task done"


@pytest.mark.parametrize("body, field", [
    ({"reason": "", "expires_at": later()}, "reason"),
    ({"reason": "   ", "expires_at": later()}, "reason"),
    ({"reason": "x", "expires_at": later(-1)}, "expires_at"),
    ({"reason": "x", "expires_at": later(400)}, "expires_at"),
    ({"reason": "x"}, "expires_at"),
    ({"reason": "x", "expires_at": "soon"}, "expires_at"),
    ({"reason": "x", "expires_at": later(), "user": "nobody"}, "user"),
])
def test_a_bad_grant_names_the_field_and_grants_nothing(project, users, body, field):
    response = api_client(users["admin"]).post(f"/api/datasets/{project.dataset_id}/raw-access/",
                                               {"user": users["qa"].username, **body}, format="json")
    assert response.status_code == 400
    assert field in str(response.json())
    assert not RawAccessGrant.objects.exists() and not raw.holds(users["qa"], project.dataset_id)


def test_a_grant_ends_at_its_expiry(project, users):
    qa = users["qa"]
    grant = raw.grant(project.dataset, qa, users["admin"], "review", timezone.now() + timedelta(days=1))
    assert raw.holds(qa, project.dataset_id)
    RawAccessGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() + timedelta(milliseconds=1))
    cache.forget("raw", (qa.pk, project.dataset_id))
    import time
    time.sleep(0.01)
    assert not raw.holds(qa, project.dataset_id)  # expired: even a cached answer honours the expiry


def test_only_admins_grant(project, users):
    for role in ("annotator", "qa", "trainer"):
        response = api_client(users[role]).post(f"/api/datasets/{project.dataset_id}/raw-access/",
                                                {"user": users[role].username, "reason": "me", "expires_at": later()},
                                                format="json")
        assert response.status_code == 403
    assert not RawAccessGrant.objects.exists()


def test_a_project_that_needs_raw_footage_hands_work_only_to_holders(project, users):
    from tests.conftest import make_frames

    make_frames(project, 2)
    project.annotators_need_raw = True
    project.save()
    annotator = api_client(users["annotator"])
    refused = annotator.post(f"/api/projects/{project.pk}/next/")
    assert refused.status_code == 403 and "raw access" in refused.json()["detail"]
    raw.grant(project.dataset, users["annotator"], users["admin"], "labels insignia", timezone.now() + timedelta(days=2))
    assert annotator.post(f"/api/projects/{project.pk}/next/").status_code == 200


def test_an_admin_grants_and_revokes_raw_access_on_the_dataset_page(client, project, users):
    client.force_login(users["admin"])
    page = client.get(f"/datasets/{project.dataset_id}/").content.decode()
    assert "Raw access" in page and "Nobody holds raw access" in page
    day = (timezone.localdate() + timedelta(days=5)).isoformat()
    url = f"/datasets/{project.dataset_id}/raw-access/"
    client.post(url, {"user": users["qa"].username, "reason": "", "expires": day})
    client.post(url, {"user": users["qa"].username, "reason": "review", "expires": "soon"})
    assert not RawAccessGrant.objects.exists()  # no reason, no date: nothing granted
    client.post(url, {"user": users["qa"].username, "reason": "checks redaction", "expires": day})
    grant = RawAccessGrant.objects.get()
    assert raw.holds(users["qa"], project.dataset_id) and grant.expires_at.date().isoformat() == day
    assert "checks redaction" in client.get(f"/datasets/{project.dataset_id}/").content.decode()
    client.post(f"/datasets/{project.dataset_id}/raw-access/{grant.pk}/revoke/", {"reason": "done"})
    assert not raw.holds(users["qa"], project.dataset_id)
    client.force_login(users["qa"])  # others do not see the section
    assert "Grant raw access" not in client.get(f"/datasets/{project.dataset_id}/").content.decode()


@pytest.mark.parametrize("role", ["annotator", "qa", "trainer", "admin"])
def test_every_image_variant_is_derived_without_the_scope_and_raw_with_it(project, users, role):
    """The image route × role × raw scope: thumbnail, preview, original and a revealed sensitive
    original are the derived renditions for someone without raw access, the raw files with it."""
    import hashlib

    from labeling.footage import blobstore, ingest
    from labeling.models import Frame
    from labeling.protection import policy as protection_policy
    from labeling.protection import state as protection_state
    from tests import media

    from tests.test_protection import patterned_png

    archive = media.zip_bytes({f"f{i}.png": patterned_png(160, 120, seed=i) for i in range(2)})  # detail to keep
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(archive, "two.zip"), sequence_name="two").pk)
    plain, graphic = list(job.sequence.frames.order_by("index"))
    Frame.objects.filter(pk=graphic.pk).update(sensitive=True)
    user = users[role]
    protection_state.set_consent(user, True, protection_policy.consent_version())

    def sha(name):
        with blobstore.open_blob(name) as fh:
            return hashlib.sha256(fh.read()).hexdigest()

    raw_files = {sha(f.image_name) for f in (plain, graphic)} | {sha(plain.thumbnail_name), sha(plain.preview_name),
                                                                  sha(graphic.preview_name)}
    client = api_client(user)

    def served():
        got = [client.get(f"/frames/{plain.pk}/{v}") for v in ("thumbnail", "preview", "original")]
        got += [client.get(f"/frames/{graphic.pk}/{v}") for v in ("thumbnail", "preview")]
        issued = client.post(f"/api/projects/{project.pk}/frames/{graphic.pk}/reveal/")
        if issued.status_code == 201:
            got.append(client.get(issued.json()["url"]))
        assert all(r.status_code == 200 for r in got)
        return [hashlib.sha256(b"".join(r.streaming_content) if r.streaming else r.content).hexdigest() for r in got]

    assert not set(served()) & raw_files  # no raw bytes, whatever the variant
    raw.grant(project.dataset, user, users["admin"], "checks", timezone.now() + timedelta(days=1))
    with_scope = served()
    assert {with_scope[0], with_scope[2]} <= raw_files  # the raw thumbnail and original of the plain frame
