"""Drift and quarantine over the API: a QA lead reads the drift report, quarantines an annotator's
submissions and lifts the quarantine; bad input is refused with a clear error and changes nothing.
(Who may call these URLs at all is in tests/permission_matrix.py.)"""
import pytest

from labeling.models import AuditEvent, Quarantine, QueueItem
from tests.conftest import api_client
from tests.test_quarantine import crew, labelled_frame, window  # noqa: F401 - crew is a fixture

pytestmark = pytest.mark.django_db


def test_qa_lead_reads_drift_quarantines_and_lifts_through_the_api(project, users, crew,  # noqa: F811
                                                                   django_capture_on_commit_callbacks):
    frame = labelled_frame(project, crew)
    client = api_client(users["qa"])
    report = client.get(f"/api/projects/{project.pk}/drift/")
    assert report.status_code == 200
    assert {a["annotator_name"] for a in report.json()["annotators"]} >= {"pete", "hana"}
    assert isinstance(report.json()["flags"], list)

    start, end = window()
    with django_capture_on_commit_callbacks(execute=True):
        made = client.post(f"/api/projects/{project.pk}/quarantines/", {
            "annotator": crew["p"].pk, "starts_at": start.isoformat(), "ends_at": end.isoformat(),
            "reason": "flips cars to trucks"}, format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["annotator_name"] == "pete" and body["frames"] == 1 and body["lifted_at"] is None
    assert QueueItem.objects.get(project=project, frame=frame).is_open  # two of three left: back in the queue
    listed = client.get(f"/api/projects/{project.pk}/quarantines/").json()
    assert [q["id"] for q in listed] == [body["id"]]
    assert AuditEvent.objects.filter(verb="quarantine.create", actor=users["qa"]).count() == 1

    url = f"/api/projects/{project.pk}/quarantines/{body['id']}/lift/"
    assert client.post(url, {"reason": ""}, format="json").status_code == 400  # a reason is required
    with django_capture_on_commit_callbacks(execute=True):
        lifted = client.post(url, {"reason": "false alarm"}, format="json")
    assert lifted.status_code == 200 and lifted.json()["lift_reason"] == "false alarm"
    again = client.post(url, {"reason": "again"}, format="json")
    assert again.status_code == 400 and "already lifted" in again.json()["detail"]


@pytest.mark.parametrize("change, field", [
    ({"annotator": 999999}, "annotator"),
    ({"reason": ""}, None),
    ({"starts_at": "not a date"}, "starts_at"),
    ({"ends_at": "2001-01-01T00:00:00Z"}, None),
])
def test_bad_quarantine_requests_are_refused_and_change_nothing(project, users, crew, change, field):  # noqa: F811
    labelled_frame(project, crew)
    start, end = window()
    body = {"annotator": crew["p"].pk, "starts_at": start.isoformat(), "ends_at": end.isoformat(), "reason": "x",
            **change}
    answer = api_client(users["qa"]).post(f"/api/projects/{project.pk}/quarantines/", body, format="json")
    assert answer.status_code == 400
    if field:
        assert field in answer.json() or answer.json().get("field") == field
    else:
        assert answer.json()["detail"]
    assert not Quarantine.objects.exists() and not AuditEvent.objects.filter(verb="quarantine.create").exists()


def test_an_annotator_of_another_project_cannot_be_quarantined_here(project, users, crew, make_user):  # noqa: F811
    stranger = make_user("sam", "annotator")  # a member of no project of this one
    start, end = window()
    answer = api_client(users["qa"]).post(f"/api/projects/{project.pk}/quarantines/", {
        "annotator": stranger.pk, "starts_at": start.isoformat(), "ends_at": end.isoformat(), "reason": "x"},
        format="json")
    assert answer.status_code == 400 and answer.json()["field"] == "annotator"
