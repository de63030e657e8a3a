"""Audit pages and API: QA leads see their projects' events, admins all, others nothing; the
filters; the JSON-lines export streams every matching event with its chain hash and is itself
audited. And the page in Chromium."""
from __future__ import annotations

import json

import pytest
from django.test import Client
from playwright.sync_api import expect

from labeling import audit
from labeling.models import AuditEvent, Dataset, Project
from tests.conftest import ARTIFACTS, api_client


@pytest.fixture
def trail(project, users, published_version):
    other = Project.objects.get(name="Other project")
    lone = Dataset.objects.create(name="Nobody's footage")
    audit.record(users["annotator"], "annotation.submit", None, {"frame": 1}, project=project)
    audit.record(users["qa"], "review.accept", None, {"frame": 1, "comment": "<script>alert(1)</script>"},
                 project=project)
    audit.record(users["admin"], "ingest.done", project.dataset, {"frames": 10})
    audit.record(users["outsider"], "annotation.submit", None, {"frame": 2}, project=other)
    audit.record(users["admin"], "dataset.create", lone, {"name": lone.name})
    audit.record(None, "scoring.chunk", None, {"project": project.pk, "scores": [[1, 0.5]]})
    return project, other


def verbs(response) -> list[str]:
    return [e["verb"] for e in response.json()["results"]]


def test_qa_leads_see_their_projects_events_admins_all_others_none(trail, users):
    project, other = trail
    qa = verbs(api_client(users["qa"]).get("/api/audit/"))
    assert sorted(qa) == sorted(["annotation.submit", "review.accept", "ingest.done", "scoring.chunk"])
    everything = verbs(api_client(users["admin"]).get("/api/audit/"))
    assert {"dataset.create", "auth.login"} <= set(everything) and everything.count("annotation.submit") == 2
    for role in ("annotator", "trainer", "outsider"):
        assert api_client(users[role]).get("/api/audit/").status_code == 403
        assert api_client(users[role]).get("/audit/").status_code == 403
    assert Client().get("/audit/").status_code == 302  # to the sign-in page
    assert api_client(users["qa"]).get(f"/api/audit/?project={other.pk}").status_code == 404
    assert api_client(users["qa"]).get(f"/audit/?project={other.pk}").status_code == 404


def test_filters(trail, users):
    project, _ = trail
    client = api_client(users["admin"])
    assert set(verbs(client.get("/api/audit/?verb=annotation."))) == {"annotation.submit"}
    assert verbs(client.get(f"/api/audit/?actor={users['qa'].username}")) == ["review.accept"]
    assert verbs(client.get("/api/audit/?actor=system&verb=s")) == ["scoring.chunk"]
    assert verbs(client.get(f"/api/audit/?object=labeling.dataset:{project.dataset_id}")) == ["ingest.done"]
    assert set(verbs(client.get(f"/api/audit/?project={project.pk}&verb=a"))) == {"annotation.submit"}
    assert verbs(client.get("/api/audit/?until=2000-01-01")) == []
    today = AuditEvent.objects.latest("id").at.date().isoformat()
    assert len(verbs(client.get(f"/api/audit/?since={today}&until={today}"))) >= 6
    response = client.get("/api/audit/?since=yesterday")
    assert response.status_code == 400 and "since" in response.json()["detail"]


def test_export_streams_json_lines_with_the_chain_and_is_audited(trail, users):
    from tests.test_audit import chain_now

    chain_now()
    project, _ = trail
    response = api_client(users["qa"]).get(f"/api/audit/export/?project={project.pk}")
    assert response.status_code == 200 and response["Content-Type"] == "application/jsonl"
    assert response.streaming
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [r["verb"] for r in lines] == ["annotation.submit", "review.accept", "scoring.chunk"]
    assert all(len(r["hash"]) == 64 and r["seq"] for r in lines)
    assert lines[1]["data"]["comment"] == "<script>alert(1)</script>"
    exported = AuditEvent.objects.get(verb="audit.export", actor=users["qa"])
    assert exported.data == {"filters": {"project": project.pk}} and exported.project_id == project.pk
    page = api_client(users["qa"]).get(f"/audit/export.jsonl?verb=review.")
    assert [json.loads(line)["verb"] for line in b"".join(page.streaming_content).decode().splitlines()] == [
        "review.accept"]


def test_chain_and_seal_api(trail, users):
    from tests.test_audit import chain_now

    chain_now()
    audit.record(users["admin"], "test.more", None, {})
    assert api_client(users["qa"]).post("/api/audit/seal/").status_code == 403
    admin = api_client(users["admin"])  # (signing in is itself an event)
    response = admin.post("/api/audit/seal/")
    assert response.status_code == 201
    again = admin.post("/api/audit/seal/")
    assert again.status_code == 200 and again.json()["id"] == response.json()["id"]
    head = admin.get("/api/audit/chain/").json()
    assert head["last_seal"]["seq"] == head["head_seq"] and head["head_hash"] == response.json()["hash"]


def test_page_escapes_what_events_carry(trail, users):
    client = Client()
    client.force_login(users["qa"])
    html = client.get("/audit/").content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_audit_page_in_the_browser(page, login, live_server, users, trail):
    project, _ = trail
    for i in range(3):
        audit.record(users["qa"], "review.dismiss", None, {"frame": 10 + i}, project=project)
    login(users["qa"])
    page.get_by_role("link", name="Audit").click()
    rows = page.locator("tr.audit-row")
    expect(rows.first).to_contain_text("review.dismiss")
    expect(page.get_by_test_id("chain-status")).to_contain_text("Chain head")
    page.screenshot(path=str(ARTIFACTS / "audit.png"), full_page=True)
    page.fill("input[name=verb]", "ingest.")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ingest.done")
    assert "verb=ingest." in page.url
    with page.expect_download() as download:
        page.get_by_test_id("export").click()
    lines = open(download.value.path()).read().splitlines()
    assert [json.loads(line)["verb"] for line in lines] == ["ingest.done"]
    login(users["admin"])
    page.goto(f"{live_server.url}/audit/")
    page.get_by_role("button", name="Sign the head now").click()
    expect(page.locator(".msg-success")).to_contain_text("Sealed the chain")
    page.select_option("select[name=project]", str(project.pk))
    expect(rows.first).to_contain_text("Test project")
    page.screenshot(path=str(ARTIFACTS / "audit-admin.png"), full_page=True)
