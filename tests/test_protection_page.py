"""Annotator protection in Chromium: a sensitive frame arrives blurred behind a content warning,
hold-to-reveal shows the original and logs an exposure with its duration, the original's URL
answers 403 without a reveal of your own, the cap and withdrawn consent stop sensitive frames,
and the break screen pauses the queue. Screenshots of each screen go to test-artifacts/."""
import pytest
from playwright.sync_api import expect

from labeling.footage import ingest
from labeling.models import Exposure, ProtectionPolicy
from labeling.protection import flags, policy as policies, state as states, wellbeing
from tests import media
from tests.conftest import ARTIFACTS
from tests.test_protection import patterned_png

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def footage(project):
    """Four real 320×240 frames; frames 0 and 1 marked sensitive by the uploader."""
    archive = media.zip_bytes({f"f{i}.png": patterned_png(320, 240, i) for i in range(4)})
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(archive, "cam.zip"), sequence_name="cam").pk)
    flags.mark_sequence(job.sequence, None, first_index=0, last_index=1)
    return list(job.sequence.frames.order_by("index"))


def policy(project, **values):
    made = ProtectionPolicy(project=project, **values)
    policies.save_policy(made)


def opt_in(page, live_server):
    page.goto(f"{live_server.url}/protection/")
    page.get_by_role("button", name="I have read this and opt in to sensitive frames").click()
    expect(page.get_by_test_id("consent-state")).to_contain_text("You have opted in")


def start(page, live_server, project):
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")


def test_blurred_warning_hold_to_reveal_and_403_without_a_reveal(page, login, live_server, users, project, footage):
    annotator = users["annotator"]
    login(annotator)
    opt_in(page, live_server)
    page.screenshot(path=str(ARTIFACTS / "protection-me.png"), full_page=True)
    start(page, live_server, project)
    warning = page.locator("#warning-dialog")
    expect(warning).to_be_visible()  # the first sensitive frame of the session
    page.screenshot(path=str(ARTIFACTS / "protection-warning.png"))
    page.get_by_role("button", name="I understand, continue").click()
    checkin = page.locator("#checkin-dialog")
    expect(checkin).to_be_visible()  # how are you doing, at the start (optional)
    page.screenshot(path=str(ARTIFACTS / "protection-checkin.png"))
    checkin.get_by_role("button", name="4").click()
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 0")
    image = page.locator("#frame-image")
    expect(image).to_have_attribute("href", f"/frames/{footage[0].pk}/preview?p={project.pk}")  # blurred
    expect(page.locator("#sensitive-badge")).to_have_text("Sensitive · blurred")
    page.screenshot(path=str(ARTIFACTS / "protection-blurred.png"))

    reveal = page.locator("#reveal")
    box = reveal.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    expect(page.locator("#labeler")).to_have_attribute("data-revealed", "true")
    revealed_url = image.get_attribute("href")
    assert revealed_url.startswith(f"/frames/{footage[0].pk}/original?reveal=")
    page.wait_for_timeout(600)
    page.screenshot(path=str(ARTIFACTS / "protection-revealed.png"))
    page.mouse.up()
    expect(page.locator("#labeler")).to_have_attribute("data-revealed", "false")
    expect(image).to_have_attribute("href", f"/frames/{footage[0].pk}/preview?p={project.pk}")
    reveal_row = Exposure.objects.get(user=annotator, kind=Exposure.REVEAL)
    for _ in range(50):  # the page reports the end of the reveal
        reveal_row.refresh_from_db()
        if reveal_row.duration_s is not None:
            break
        page.wait_for_timeout(100)
    assert 0.4 <= reveal_row.duration_s < 10
    assert wellbeing.mine(annotator)[0].score == 4

    # the original without a reveal: 403; the reveal URL served the page once, and a replay gets nothing
    assert page.request.get(f"{live_server.url}/frames/{footage[0].pk}/original").status == 403
    reveal_row.refresh_from_db()
    assert reveal_row.served_at is not None and reveal_row.served_at <= reveal_row.ended_at
    assert page.request.get(f"{live_server.url}{revealed_url}").status == 403
    other = page.context.browser.new_context()
    other_page = other.new_page()
    other_page.goto(f"{live_server.url}/login/")
    other_page.fill("#id_username", users["qa"].username)
    other_page.fill("#id_password", "correct-horse-battery")
    other_page.click("button[type=submit]")
    other_page.wait_for_url(f"{live_server.url}/")
    assert other_page.request.get(f"{live_server.url}{revealed_url}").status == 403  # another person's reveal
    other.close()

    page.keyboard.press("Enter")  # submit: the next frame is sensitive too, no second warning
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 1")
    expect(warning).to_be_hidden()
    page.keyboard.press("Shift+R")  # toggle
    expect(page.locator("#labeler")).to_have_attribute("data-revealed", "true")
    page.keyboard.press("Shift+R")
    expect(page.locator("#labeler")).to_have_attribute("data-revealed", "false")
    assert Exposure.objects.filter(user=annotator, kind=Exposure.REVEAL).count() == 2


def test_after_the_cap_the_next_frame_is_plain_and_then_a_kind_message(page, login, live_server, users, project,
                                                                    footage):
    policy(project, daily_sensitive_frames=1)
    states.set_consent(users["annotator"], True, policies.consent_version())
    login(users["annotator"])
    start(page, live_server, project)
    page.get_by_role("button", name="I understand, continue").click()
    page.locator("#checkin-dialog").get_by_role("button", name="Skip check-in").click()
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 0")
    page.keyboard.press("Enter")
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 2")  # frame 1 is sensitive: over the cap
    expect(page.locator("#sensitive-badge")).to_be_hidden()
    page.keyboard.press("Enter")
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 3")
    page.keyboard.press("Enter")
    expect(page.locator("#pause")).to_be_visible()
    expect(page.locator("#pause-title")).to_have_text("That's enough for today")
    page.screenshot(path=str(ARTIFACTS / "protection-cap.png"))


def test_withdrawing_consent_stops_sensitive_frames(page, login, live_server, users, project, footage):
    login(users["annotator"])
    opt_in(page, live_server)
    page.get_by_role("button", name="Withdraw my consent").click()
    expect(page.get_by_test_id("consent-state")).to_contain_text("not opted in")
    start(page, live_server, project)
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 2")
    expect(page.locator("#warning-dialog")).to_be_hidden()
    page.keyboard.press("Enter")  # Enter in the check-in skips it (never a score by accident)
    expect(page.locator("#checkin-dialog")).to_be_hidden()
    page.keyboard.press("Enter")
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 3")
    page.keyboard.press("Enter")
    expect(page.locator("#pause-title")).to_have_text("Graphic content ahead")


def test_the_break_screen_pauses_the_queue(page, login, live_server, users, project, footage):
    policy(project, break_after_sensitive=1, break_minutes=1)
    states.set_consent(users["annotator"], True, policies.consent_version())
    login(users["annotator"])
    start(page, live_server, project)
    page.get_by_role("button", name="I understand, continue").click()
    page.locator("#checkin-dialog").get_by_role("button", name="Skip check-in").click()
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 0")
    page.keyboard.press("Enter")
    expect(page.locator("#pause")).to_be_visible()
    expect(page.locator("#pause-title")).to_have_text("Time for a break")
    expect(page.locator("#pause-countdown")).to_contain_text("left")
    page.screenshot(path=str(ARTIFACTS / "protection-break.png"))
    # the queue itself refuses frames during the break, whatever the page does
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(f"{live_server.url}/api/projects/{project.pk}/next/", headers={"X-CSRFToken": csrf})
    assert response.status == 200 and response.json()["withheld"]["kind"] == "break"


def test_the_lead_sees_the_team_page_and_a_blurred_review(page, login, live_server, users, project, footage):
    states.set_consent(users["annotator"], True, policies.consent_version())
    from labeling.work import queue

    queue.next_assignment(project, users["annotator"])
    login(users["qa"])
    page.goto(f"{live_server.url}/projects/{project.pk}/protection/")
    expect(page.get_by_test_id("team-exposure")).to_contain_text("1 of")
    expect(page.get_by_test_id("wellbeing")).to_contain_text("Hidden")
    page.screenshot(path=str(ARTIFACTS / "protection-team.png"), full_page=True)
    page.goto(f"{live_server.url}/sequences/{footage[0].sequence_id}/")
    thumbs = page.locator("ul.frames img")
    expect(thumbs).to_have_count(4)
    page.screenshot(path=str(ARTIFACTS / "protection-sequence.png"), full_page=True)
