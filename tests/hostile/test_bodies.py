"""Hostile request bodies on the JSON endpoints: oversized, not an object, nested too deep,
malformed, the wrong content type, NaN and huge numbers, SQL-looking and markup strings. Each
answers a clear 4xx (or stores the string as text) and changes nothing else."""
import json

import pytest

from labeling.work import queue
from labeling.models import Annotation, AuditEvent, Draft, ReviewItem
from tests.conftest import api_client, make_frames
from tests.hostile import corpus


@pytest.fixture
def lease(project, users):
    make_frames(project, 3)
    return queue.next_assignment(project, users["annotator"])


def rows():
    return (Annotation.objects.count(), Draft.objects.count(), ReviewItem.objects.count(),
            AuditEvent.objects.count())


def endpoints(project, lease):
    return [("post", f"/api/assignments/{lease.pk}/submit/"), ("put", f"/api/assignments/{lease.pk}/draft/"),
            ("post", f"/api/assignments/{lease.pk}/skip/"), ("post", f"/api/assignments/{lease.pk}/flag/"),
            ("post", "/api/annotations/revise/"),
            ("post", f"/api/projects/{project.pk}/frames/{lease.frame_id}/report/"),
            ("patch", "/api/protection/me/"), ("post", "/api/protection/checkin/")]


@pytest.mark.parametrize("label, body, content_type, status", [
    ("oversized", b'{"boxes": [' + b'{"class": "person", "x": 1, "y": 1, "w": 1, "h": 1},' * 220_000 + b'{}]}',
     "application/json", (400, 413)),  # Django's own limit answers first for a session, ours for a token
    ("array", b"[1, 2, 3]", "application/json", 400),
    ("string", b'"boxes"', "application/json", 400),
    ("null", b"null", "application/json", 400),
    ("nested", b"[" * 50_000 + b"]" * 50_000, "application/json", 400),
    ("nested-object", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json", 400),
    ("malformed", b'{"boxes": [}', "application/json", 400),
    ("not-utf8", b'{"boxes": "\xff\xfe"}', "application/json", 400),
    ("xml", b"<boxes><box/></boxes>", "application/xml", 415),
    ("text", b"boxes=1", "text/plain", 415),
    ("yaml", b"boxes: []", "application/x-yaml", 415),
])
def test_hostile_bodies_answer_4xx_and_change_nothing(project, users, lease, label, body, content_type, status):
    client = api_client(users["annotator"])
    before = rows()
    for method, url in endpoints(project, lease):
        response = getattr(client, method)(url, body, content_type=content_type)
        wanted = status if isinstance(status, tuple) else (status,)
        assert response.status_code in wanted, (label, method, url, response.status_code, response.content[:200])
    assert rows() == before
    assert client.post(f"/api/assignments/{lease.pk}/renew/").status_code == 200  # the lease is intact


@pytest.mark.parametrize("box", [
    {"class": "person", "x": "NaN", "y": 1, "w": 1, "h": 1},
    {"class": "person", "x": float("inf"), "y": 1, "w": 1, "h": 1},
    {"class": "person", "x": 1e308, "y": 1, "w": 1e308, "h": 1},
    {"class": "person", "x": 1, "y": 1, "w": -5, "h": 1},
    {"class": "person", "x": 1, "y": 1, "w": 1, "h": 1, "track_id": 2**70},
    {"class": "person", "x": 1, "y": 1, "w": 1, "h": 1, "attributes": {"posture": corpus.SQL[0]}},
    {"class": corpus.SQL[0], "x": 1, "y": 1, "w": 1, "h": 1},
    {"class": corpus.XSS[0], "x": 1, "y": 1, "w": 1, "h": 1},
    {"class": "person", "x": [1], "y": {"a": 1}, "w": True, "h": None},
])
def test_hostile_boxes_answer_400_naming_the_field(project, users, lease, box):
    client = api_client(users["annotator"])
    before = rows()
    body = json.dumps({"boxes": [box]}, allow_nan=True)
    response = client.post(f"/api/assignments/{lease.pk}/submit/", body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    detail = response.json()["detail"]
    assert "boxes[0]" in detail or "JSON parse error" in detail, detail  # Infinity is not JSON
    assert rows() == before


def test_the_json_parser_caps_bodies_read_from_the_stream(settings):
    """Behind a real WSGI server DRF reads JSON from the stream, past Django's own check."""
    import io

    from rest_framework.exceptions import ParseError

    from labeling.api.parsers import BodyTooLarge, ObjectJSONParser

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    parser = ObjectJSONParser()
    big = json.dumps({"note": "x" * 2000}).encode()
    with pytest.raises(BodyTooLarge):
        parser.parse(io.BytesIO(big), "application/json", {})
    with pytest.raises(ParseError):
        parser.parse(io.BytesIO(b"[1]"), "application/json", {})
    assert parser.parse(io.BytesIO(b'{"a": 1}'), "application/json", {}) == {"a": 1}


def test_too_many_boxes_answer_400(project, users, lease):
    boxes = [{"class": "person", "x": 1, "y": 1, "w": 1, "h": 1, "attributes": {"posture": "lying"}}] * 2001
    response = api_client(users["annotator"]).post(f"/api/assignments/{lease.pk}/submit/", {"boxes": boxes},
                                                   format="json")
    assert response.status_code == 400 and Annotation.objects.count() == 0


@pytest.mark.parametrize("text", corpus.SQL + corpus.XSS)
def test_sql_and_markup_in_free_text_are_stored_as_text(project, users, lease, text):
    """Skip reasons, flag notes and report notes keep the string as it was sent, and nothing else
    changes (the pages that show them are checked in a browser, test_xss_pages)."""
    from labeling.models import Assignment, Frame, SensitivityFlag

    client = api_client(users["annotator"])
    frames = Frame.objects.count()
    flagged = client.post(f"/api/assignments/{lease.pk}/flag/", {"note": text}, format="json")
    assert flagged.status_code == 201 and text in ReviewItem.objects.get(pk=flagged.data["review_item"]).note
    reported = client.post(f"/api/projects/{project.pk}/frames/{lease.frame_id}/report/", {"note": text},
                           format="json")
    assert reported.status_code == 201 and SensitivityFlag.objects.get(pk=reported.data["flag"]).note == text
    skipped = client.post(f"/api/assignments/{lease.pk}/skip/", {"reason": text}, format="json")
    assert skipped.status_code == 200 and Assignment.objects.get(pk=lease.pk).skip_reason == text
    assert Frame.objects.count() == frames
    # and as query parameters
    qa = api_client(users["qa"])
    for url in (f"/api/projects/{project.pk}/review/?class={text}&reason=flagged",
                f"/api/annotations/?ordering={text}", f"/api/frames/?ordering={text}&sensitive={text}",
                f"/projects/{project.pk}/review/?class={text}&annotator={text}"):
        assert qa.get(url).status_code in (200, 400), url


@pytest.mark.parametrize("field", ["first_index", "last_index"])
def test_a_frame_index_beyond_the_database_integer_answers_400(project, users, lease, field):
    """Found by schemathesis: a huge index reached PostgreSQL (integer out of range, a 500)."""
    from labeling.models import SensitivityFlag

    client = api_client(users["admin"])  # signing in is an audit event of its own
    before = (rows(), SensitivityFlag.objects.count())
    answer = client.post(f"/api/sequences/{lease.frame.sequence_id}/sensitive/", {field: 2**31}, format="json")
    assert answer.status_code == 400 and field in answer.data
    assert (rows(), SensitivityFlag.objects.count()) == before
