"""The segment page in Chromium: a 30-frame segment of real footage with a known truth (a piece of
a real frame moving over the bikes clip, fixtures/known_paths.py). Play, seek and step on the
timeline; accept a suggested track; draw a box, propagate it and correct one frame; split a track;
an interval tag; submit and find the tracks in the database."""
import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from fixtures.known_paths import bikes_case
from labeling.footage import ingest
from labeling.models import AnnotationBox, AnnotationTag
from labeling.work import projects
from tests import media
from tests.conftest import ARTIFACTS
from tests.test_suggestions import detector, scored

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FRAMES = 30
W, H = 640, 272


@pytest.fixture(scope="module")
def known():
    return bikes_case(FRAMES)


@pytest.fixture
def segment_project(project, users, known):
    frames, truth = known
    archive = {}
    for i, frame in enumerate(frames):
        out = io.BytesIO()
        Image.fromarray(frame).save(out, "PNG")
        archive[f"f{i:03d}.png"] = out.getvalue()
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(media.zip_bytes(archive), "path.zip"),
                                           sequence_name="path", enqueue=False).pk)
    assert job.status == "done", job.message
    project.work_unit, project.segment_length, project.segment_shared, project.blind_annotators = "segment", FRAMES, 5, 0
    projects.save_project(project, users["admin"])
    stored = list(job.sequence.frames.order_by("index"))
    return project, stored, truth


def open_segment(login, users, project):
    page = login(users["annotator"])
    page.set_viewport_size({"width": 1366, "height": 768})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(page.url.rstrip("/") + f"/projects/{project.pk}/label/")
    expect(page.locator("#frame-title")).to_contain_text("path · segment 1 · frames 0–29")
    page.wait_for_timeout(300)
    assert not errors, errors
    expect(page.locator("#playhead")).to_have_attribute("data-frame", "0")
    return page


def to_screen(page, x, y):
    box = page.locator("#stage").bounding_box()
    scale = min(box["width"] / W, box["height"] / H)
    return (box["x"] + (box["width"] - W * scale) / 2 + x * scale, box["y"] + (box["height"] - H * scale) / 2 + y * scale)


def drag(page, start, end):
    page.mouse.move(*to_screen(page, *start))
    page.mouse.down()
    page.mouse.move(*to_screen(page, *end), steps=6)
    page.mouse.up()


def playhead(page) -> int:
    return int(page.locator("#playhead").get_attribute("data-frame"))


def test_play_seek_and_step_on_the_timeline(live_server, login, users, segment_project):
    project, _, _ = segment_project
    page = open_segment(login, users, project)
    page.keyboard.press(".")
    expect(page.locator("#playhead")).to_have_attribute("data-frame", "1")
    page.keyboard.press(">")
    expect(page.locator("#playhead")).to_have_attribute("data-frame", "11")
    page.keyboard.press(",")
    expect(page.locator("#stage")).to_have_attribute("data-frame", "10")
    timeline = page.locator("#timeline").bounding_box()
    left, right = 76, timeline["width"] - 10  # the lane labels, the right margin (segment_timeline.js)
    page.mouse.click(timeline["x"] + left + (right - left) * 20 / 29, timeline["y"] + 10)
    expect(page.locator("#playhead")).to_have_attribute("data-frame", "20")
    expect(page.locator("#frame-image")).to_have_attribute("href", page.evaluate(
        "window.__segmentPlayer.url(20)"))
    page.keyboard.press("Home")
    page.keyboard.press("`")  # play to the end
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "false", timeout=10_000)
    assert playhead(page) == 29
    played = page.evaluate("window.__segmentPlayer.stats.playedFrames")
    assert played == 29  # every frame painted in turn, none skipped


def test_label_a_segment_with_a_suggestion_propagation_a_correction_a_split_and_a_tag(
        live_server, login, users, segment_project):
    project, stored, truth = segment_project
    version = detector(project)
    # the detector found the moving object on every frame, and a parked car on the first ten
    scored(project, version, {f: [{"class": "car", "score": 0.9, "x": truth[f.index][0], "y": truth[f.index][1],
                                   "w": truth[f.index][2], "h": truth[f.index][3]}]
                              + ([{"class": "truck", "score": 0.3, "x": 500, "y": 150, "w": 60, "h": 40}]
                                 if f.index < 10 else []) for f in stored})
    page = open_segment(login, users, project)
    expect(page.locator("#suggestions g.suggestion")).to_have_count(2)
    expect(page.locator("#suggest-count")).to_contain_text(f"model version {version.pk}")
    page.locator("#suggestions g.suggestion text").filter(has_text="0.90").click()  # take the moving car
    expect(page.locator("#tracks .track-row")).to_have_count(1)
    expect(page.locator("#suggestions g.suggestion")).to_have_count(1)
    page.keyboard.press("Shift+D")  # not the truck
    expect(page.locator("#suggestions g.suggestion")).to_have_count(0)

    # a person the model did not see: drawn on frame 2, propagated forward by the tracker
    page.keyboard.press(".")
    page.keyboard.press(".")
    page.keyboard.press("Escape")  # nothing selected: the class key sets the class for new boxes
    page.keyboard.press("1")  # person
    expect(page.locator("#playhead")).to_have_attribute("data-frame", "2")  # a box lands on the frame shown
    drag(page, (40, 40), (90, 140))
    expect(page.locator("#tracks .track-row")).to_have_count(2)
    page.keyboard.press("Shift+T")
    expect(page.locator("#status")).to_contain_text("Propagated", timeout=30_000)
    expect(page.locator("#timeline [data-track='2'] .tl-key.propagated")).not_to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "segment-page.png"))

    # correct frame 15 of the person (now a keyframe), split the car at 20, tag frames 5–10
    page.locator("#timeline").click(position={"x": 5, "y": 5})  # (seeks to the first frame)
    page.keyboard.press(">")
    page.keyboard.press(">")
    page.keyboard.press("<")
    page.keyboard.press(".")
    page.keyboard.press(".")
    page.keyboard.press(".")
    page.keyboard.press(".")
    page.keyboard.press(".")
    expect(page.locator("#playhead")).to_have_attribute("data-frame", "15")
    person = page.locator("#boxes g[data-uid='t2'] rect").first
    x, y = float(person.get_attribute("x")), float(person.get_attribute("y"))
    drag(page, (x + 10, y + 10), (x + 30, y + 20))  # moved by (20, 10)
    page.locator("#tracks .track-row[data-track='1'] .pick").click()
    page.keyboard.press("End")
    page.keyboard.press("<")
    page.keyboard.press(",")
    expect(page.locator("#playhead")).to_have_attribute("data-frame", "18")
    page.keyboard.press(".")
    page.keyboard.press(".")
    page.keyboard.press("Shift+X")
    expect(page.locator("#tracks .track-row")).to_have_count(3)
    page.keyboard.press("Home")
    page.keyboard.press(".")
    page.keyboard.press(".")
    page.keyboard.press(".")
    page.keyboard.press(".")
    page.keyboard.press(".")
    page.keyboard.press("c")  # the crowd tag from frame 5
    page.keyboard.press(">")
    expect(page.locator("#playhead")).to_have_attribute("data-frame", "15")
    page.keyboard.press("Shift+E")  # … extended to frame 15
    expect(page.locator("#tag-list li .pick")).to_have_text("Crowd: frames 5–15")
    page.screenshot(path=str(ARTIFACTS / "segment-page-tracks.png"))
    page.keyboard.press("Enter")
    expect(page.locator("#done-text")).to_contain_text("Nothing left", timeout=10_000)

    boxes = AnnotationBox.objects.filter(annotation__frame__sequence=stored[0].sequence, outside=False).select_related(
        "annotation__frame", "label_class")
    by_track = {}
    for b in boxes:
        by_track.setdefault(b.track_id, {})[b.annotation.frame.index] = b
    assert set(by_track) == {1, 2, 3}
    car, person, car_after = by_track[1], by_track[2], by_track[3]
    assert set(car) == set(range(0, 20)) and set(car_after) == set(range(20, 30))  # split at 20
    assert AnnotationBox.objects.get(track_id=1, outside=True).annotation.frame.index == 20  # it leaves there
    assert car[0].source == "suggestion" and car[0].model_version_id == version.pk and car[0].keyframe
    assert car[0].label_class.key == "car" and person[2].label_class.key == "person"
    assert min(person) == 2 and person[2].source == "drawn" and person[2].keyframe
    # the corrected frame: a keyframe, the detector-steered proposal adjusted by a person
    assert person[15].source == "adjusted" and person[15].model_version_id == version.pk and person[15].keyframe
    assert {person[i].source for i in range(3, 15)} == {"propagated"}
    assert (person[15].x, person[15].y) == pytest.approx((x + 20, y + 10), abs=1.5)
    tagged = sorted(AnnotationTag.objects.filter(label_class__key="crowd").values_list(
        "annotation__frame__index", flat=True))
    assert tagged == list(range(5, 16))


def test_interpolation_occluded_outside_and_merge(live_server, login, users, segment_project):
    project, stored, _ = segment_project
    page = open_segment(login, users, project)
    page.keyboard.press("3")  # truck
    drag(page, (100, 50), (160, 110))  # track 1 on frame 0
    page.keyboard.press(">")
    expect(page.locator("#playhead")).to_have_attribute("data-frame", "10")
    drag(page, (130, 80), (230, 120))  # moved by (100, 40): a keyframe on frame 10
    halfway = page.evaluate("window.__segmentBoxes(1)[5]")
    assert (halfway["x"], halfway["y"], halfway["keyframe"]) == (pytest.approx(150, abs=1.5), pytest.approx(70, abs=1.5),
                                                                 False)
    page.keyboard.press(".")
    page.keyboard.press(".")
    page.keyboard.press("Shift+Q")  # occluded from frame 12
    page.keyboard.press("End")
    page.keyboard.press("<")
    expect(page.locator("#playhead")).to_have_attribute("data-frame", "19")
    page.keyboard.press(".")
    page.keyboard.press("Shift+O")  # it leaves the view at frame 20
    expect(page.locator("#timeline [data-track='1'] .tl-outside-mark")).to_have_count(1)
    page.keyboard.press(".")
    page.keyboard.press(".")
    page.keyboard.press("Escape")
    expect(page.locator("#playhead")).to_have_attribute("data-frame", "22")  # a box lands on the frame shown
    drag(page, (300, 60), (340, 120))  # frame 22: a new track, the same truck come back
    expect(page.locator("#tracks .track-row")).to_have_count(2)
    page.locator("#tracks .track-row[data-track='1'] .pick").click()
    page.locator("#tracks .track-row[data-track='2'] .pick").click()
    page.keyboard.press("Shift+M")  # track 2 is track 1 again
    expect(page.locator("#tracks .track-row")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator("#done-text")).to_contain_text("Nothing left", timeout=10_000)
    rows = {b.annotation.frame.index: b for b in AnnotationBox.objects.filter(
        annotation__frame__sequence=stored[0].sequence).select_related("annotation__frame")}
    assert {b.track_id for b in rows.values()} == {1}
    inside = sorted(i for i, b in rows.items() if not b.outside)
    assert inside == list(range(0, 20)) + list(range(22, 30))
    assert rows[20].outside and rows[0].keyframe and rows[10].keyframe and rows[22].keyframe and not rows[5].keyframe
    assert [i for i in inside if rows[i].occluded] == list(range(12, 20))
