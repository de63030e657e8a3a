"""Effort: how many input actions a person spends on one 100-frame track, by hand and with
propagation, to the same standard (every frame's box at IoU ≥ 0.7 against the truth).

Set-up: real footage with a known truth (fixtures/known_paths.py: a 64×96 piece of bikes.mp4's
frame 200 moving along a known path, growing and shrinking, over the clip's first 101 real
frames), ingested as one 101-frame segment of a segment project with two annotators per segment;
aerie under gunicorn with a Celery worker; Debian's Chromium at 1366×768. A scripted annotator
works the segment page; every key press, click and drag it makes is counted.

- by hand (the first annotator): draws the box on frame 0, then a keyframe every 10 frames (">"
  to step ten, then a drag to move the box and one on its corner to resize it where it changed);
  the frames between are interpolated; then every frame whose box is below IoU 0.7 is corrected
  (a click on the timeline to go there, a move and a resize); Enter submits.
- assisted (the second annotator): draws the box on frame 0 and propagates it forward (Shift+T);
  then, while a frame's box is below IoU 0.7, goes to the first such frame (a click on the
  timeline), corrects it (a move and a resize) and propagates again from there; Enter submits.
  The project has no model, so propagation is OpenCV's CSRT and no suggestion is offered (with a
  current detector, the propagation is steered by its boxes and suggested tracks may start it).

Prints:
  BENCH effort_actions_manual     actions by hand
  BENCH effort_actions_assisted   actions with propagation
  BENCH effort_ratio              assisted / manual (goal ≤ 0.33)
  BENCH effort_corrections_assisted  frames corrected after propagation
  BENCH effort_iou_manual, effort_iou_assisted  mean IoU of the submitted boxes against the truth
"""
from __future__ import annotations

from _setup import django_environment, emit  # first: it fixes the import path

import io  # noqa: E402
import zipfile  # noqa: E402

import numpy as np  # noqa: E402

from _browser import PASSWORD, segment_project, served, signed_in, wait_until  # noqa: E402

FRAMES = 101
W, H = 640, 272
GOOD = 0.7


def iou(a, b) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw, ih = max(0.0, min(ax2, bx2) - max(a[0], b[0])), max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class Annotator:
    """A scripted person on the segment page; `actions` counts what they did."""

    def __init__(self, page, truth):
        self.page, self.truth, self.actions = page, truth, 0

    def key(self, key: str) -> None:
        self.actions += 1
        self.page.keyboard.press(key)

    def screen(self, x: float, y: float) -> tuple[float, float]:
        box = self.page.locator("#stage").bounding_box()
        scale = min(box["width"] / W, box["height"] / H)
        return (box["x"] + (box["width"] - W * scale) / 2 + x * scale,
                box["y"] + (box["height"] - H * scale) / 2 + y * scale)

    def drag(self, start, end) -> None:
        self.actions += 1
        self.page.mouse.move(*self.screen(*start))
        self.page.mouse.down()
        self.page.mouse.move(*self.screen(*end), steps=5)
        self.page.mouse.up()

    def seek(self, frame: int) -> None:  # one click on the timeline
        self.actions += 1
        box = self.page.locator("#timeline").bounding_box()
        left, right = 76, box["width"] - 10
        self.page.mouse.click(box["x"] + left + (right - left) * frame / (FRAMES - 1), box["y"] + 8)
        self.page.wait_for_selector(f"#stage[data-frame='{frame}']")

    def frame(self) -> int:
        return int(self.page.locator("#stage").get_attribute("data-frame"))

    def boxes(self) -> list:
        return self.page.evaluate("window.__segmentBoxes(window.__segment.selected)")

    def draw(self, frame: int) -> None:
        x, y, w, h = self.truth[frame]
        self.drag((x, y), (x + w, y + h))

    def correct(self, frame: int) -> None:
        """Move the box's corner onto the truth's, then resize it by its other corner."""
        b = self.boxes()[frame]
        x, y, w, h = self.truth[frame]
        if abs(b["x"] - x) > 1 or abs(b["y"] - y) > 1:
            grab = (b["x"] + b["w"] / 2, b["y"] + b["h"] / 2)
            self.drag(grab, (grab[0] + x - b["x"], grab[1] + y - b["y"]))
        if abs(b["w"] - w) > 1 or abs(b["h"] - h) > 1:
            self.drag((x + b["w"], y + b["h"]), (x + w, y + h))

    def first_bad(self, after: int = -1) -> int | None:
        for f, b in enumerate(self.boxes()):
            if f > after and (b is None or iou((b["x"], b["y"], b["w"], b["h"]), self.truth[f]) < GOOD):
                return f
        return None

    def propagate(self) -> None:
        done = int(self.page.locator("#segment").get_attribute("data-propagated") or 0)
        self.key("Shift+T")
        wait_until(self.page, f"Number(document.getElementById('segment').dataset.propagated || 0) > {done}",
                   timeout=120)


def by_hand(person: Annotator) -> None:
    person.key("3")  # the class: bicycle
    person.draw(0)
    for k in range(10, FRAMES, 10):
        person.key(">")
        person.page.wait_for_selector(f"#stage[data-frame='{k}']")
        person.correct(k)
    bad = person.first_bad()
    while bad is not None:
        person.seek(bad)
        person.correct(bad)
        bad = person.first_bad(bad)
    person.key("Enter")


def assisted(person: Annotator) -> int:
    person.key("3")
    person.draw(0)
    person.propagate()
    corrections = 0
    bad = person.first_bad()
    while bad is not None and corrections < 40:
        person.seek(bad)
        person.correct(bad)
        corrections += 1
        if bad < FRAMES - 1:
            person.propagate()
        bad = person.first_bad(bad)
    person.key("Enter")
    return corrections


def main() -> None:
    from PIL import Image

    from fixtures.known_paths import bikes_case

    frames, truth = bikes_case(FRAMES)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for i, frame in enumerate(frames):
            out = io.BytesIO()
            Image.fromarray(frame).save(out, "PNG")
            zf.writestr(f"f{i:03d}.png", out.getvalue())
    with django_environment():
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        from labeling.models import AnnotationBox, Membership
        from labeling.protection import policy as protection_policy
        from labeling.protection import state as protection_state

        project, first, _ = segment_project("effort", archive.getvalue(), filename="path.zip", segment_length=FRAMES,
                                            overlap=2, blind_annotators=0)
        second = get_user_model().objects.create_user("bench-annotator-2", password=PASSWORD)
        second.groups.add(Group.objects.get(name="annotator"))
        protection_state.set_consent(second, True, protection_policy.consent_version())
        Membership.objects.create(project=project, user=second)
        results = {}
        with served(worker=True) as base:
            for name, who, how in (("manual", first, by_hand), ("assisted", second, assisted)):
                with signed_in(base, who.username) as page:
                    page.goto(f"{base}/projects/{project.pk}/label/")
                    page.wait_for_selector("#playhead[data-frame='0']")
                    person = Annotator(page, truth)
                    extra = how(person)
                    page.wait_for_selector("#done:not([hidden])", timeout=30_000)
                    results[name] = (person.actions, extra)
        quality = {}
        for name, who in (("manual", first), ("assisted", second)):
            stored = {b.annotation.frame.index: (b.x, b.y, b.w, b.h) for b in AnnotationBox.objects.filter(
                annotation__annotator=who, outside=False).select_related("annotation__frame")}
            quality[name] = float(np.mean([iou(stored[f], truth[f]) if f in stored else 0.0 for f in range(FRAMES)]))
    manual, assisted_actions = results["manual"][0], results["assisted"][0]
    emit("effort_frames", FRAMES)
    emit("effort_actions_manual", manual)
    emit("effort_actions_assisted", assisted_actions)
    emit("effort_ratio", assisted_actions / manual)
    emit("effort_corrections_assisted", results["assisted"][1])
    emit("effort_iou_manual", quality["manual"])
    emit("effort_iou_assisted", quality["assisted"])


if __name__ == "__main__":
    main()
