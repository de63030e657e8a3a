"""A submit that asks for the next frame too (`"next": true`) answers, under `next`, what POST
/api/projects/{id}/next/ would have answered: one request per frame, on the lean path and DRF's
alike. The submission's 201 stands whatever the next frame's part says, and a bad flag is a 400
that stores nothing."""
import json

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from labeling.models import Annotation, Assignment
from tests.conftest import make_frames

pytestmark = pytest.mark.django_db

BOX = {"class": "person", "x": 10, "y": 10, "w": 20, "h": 30, "attributes": {"posture": "standing"}}


def token_client(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")


def post(client, path, body=None):
    if body is None:
        return client.post(path)
    return client.post(path, json.dumps(body), content_type="application/json")


def first_lease(client, project) -> dict:
    answer = post(client, f"/api/projects/{project.pk}/next/")
    assert answer.status_code == 200
    return answer.json()


@pytest.mark.parametrize("via", ["", "?via=drf"])  # the lean view, then DRF's (a query string hands over)
def test_submit_answers_with_the_next_frame_until_none_is_left(project, users, via):
    make_frames(project, 3, width=200, height=100)
    client = token_client(users["annotator"])
    state = first_lease(client, project)
    seen = [state["frame"]["id"]]
    while True:
        answer = post(client, f"/api/assignments/{state['assignment']['id']}/submit/{via}",
                      {"boxes": [BOX], "tags": [], "next": True})
        assert answer.status_code == 201, answer.content
        body = answer.json()
        assert Annotation.objects.filter(pk=body["id"], assignment_id=state["assignment"]["id"]).exists()
        following = body["next"]
        if following["status"] == 204:
            assert following["body"] is None
            break
        assert following["status"] == 200
        state = following["body"]
        assert state["assignment"]["status"] == "active" and state["frame"]["id"] not in seen
        seen.append(state["frame"]["id"])
        # the lease it brought is the one /next/ holds for this person: asking again renews it
        again = first_lease(client, project)
        assert again["assignment"]["id"] == state["assignment"]["id"]
        assert set(again) == set(state)
    assert len(seen) == 3 and Annotation.objects.filter(annotator=users["annotator"]).count() == 3
    assert post(client, f"/api/projects/{project.pk}/next/").status_code == 204


def test_without_the_flag_the_answer_is_as_before(project, users):
    make_frames(project, 2, width=200, height=100)
    client = token_client(users["annotator"])
    state = first_lease(client, project)
    for flag in ({}, {"next": False}):
        answer = post(client, f"/api/assignments/{state['assignment']['id']}/submit/", {"boxes": [BOX], **flag})
        assert answer.status_code == 201 and "next" not in answer.json()
        state = first_lease(client, project) if not flag else state
    assert Assignment.objects.filter(annotator=users["annotator"], status="active").count() == 0


@pytest.mark.parametrize("flag", ["yes", 1, None, {"project": 2}])
def test_a_flag_that_is_not_a_boolean_is_refused_and_nothing_is_stored(project, users, flag):
    make_frames(project, 2, width=200, height=100)
    client = token_client(users["annotator"])
    lease = first_lease(client, project)["assignment"]["id"]
    for via in ("", "?via=drf"):
        answer = post(client, f"/api/assignments/{lease}/submit/{via}", {"boxes": [BOX], "next": flag})
        assert answer.status_code == 400 and answer.json()["field"] == "next", answer.content
    assert Annotation.objects.count() == 0
    assert Assignment.objects.get(pk=lease).status == "active"
    assert Assignment.objects.filter(annotator=users["annotator"]).count() == 1  # no second lease either


def test_the_submission_stands_when_the_next_frame_is_refused(project, users):
    """Raw access revoked meanwhile: the next frame is a 403, said under `next`; the work is kept."""
    make_frames(project, 3, width=200, height=100)
    client = token_client(users["annotator"])
    lease = first_lease(client, project)["assignment"]["id"]
    project.annotators_need_raw = True
    project.save(update_fields=["annotators_need_raw"])
    answer = post(client, f"/api/assignments/{lease}/submit/", {"boxes": [BOX], "next": True})
    assert answer.status_code == 201
    assert answer.json()["next"]["status"] == 403
    assert "raw access" in answer.json()["next"]["body"]["detail"]
    assert Annotation.objects.filter(assignment_id=lease).count() == 1
    assert Assignment.objects.filter(annotator=users["annotator"], status="active").count() == 0


def test_a_refused_submission_brings_no_next_frame(project, users):
    make_frames(project, 3, width=200, height=100)
    client = token_client(users["annotator"])
    lease = first_lease(client, project)["assignment"]["id"]
    answer = post(client, f"/api/assignments/{lease}/submit/", {"boxes": [{**BOX, "x": 190}], "next": True})
    assert answer.status_code == 400 and "next" not in answer.json()
    assert list(Assignment.objects.filter(annotator=users["annotator"]).values_list("pk", "status")) == [
        (lease, "active")]


def test_the_schema_describes_the_flag_and_the_answer():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    submit = schema["paths"]["/api/assignments/{id}/submit/"]["post"]
    request_ref = submit["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    answer_ref = submit["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][request_ref]["properties"]["next"]["type"] == "boolean"
    assert "next" in schema["components"]["schemas"][answer_ref]["properties"]
