"""A QA lead works the review queue in Chromium: opens the queue, sees the disagreement
highlighted, accepts one version, and the frame leaves the queue approved. Also the dashboard
and the QA editor."""
import pytest
from playwright.sync_api import expect

from labeling.footage import ingest
from labeling.work import queue, submissions
from labeling.work import payloads
from labeling.models import Annotation, ReviewDecision, ReviewItem
from tests import media
from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def disputed(project, users, make_user):
    """Two annotators label the same real frame differently; the last submission opens the
    review item by itself (the agreement task runs when it is sent)."""
    archive = media.zip_bytes({f"f{i}.png": media.png_bytes(320, 240, color=(60, 90, 40 * i)) for i in range(2)})
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(archive, "cam.zip"), sequence_name="cam").pk)
    assert job.status == "done"
    second = make_user("bea", "annotator")
    project.members.add(second)
    first = users["annotator"]
    mine = submissions.submit(queue.next_assignment(project, first), first, {"boxes": [
        {"class": "person", "x": 20, "y": 30, "w": 40, "h": 90},
        {"class": "car", "x": 150, "y": 120, "w": 80, "h": 50}]}).annotation
    submissions.submit(queue.next_assignment(project, second), second, {"boxes": [
        {"class": "truck", "x": 22, "y": 31, "w": 40, "h": 88}]})
    item = ReviewItem.objects.get(frame=mine.frame)
    return item, mine


def test_qa_lead_accepts_a_version_and_the_frame_leaves_the_queue(page, login, live_server, users, project, disputed):
    item, mine = disputed
    login(users["qa"])
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Review (1 open)").click()
    rows = page.locator("tr.review-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Annotators disagree")
    expect(rows.first).to_contain_text("car, person, truck")
    rows.first.get_by_role("link", name="cam #0").click()
    overlay = page.get_by_test_id("overlay")
    expect(overlay.locator("rect.rbox.confused")).to_have_count(2)  # person vs truck
    expect(overlay.locator("rect.rbox.unmatched")).to_have_count(1)  # the car only one drew
    expect(page.locator("table.compact").first).to_contain_text("person → truck")
    page.screenshot(path=str(ARTIFACTS / "review-item.png"), full_page=True)
    page.fill("textarea[name=comment]", "a person, and the car is real")
    page.get_by_role("button", name="Accept ann's version").click()
    expect(page.locator(".msg-success")).to_contain_text("Accepted")
    expect(page.locator("tr.review-row")).to_have_count(0)
    item.refresh_from_db()
    assert item.status == ReviewItem.RESOLVED
    decision = ReviewDecision.objects.get(item=item)
    assert decision.accepted_id == mine.pk and decision.comment == "a person, and the car is real"
    approved = Annotation.objects.get(frame=item.frame, status=Annotation.APPROVED)
    assert sorted(b["class"] for b in payloads.as_payload(approved)["boxes"]) == ["car", "person"]
    page.goto(f"{live_server.url}/projects/{project.pk}/quality/")
    expect(page.locator("svg.chart").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "quality.png"), full_page=True)


def test_qa_lead_edits_a_version_into_the_approved_one(page, login, live_server, users, project, disputed):
    item, mine = disputed
    login(users["qa"])
    page.goto(f"{live_server.url}/projects/{project.pk}/review/{item.pk}/edit/?from={mine.pk}")
    expect(page.locator("#boxes .box")).to_have_count(2)
    page.screenshot(path=str(ARTIFACTS / "review-edit.png"))
    page.locator("#boxes .box").nth(1).click()  # select the car
    page.keyboard.press("Delete")
    expect(page.locator("#boxes .box")).to_have_count(1)
    page.fill("#comment", "no car there")
    page.get_by_role("button", name="Save as approved").click()
    page.wait_for_url(f"{live_server.url}/projects/{project.pk}/review/")
    approved = Annotation.objects.get(frame=item.frame, status=Annotation.APPROVED)
    assert [b["class"] for b in payloads.as_payload(approved)["boxes"]] == ["person"]
    assert ReviewDecision.objects.get(item=item).decision == ReviewDecision.EDIT


def test_annotators_cannot_open_review_pages(page, login, live_server, users, project, disputed):
    item, _ = disputed
    login(users["annotator"])
    response = page.goto(f"{live_server.url}/projects/{project.pk}/review/{item.pk}/")
    assert response.status == 403
