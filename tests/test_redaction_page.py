"""In Chromium: an annotator without raw access sees a redacted face on the labeling page; a QA
lead adds a redaction region on the redaction page and the derived frame changes. Real photos
(scikit-image's astronaut, NASA, public domain); OpenCV's Haar cascade judges whether a face shows."""
import io

import cv2
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from labeling.footage import blobstore, ingest
from labeling.models import AuditEvent, DerivedFrame, RedactionRegion
from tests import media
from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def faces_in(data: bytes) -> int:
    grey = cv2.cvtColor(np.array(Image.open(io.BytesIO(data)).convert("RGB")), cv2.COLOR_RGB2GRAY)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    return len(cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(40, 40)))


@pytest.fixture
def astronaut(project):
    from skimage import data

    out = io.BytesIO()
    Image.fromarray(data.astronaut()).save(out, "PNG")
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(media.zip_bytes({"a.png": out.getvalue()}),
                                                                         "photo.zip"), sequence_name="photo").pk)
    assert job.status == "done", job.message
    return job.sequence.frames.get()


def test_an_annotator_sees_the_face_redacted_and_a_qa_lead_adds_a_region(
        live_server, login, users, project, astronaut):
    with blobstore.open_blob(astronaut.image_name) as fh:
        raw = fh.read()
    assert faces_in(raw) >= 1  # the judge sees the face in the raw photo
    page = login(users["annotator"])
    page.get_by_role("link", name="Start labeling").click()
    expect(page.locator("#frame-title")).to_contain_text("photo · frame 0")
    served = page.request.get(live_server.url + page.locator("#frame-image").get_attribute("href")).body()
    assert served != raw and faces_in(served) == 0  # the labeling page shows the derived frame
    page.screenshot(path=str(ARTIFACTS / "labeling-redacted-face.png"))

    before = DerivedFrame.objects.get(frame=astronaut, current=True)
    qa_context = page.context.browser.new_context(viewport={"width": 1366, "height": 768})
    qa = qa_context.new_page()
    qa.goto(f"{live_server.url}/login/")
    qa.fill("#id_username", users["qa"].username)
    qa.fill("#id_password", "correct-horse-battery")
    qa.click("button[type=submit]")
    qa.wait_for_url(f"{live_server.url}/")
    qa.goto(f"{live_server.url}/frames/{astronaut.pk}/redaction/")
    expect(qa.locator("#derived-image")).to_have_attribute("data-sha256", before.sha256)
    expect(qa.locator("rect.region.detector")).not_to_have_count(0)  # the detector's face region
    svg = qa.locator("#redaction-stage").bounding_box()
    scale = svg["width"] / astronaut.width
    qa.mouse.move(svg["x"] + 134 * scale, svg["y"] + 333 * scale)  # the mission patch on the suit
    qa.mouse.down()
    qa.mouse.move(svg["x"] + 210 * scale, svg["y"] + 410 * scale, steps=5)
    qa.mouse.up()
    qa.fill("#region-reason", "insignia on the suit")
    qa.get_by_role("button", name="Add region").click()
    expect(qa.get_by_text("Region added")).to_be_visible()
    after = DerivedFrame.objects.get(frame=astronaut, current=True)
    assert after.sha256 != before.sha256 and DerivedFrame.objects.filter(frame=astronaut).count() == 2
    expect(qa.locator("#derived-image")).to_have_attribute("data-sha256", after.sha256)
    region = RedactionRegion.objects.get(source="person")
    assert (region.x, region.y, region.w, region.h) == pytest.approx((134, 333, 76, 77), abs=2)
    assert region.reason == "insignia on the suit" and region.created_by == users["qa"]
    pixels = np.array(Image.open(io.BytesIO(qa.request.get(
        live_server.url + qa.locator("#derived-image").get_attribute("href")).body())).convert("L"), dtype=float)
    original = np.array(Image.open(io.BytesIO(raw)).convert("L"), dtype=float)
    def detail(a):  # the fine detail left (edge energy)
        return cv2.Laplacian(a[338:405, 139:205], cv2.CV_64F).var()

    assert detail(pixels) < detail(original) / 10  # hidden now
    assert AuditEvent.objects.filter(verb="redaction.region.add").count() == 1
    qa.screenshot(path=str(ARTIFACTS / "redaction-page.png"), full_page=True)
    qa_context.close()
