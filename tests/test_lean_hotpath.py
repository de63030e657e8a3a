"""The labeling page's hot requests (next, submit, renew, draft) served by lean views
(labeling.api.lean) keep DRF's guarantees: token and session sign-in, CSRF for a session, the
permission checks, the audit event, and answers of the same shape, status and headers as the DRF
view of the same URL gives (a query string hands a request to the DRF view: the two compared)."""
import json

import pytest
from django.test import Client
from django.urls import resolve
from rest_framework.authtoken.models import Token

from labeling.models import Annotation, AuditEvent, Draft, Membership
from tests.conftest import make_frames

pytestmark = pytest.mark.django_db

BOX = {"class": "person", "x": 10, "y": 10, "w": 20, "h": 30, "attributes": {"posture": "standing"}}
HOT = ["/api/projects/1/next/", "/api/assignments/1/submit/", "/api/assignments/1/renew/", "/api/assignments/1/draft/"]


def token_client(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")


def session_client(user, csrf: bool = True) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def post(client, path, body=None, method="post", **extra):
    send = getattr(client, method)
    if body is None:
        return send(path, **extra)
    return send(path, json.dumps(body), content_type="application/json", **extra)


def shape(value):
    """The JSON's structure: keys and value types, not the values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def same_answer(lean, drf):
    assert lean.status_code == drf.status_code
    for header in ("Content-Type", "Vary", "Allow"):
        assert lean.headers.get(header) == drf.headers.get(header), header
    if drf.content:
        assert shape(json.loads(lean.content)) == shape(json.loads(drf.content))
    else:
        assert lean.content == drf.content == b""


def test_the_hot_urls_resolve_to_the_lean_views():
    for path in HOT:
        assert resolve(path).func.__name__.startswith("lean_")


def test_token_sign_in_on_the_lean_path_and_the_same_answers_as_drf(project, users, make_user):
    make_frames(project, 6, width=200, height=100)
    client = token_client(users["annotator"])
    drf_fresh = post(client, f"/api/projects/{project.pk}/next/?via=drf")  # a new lease, through DRF
    held = [post(client, f"/api/projects/{project.pk}/next/"), post(client, f"/api/projects/{project.pk}/next/?x=1")]
    same_answer(*held)  # the lease held, renewed: lean, then DRF
    first = drf_fresh.json()["assignment"]["id"]
    assert held[0].data["assignment"]["id"] == held[1].json()["assignment"]["id"] == first
    lean_submit = post(client, f"/api/assignments/{first}/submit/", {"boxes": [BOX], "tags": []})
    assert lean_submit.status_code == 201

    newcomer = make_user("ann2", "annotator")  # a new lease, lean, for someone with no work yet (as above)
    Membership.objects.create(project=project, user=newcomer)
    same_answer(post(token_client(newcomer), f"/api/projects/{project.pk}/next/"), drf_fresh)
    lean_fresh = post(client, f"/api/projects/{project.pk}/next/")
    assert lean_fresh.json()["prefetch"] and lean_fresh.json()["frame"]["image_url"]
    second = lean_fresh.json()["assignment"]["id"]
    same_answer(post(client, f"/api/assignments/{second}/renew/"),
                post(client, f"/api/assignments/{second}/renew/?via=drf"))
    same_answer(post(client, f"/api/assignments/{second}/draft/", {"boxes": [BOX]}, method="put"),
                post(client, f"/api/assignments/{second}/draft/?via=drf", {"boxes": []}, method="put"))
    assert Draft.objects.get(assignment_id=second).payload == {"boxes": []}
    drf_submit = post(client, f"/api/assignments/{second}/submit/?via=drf", {"boxes": [BOX], "tags": []})
    same_answer(lean_submit, drf_submit)
    assert set(Annotation.objects.values_list("assignment_id", flat=True)) == {first, second}


def test_errors_read_as_before(project, users):
    make_frames(project, 4, width=200, height=100)
    client = token_client(users["annotator"])
    assignment = json.loads(post(client, f"/api/projects/{project.pk}/next/").content)["assignment"]["id"]
    cases = [
        ("post", f"/api/assignments/{assignment}/submit/", {"boxes": [{**BOX, "class": "boat"}]}, 400),
        ("post", f"/api/assignments/{assignment}/submit/", {"boxes": [{**BOX, "x": 190}]}, 400),
        ("post", "/api/assignments/999999/submit/", {"boxes": []}, 404),
        ("post", "/api/projects/999999/next/", None, 404),
        ("post", "/api/assignments/999999/renew/", None, 404),
        ("put", "/api/assignments/999999/draft/", {}, 404),
    ]
    for method, path, body, status in cases:
        lean, drf = post(client, path, body, method=method), post(client, path + "?via=drf", body, method=method)
        assert lean.status_code == status, (path, lean.content)
        same_answer(lean, drf)
        assert lean.content == drf.content  # the very same bytes
    assert Annotation.objects.count() == 0
    # someone else's lease: 404 (existence does not leak); a role that does not label: 403
    other = token_client(users["outsider"])
    assert post(other, f"/api/assignments/{assignment}/submit/", {"boxes": []}).status_code == 404
    assert post(other, f"/api/assignments/{assignment}/renew/").status_code == 404
    trainer = token_client(users["trainer"])
    for path in (f"/api/projects/{project.pk}/next/", f"/api/assignments/{assignment}/submit/"):
        lean, drf = post(trainer, path, {}), post(trainer, path + "?via=drf", {})
        assert lean.status_code == 403 and lean.content == drf.content
    assert Annotation.objects.count() == 0


def test_bad_credentials_and_bodies_get_drfs_answers(project, users):
    make_frames(project, 2, width=200, height=100)
    nobody = post(Client(), f"/api/projects/{project.pk}/next/")
    assert nobody.status_code == 401 and nobody.headers["WWW-Authenticate"] == "Token"
    bad = post(Client(HTTP_AUTHORIZATION="Token nope"), f"/api/projects/{project.pk}/next/")
    assert bad.status_code == 401 and "Invalid token" in bad.json()["detail"]
    client = token_client(users["annotator"])
    assignment = post(client, f"/api/projects/{project.pk}/next/").json()["assignment"]["id"]
    path = f"/api/assignments/{assignment}/submit/"
    assert client.post(path, "[1, 2]", content_type="application/json").status_code == 400
    assert client.post(path, "{nope", content_type="application/json").status_code == 400
    assert client.post(path, "a=1", content_type="text/plain").status_code == 415
    assert client.get(path).status_code == 405
    assert Annotation.objects.count() == 0


def test_a_session_needs_the_csrf_token(project, users):
    make_frames(project, 2, width=200, height=100)
    client = session_client(users["annotator"])
    refused = post(client, f"/api/projects/{project.pk}/next/")
    assert refused.status_code == 403 and refused.json()["detail"].startswith("CSRF Failed")
    csrf = "k" * 32  # what the pages set as the CSRF cookie, and their scripts send back
    client.cookies["csrftoken"] = csrf
    lease = post(client, f"/api/projects/{project.pk}/next/", HTTP_X_CSRFTOKEN=csrf)
    assert lease.status_code == 200
    assignment = lease.json()["assignment"]["id"]
    path = f"/api/assignments/{assignment}/submit/"
    refused = post(client, path, {"boxes": [BOX]})
    assert refused.status_code == 403 and refused.json()["detail"].startswith("CSRF Failed")
    assert post(client, f"/api/assignments/{assignment}/draft/", {"boxes": []}, method="put").status_code == 403
    assert post(client, f"/api/assignments/{assignment}/renew/").status_code == 403
    assert not Annotation.objects.exists() and not Draft.objects.exists()
    assert post(client, path, {"boxes": [BOX]}, HTTP_X_CSRFTOKEN=csrf).status_code == 201
    assert Annotation.objects.get().assignment_id == assignment


def test_a_token_needs_no_csrf_token(project, users):
    make_frames(project, 2, width=200, height=100)
    client = token_client(users["annotator"])
    client.handler.enforce_csrf_checks = True
    assignment = post(client, f"/api/projects/{project.pk}/next/").json()["assignment"]["id"]
    assert post(client, f"/api/assignments/{assignment}/submit/", {"boxes": [BOX]}).status_code == 201


def test_submit_on_the_lean_path_writes_its_audit_event(project, users):
    make_frames(project, 2, width=200, height=100)
    client = token_client(users["annotator"])
    assignment = post(client, f"/api/projects/{project.pk}/next/").json()["assignment"]["id"]
    answer = post(client, f"/api/assignments/{assignment}/submit/", {"boxes": [BOX], "tags": []})
    assert answer.status_code == 201
    event = AuditEvent.objects.get(verb="annotation.submit")
    assert event.actor_id == users["annotator"].pk and event.object_id == str(answer.json()["id"])
    assert event.data["boxes"] == 1 and event.project_id == project.pk
