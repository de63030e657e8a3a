"""Drone footage on the labeling page, in Chromium: the flight readout of a frame with KLV
telemetry, and a thermal frame whose palette the annotator changes (saved for them, the image
follows)."""
import pytest
from playwright.sync_api import expect

from labeling.footage import ingest
from labeling.footage.telemetry import mpegts, sample
from labeling.models import ProtectionState
from tests import media
from tests.conftest import ARTIFACTS
from tests.test_thermal_ingest import thermal_frames, zip_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_flight_readout_shows_the_frame_s_telemetry(live_server, login, users, project, tmp_path):
    path = tmp_path / "flight.ts"
    mpegts.mux_with_klv(media.bikes_path(), path, sample.flight, max_frames=6)
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(path), sequence_name="flight").pk)
    assert job.status == "done", job.message
    page = login(users["annotator"])  # no raw access: the coarse metadata level of the dataset
    page.get_by_role("link", name="Start labeling").click()
    flight = page.get_by_test_id("flight")
    expect(flight).to_be_visible()
    height = round(sample.EXAMPLE["sensor_true_altitude"] - sample.EXAMPLE["frame_center_elevation"])
    expect(flight).to_contain_text(f"{height} m above ground")
    expect(flight).to_contain_text("heading 16")  # 159.97° and on, 3° a second
    expect(flight).to_contain_text("2009-01-12")
    expect(flight).not_to_contain_text("22:08")  # coarse: the date, not the time
    expect(flight).to_contain_text("60.18, 128.43")  # coarse: about a kilometre
    expect(page.get_by_test_id("thermal-palette")).to_be_hidden()
    with page.expect_response(lambda r: "/frames/" in r.url and r.request.resource_type == "image") as shown:
        page.reload()  # the first view of a frame renders its derived rendition: wait for the image itself
    assert shown.value.status == 200
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(ARTIFACTS / "drone-readout.png"))


def test_an_annotator_colours_thermal_frames_with_a_palette(live_server, login, users, project):
    archive = zip_of(thermal_frames(4, width=320, height=240))
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(archive, "thermal.zip"),
                                           sequence_name="thermal").pk)
    assert job.status == "done", job.message
    page = login(users["annotator"])
    page.get_by_role("link", name="Start labeling").click()
    select = page.get_by_test_id("thermal-palette")
    expect(select).to_be_visible()
    expect(select).to_have_value("white-hot")
    with page.expect_response(lambda r: "palette=ironbow" in r.url and "/frames/" in r.url) as answer:
        select.select_option("ironbow")
    assert answer.value.status == 200 and answer.value.headers["content-type"].startswith("image/")
    assert "palette=ironbow" in page.locator("#frame-image").get_attribute("href")
    page.screenshot(path=str(ARTIFACTS / "thermal-ironbow.png"))
    assert ProtectionState.objects.get(user=users["annotator"]).thermal_palette == "ironbow"
    page.reload()
    expect(page.get_by_test_id("thermal-palette")).to_have_value("ironbow")  # kept for the person
