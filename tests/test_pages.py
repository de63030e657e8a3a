"""What a person does on the pages, in a real browser."""
import re

import pytest
from playwright.sync_api import expect

from labeling.models import IngestJob, Sequence
from tests import media
from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_uploads_footage_and_watches_ingest_progress(celery_worker_app, live_server, login, users, project):
    page = login(users["admin"])
    page.click(f"text={project.dataset.name}")
    expect(page.get_by_role("heading", name=project.dataset.name)).to_be_visible()
    expect(page.get_by_text("No sequences yet.")).to_be_visible()

    page.set_input_files("input[name=file]", str(media.bikes_path()))
    page.fill("input[name=sequence_name]", "street")
    page.fill("input[name=stride]", "2")
    page.click("text=Upload and ingest")
    expect(page.get_by_text("bikes.mp4 uploaded; ingest is running.")).to_be_visible()

    row = page.locator("tr.job", has_text="bikes.mp4")
    expect(row).to_be_visible()
    expect(row.locator(".pill")).to_have_text("Done", timeout=90_000)  # htmx polling, no reload
    expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(row).to_contain_text("125 / 125 frames")
    card = page.locator(".seq", has_text="street")
    expect(card).to_contain_text("125 frames · 640×272 · 25 fps · h264")
    expect(card.locator("img")).to_have_js_property("naturalWidth", 320)  # the thumbnail loads
    page.screenshot(path=str(ARTIFACTS / "dataset-page.png"), full_page=True)
    assert Sequence.objects.get(name="street").frames.count() == 125

    card.locator("a").first.click()
    expect(page.get_by_role("heading", name=re.compile("street"))).to_be_visible()
    expect(page.locator(".frames img")).to_have_count(60)
    # every thumbnail served before the test ends (derived renditions are made on first view here)
    for img in page.locator(".frames img").all():
        expect(img).not_to_have_js_property("naturalWidth", 0, timeout=60_000)


def test_a_bad_upload_shows_its_error_on_the_page(celery_worker_app, live_server, login, users, project):
    page = login(users["admin"])
    page.goto(f"{live_server.url}/datasets/{project.dataset_id}/")
    page.set_input_files("input[name=file]", files=[{"name": "clip.mp4", "mimeType": "video/mp4",
                                                     "buffer": b"definitely not a video" * 100}])
    page.click("text=Upload and ingest")
    row = page.locator("tr.job", has_text="clip.mp4")
    expect(row.locator(".pill")).to_have_text("Failed", timeout=60_000)
    expect(row).to_contain_text("not a readable video")
    assert IngestJob.objects.get().status == IngestJob.FAILED


def test_annotator_sees_the_dataset_but_no_upload_form(live_server, login, users, project):
    page = login(users["annotator"])
    expect(page.get_by_text("Test project")).to_be_visible()
    page.click(f"text={project.dataset.name}")
    expect(page.get_by_text("Upload footage")).to_have_count(0)
    response = page.goto(f"{live_server.url}/datasets/{project.dataset_id + 1}/")  # another project's dataset
    assert response.status == 404


def test_wrong_password_is_refused_kindly(live_server, page, users):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ann")
    page.fill("#id_password", "wrong password")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("do not match")
