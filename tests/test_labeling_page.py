"""An annotator labels real frames in Chromium: boxes drawn with the mouse, classes by shortcut,
tags, submit, tracks and interpolation; every submission lands in the database."""
import pytest
from playwright.sync_api import expect

from labeling.footage import ingest
from labeling.work import queue
from labeling.models import Annotation, AnnotationBox, ReviewItem
from tests import media
from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

W, H = 320, 240


@pytest.fixture
def frames(project):
    """Six real 320×240 images, ingested as one sequence."""
    archive = media.zip_bytes({f"f{i}.png": media.png_bytes(W, H, color=(40 * i, 90, 140)) for i in range(6)})
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(archive, "cam.zip"), sequence_name="cam").pk)
    assert job.status == "done"
    return list(job.sequence.frames.order_by("index"))


def to_screen(page, x, y):
    """Frame pixels → page pixels, for an SVG that fits the frame (xMidYMid meet)."""
    box = page.locator("#stage").bounding_box()
    scale = min(box["width"] / W, box["height"] / H)
    left = box["x"] + (box["width"] - W * scale) / 2
    top = box["y"] + (box["height"] - H * scale) / 2
    return left + x * scale, top + y * scale


def drag(page, start, end):
    page.mouse.move(*to_screen(page, *start))
    page.mouse.down()
    page.mouse.move(*to_screen(page, *end), steps=6)
    page.mouse.up()


def assignment_of(frame) -> int:
    """The lease id of the (one) annotation on `frame`."""
    return Annotation.objects.get(frame=frame).assignment_id


def open_labeling(login, users, project):
    page = login(users["annotator"])
    page.get_by_role("link", name="Start labeling").click()
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 0")
    expect(page.locator("#frame-image")).to_have_attribute("href", "/frames/" + page.locator("#labeler")
                                                           .get_attribute("data-frame-id") + "/original")
    return page


def test_draw_classify_tag_submit_and_get_the_next_frame(live_server, login, users, project, frames):
    page = open_labeling(login, users, project)
    drag(page, (40, 30), (140, 130))
    rect = page.locator("#boxes rect[data-class]")
    expect(rect).to_have_count(1)
    page.keyboard.press("2")  # the ontology's shortcut for "car"
    expect(rect).to_have_attribute("data-class", "car")
    page.keyboard.press("c")  # the "crowd" frame tag
    expect(page.locator("[data-tag=crowd]")).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=str(ARTIFACTS / "labeling-page.png"))
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/" in r.url and r.method == "POST" else None)
    page.keyboard.press("Enter")
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 1")  # no page reload
    expect(page.locator("#boxes rect[data-class]")).to_have_count(0)
    # one request per frame: the submission's answer brought the next frame
    assert [u.split("/api/")[1] for u in asked] == [f"assignments/{assignment_of(frames[0])}/submit/"]

    annotation = Annotation.objects.get(frame=frames[0])
    assert annotation.annotator == users["annotator"] and annotation.status == "submitted"
    saved = annotation.boxes.get()
    assert saved.label_class.key == "car"
    assert (saved.x, saved.y, saved.w, saved.h) == pytest.approx((40, 30, 100, 100), abs=1.5)
    assert list(annotation.tags.values_list("label_class__key", flat=True)) == ["crowd"]


def test_move_resize_delete_undo(live_server, login, users, project, frames):
    page = open_labeling(login, users, project)
    drag(page, (20, 20), (80, 80))
    drag(page, (50, 50), (150, 100))  # move it by (100, 50)
    rect = page.locator("#boxes rect[data-class]")
    assert float(rect.get_attribute("x")) == pytest.approx(120, abs=1.5)
    drag(page, (180, 130), (200, 150))  # the bottom-right handle: resize
    assert float(rect.get_attribute("width")) == pytest.approx(80, abs=1.5)
    page.keyboard.press("Delete")
    expect(rect).to_have_count(0)
    page.keyboard.press("Control+z")
    expect(page.locator("#boxes rect[data-class]")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator("#frame-title")).to_contain_text("frame 1")
    saved = AnnotationBox.objects.get()
    assert (saved.x, saved.y, saved.w, saved.h) == pytest.approx((120, 70, 80, 80), abs=1.5)


def test_a_track_across_two_frames_and_the_interpolated_box_between(live_server, login, users, project, frames):
    project.frame_stride = 4
    project.save()
    queue.sync_queue(project)
    page = open_labeling(login, users, project)
    drag(page, (10, 20), (50, 80))  # frame 0: x10 y20 w40 h60
    page.keyboard.press("Shift+N")  # it starts track #1
    expect(page.locator("#boxes rect[data-class]")).to_have_attribute("data-track", "1")
    page.keyboard.press("Enter")

    expect(page.locator("#frame-title")).to_contain_text("cam · frame 4")
    page.keyboard.press("Shift+C")  # copy the boxes of frame 0, with their track
    expect(page.locator("#boxes rect[data-track='1']")).to_have_count(1)
    drag(page, (30, 50), (130, 70))  # move the person by (100, 20): x110 y40
    page.keyboard.press("Enter")

    expect(page.locator("#frame-title")).to_contain_text("cam · frame 1")  # between the two keyframes
    interpolated = page.locator("#boxes g.interpolated rect[data-track='1']")
    expect(interpolated).to_have_count(1)
    assert float(interpolated.get_attribute("x")) == pytest.approx(10 + 100 / 4, abs=1.5)
    assert float(interpolated.get_attribute("y")) == pytest.approx(20 + 20 / 4, abs=1.5)
    page.screenshot(path=str(ARTIFACTS / "labeling-interpolated.png"))
    page.keyboard.press("Enter")  # accept it
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 5")  # stride 4: 0, 4, then 1, 5, then 2…

    on_frame_1 = AnnotationBox.objects.get(annotation__frame=frames[1])
    assert on_frame_1.track_id == 1
    assert (on_frame_1.x, on_frame_1.y, on_frame_1.w, on_frame_1.h) == pytest.approx((35, 25, 40, 60), abs=1.5)
    assert AnnotationBox.objects.get(annotation__frame=frames[4]).track_id == 1


def test_skip_with_a_reason_and_edit_a_submission(live_server, login, users, project, frames):
    page = open_labeling(login, users, project)
    page.keyboard.press("Shift+F")  # flag it for QA first
    page.fill("#flag-note", "is that a weapon?")
    page.get_by_role("button", name="Flag", exact=True).click()
    expect(page.locator("#status")).to_contain_text("Flagged")
    flagged = ReviewItem.objects.get(frame=frames[0])
    assert flagged.reason == ReviewItem.FLAGGED and "is that a weapon?" in flagged.note
    page.keyboard.press("Shift+S")
    page.fill("#skip-reason", "lens covered")
    page.get_by_role("button", name="Skip", exact=True).click()
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 1")
    drag(page, (10, 10), (60, 60))
    page.keyboard.press("Enter")
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 2")

    page.goto(f"{live_server.url}/")
    expect(page.get_by_text("1 frame labeled today.")).to_be_visible()
    page.get_by_role("link", name="Edit").click()
    expect(page.locator("#frame-title")).to_contain_text("your revision 1")
    expect(page.locator("#boxes rect[data-class]")).to_have_count(1)
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+ArrowRight")  # nudge 10 px
    page.keyboard.press("Enter")
    expect(page.locator("#frame-title")).to_contain_text("your revision 2")
    head = Annotation.objects.get(frame=frames[1], superseded_by__isnull=True)
    assert head.revision == 2 and head.boxes.get().x == pytest.approx(20, abs=1.5)
    assert Annotation.objects.get(frame=frames[1], revision=1).boxes.get().x == pytest.approx(10, abs=1.5)


def test_accept_adjust_and_accept_all_model_suggestions(live_server, login, users, project, frames):
    """The current detector's boxes are dashed suggestions; a click takes one, moving it makes it
    'adjusted', 'accept all above' takes those over the threshold; the rest are never stored."""
    from tests.test_suggestions import det, detector, scored

    project.blind_annotators = 0  # this test's only annotator is the first: let them see suggestions
    project.save()
    version = detector(project)
    scored(project, version, {frames[0]: [det(20, score=0.9, y=30, w=60, h=80), det(200, "car", 0.6, y=40, w=50, h=30),
                                          det(120, score=0.3, y=150, w=30, h=40)]})
    page = open_labeling(login, users, project)
    suggested = page.locator("#suggestions g.suggestion")
    expect(suggested).to_have_count(3)
    expect(page.locator("#suggest-count")).to_contain_text(f"model version {version.pk}")
    expect(page.locator("#suggestions text").first).to_contain_text("0.90")
    page.locator("#suggestions g.suggestion[data-score='0.9'] text").click()  # take the strongest
    expect(suggested).to_have_count(2)
    expect(page.locator("#boxes rect[data-class=person]")).to_have_count(1)
    drag(page, (50, 70), (60, 75))  # move it by (10, 5): the model's box, adjusted by a person
    page.fill("#suggest-threshold", "0.5")
    page.get_by_role("button", name="Accept all above").click()  # the car (0.6), not the weak person (0.3)
    expect(suggested).to_have_count(1)
    expect(page.locator("#boxes rect[data-class]")).to_have_count(2)
    page.screenshot(path=str(ARTIFACTS / "labeling-suggestions.png"))
    page.keyboard.press("Enter")
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 1")
    stored = {(b.label_class.key, b.source, b.model_version_id, round(b.x), round(b.y))
              for b in AnnotationBox.objects.filter(annotation__frame=frames[0]).select_related("label_class")}
    assert stored == {("person", "adjusted", version.pk, 30, 35), ("car", "suggestion", version.pk, 200, 40)}


def test_the_first_annotator_is_told_suggestions_are_withheld(live_server, login, users, project, frames):
    from tests.test_suggestions import det, detector, scored

    scored(project, detector(project), {frames[0]: [det(20)]})  # blind_annotators = 1 (the default)
    page = open_labeling(login, users, project)
    expect(page.locator("#suggest-withheld")).to_be_visible()
    expect(page.locator("#suggestions g.suggestion")).to_have_count(0)
    expect(page.locator("#suggest-controls")).to_be_hidden()


def test_first_frame_says_there_is_no_previous_frame_and_skip_buttons_have_distinct_names(
        live_server, login, users, project, frames):
    from ontology import services as ontology_services
    from ontology.models import LabelClass

    version = ontology_services.derive(project.ontology_version)
    ontology_services.add_class(version, key="moved", name="Vehicle moved", kind=LabelClass.CHANGE, shortcut="m")
    project.ontology_version = ontology_services.publish(version)
    project.save()
    page = open_labeling(login, users, project)
    expect(page.locator("#change-panel")).to_be_visible()
    expect(page.locator("#no-previous")).to_be_visible()
    expect(page.locator("#previous-thumb")).to_be_hidden()
    expect(page.get_by_role("button", name="Skip frame…")).to_have_count(1)
    expect(page.get_by_role("button", name="Skip check-in", include_hidden=True)).to_have_count(1)
    expect(page.get_by_role("button", name="Skip", exact=True, include_hidden=True)).to_have_count(1)  # the dialog's
    page.keyboard.press("Enter")  # frame 4 (stride): it has a previous frame
    expect(page.locator("#frame-title")).not_to_contain_text("frame 0")
    expect(page.locator("#previous-thumb")).to_be_visible()
    expect(page.locator("#no-previous")).to_be_hidden()


def test_report_a_model_incident_on_the_frame_on_screen(live_server, login, users, project, frames):
    """The incident dialog files against the current detector and the frame the annotator is on
    (after a submit, the next frame, not the one the page opened on); typing the note does not
    fire the page's shortcuts; a note is required."""
    from labeling.models import Incident
    from tests.test_suggestions import det, detector, scored

    project.blind_annotators = 0
    project.save()
    version = detector(project)
    scored(project, version, {frames[0]: [det(20, score=0.95, y=30, w=60, h=80)]})
    page = open_labeling(login, users, project)
    page.get_by_test_id("report-incident").click()
    dialog = page.locator("#incident-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Send to QA").click()  # no note: the browser's own check stops it
    assert Incident.objects.count() == 0
    dialog.locator("select[name=kind]").select_option("false_detection")
    dialog.locator("textarea[name=note]").fill("calls the crate a person, confidently")
    expect(page.locator("[data-tag=crowd]")).to_have_attribute("aria-pressed", "false")  # 'c' typed, not a tag
    page.screenshot(path=str(ARTIFACTS / "labeling-incident.png"))
    dialog.get_by_role("button", name="Send to QA").click()
    expect(page.locator("#incident-status")).to_contain_text("sent to QA")
    expect(dialog).to_be_hidden()
    first = Incident.objects.get()
    assert (first.model_version, first.frame_id, first.filed_by, first.kind) == (
        version, frames[0].pk, users["annotator"], "false_detection")

    page.keyboard.press("Enter")  # submit (empty): the next frame
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 1")
    page.get_by_test_id("report-incident").click()
    dialog.locator("select[name=kind]").select_option("missed_object")
    dialog.locator("textarea[name=note]").fill("nothing found on the truck")
    dialog.get_by_role("button", name="Send to QA").click()
    expect(page.locator("#incident-status")).to_contain_text("sent to QA")
    assert Incident.objects.order_by("-pk").first().frame_id == frames[1].pk
