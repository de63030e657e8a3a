"""The demo's labeled history: the stand-in annotators (labeling.demo.standins) work the frame
project's queue as people do — each takes their next frame through the queue's lease and submits
through `labeling.work.submissions` — so agreement runs on every frame they both finish:
frames where they agree get an approved consensus, frames where they disagree open review
items, and their answers on the two gold frames are checked.

The quality checks run in this process while the history is written (Celery eager for the
duration: the outbox sends each check inline, through the same task a worker would run), and
`frame_scoring.catch_up` afterwards scores anything a check missed. Resumable and idempotent:
each stand-in labels until they have `FRAMES` submissions in the project; a second run finds
nothing left to do."""
from __future__ import annotations

import logging
import random
from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from labeling.demo import standins
from labeling.models import Assignment, Frame, GoldFrame, Membership, Project, QueueItem
from labeling.quality import frame_scoring, gold
from labeling.sampling import images
from labeling.work import policies, projects, queue, submissions

#: frames each stand-in submits (gold frames included)
FRAMES = 36
#: gold frames QA marks (with the detector's own boxes as the answer), at these queue positions
GOLD_AT = (FRAMES + 6, FRAMES + 14)
SEED = 2009


def ensure_standins(project: Project, admin) -> list:
    """The stand-in users (annotators who cannot sign in), members of `project`."""
    User = get_user_model()
    out = []
    for s in standins.STANDINS:
        first, last = s.full_name.split(" ", 1)
        user, created = User.objects.get_or_create(
            username=s.username, defaults={"first_name": first, "last_name": last,
                                           "email": f"{s.username}@example.org"})
        if created:
            user.set_unusable_password()  # a stand-in labels through load_demo only
            user.save()
        user.groups.add(Group.objects.get(name="annotator"))
        if not Membership.objects.filter(project=project, user=user).exists():
            projects.add_member(project, user, admin)
        out.append((s, user))
    return out


@contextmanager
def checks_inline(seed: int = SEED):
    """Celery eager while the history is written (the outbox sends each quality check inline,
    nothing leaves for a broker), and the gold policy's draws seeded, so that the same gold
    frames come at the same points on every machine."""
    from config.celery import app

    eager = app.conf.task_always_eager
    trace = logging.getLogger("celery.app.trace")  # one "Task ... succeeded" line per check: noise here
    level = trace.level
    trace.setLevel(logging.WARNING)
    golds = [p for p in policies.registered() if isinstance(p, gold.GoldPolicy)]
    rngs = [p.rng for p in golds]
    app.conf.task_always_eager = True
    for p in golds:
        p.rng = random.Random(seed)
    try:
        yield
    finally:
        app.conf.task_always_eager = eager
        trace.setLevel(level)
        for p, rng in zip(golds, rngs):
            p.rng = rng


class _Detections:
    """The detector's people on each frame, found once per frame however many stand-ins label it."""

    def __init__(self):
        self.found: dict[int, tuple] = {}

    def __call__(self, frame_id: int):
        if frame_id not in self.found:
            frame = Frame.objects.get(pk=frame_id)
            pixels, _ = images.decode(frame.image_name, 100_000)
            self.found[frame_id] = (frame, standins.detect_people(pixels))
        return self.found[frame_id]


def submitted_by(project: Project, user) -> int:
    return Assignment.objects.filter(project=project, annotator=user, status=Assignment.SUBMITTED).count()


def mark_gold(project: Project, qa, detections: _Detections) -> int:
    """Two frames further down the queue become gold frames (once), answered with the detector's
    boxes."""
    if GoldFrame.objects.filter(project=project).exists():
        return 0
    items = list(QueueItem.objects.filter(project=project, is_open=True, segment__isnull=True)
                 .order_by("order_key").values_list("frame_id", flat=True)[:max(GOLD_AT) + 1])
    marked = 0
    for position in GOLD_AT:
        if position < len(items):
            frame, found = detections(items[position])
            gold.mark(project, frame, qa, payload={"boxes": standins.answer_of(found, frame.width, frame.height)})
            marked += 1
    return marked


def make(project: Project, admin, qa) -> list[str]:
    """Write (or finish) the history; returns what it did, for the command's output."""
    people = ensure_standins(project, admin)
    if all(submitted_by(project, user) >= FRAMES for _, user in people):
        return []
    detections = _Detections()
    done = 0
    with checks_inline():
        marked = mark_gold(project, qa, detections)
        while True:
            progressed = False
            for habits, user in people:
                if submitted_by(project, user) >= FRAMES:
                    continue
                assignment = queue.next_assignment(project, user)
                if assignment is None:
                    continue
                frame, found = detections(assignment.frame_id)
                boxes = standins.boxes_of(habits, found, frame.sha256, frame.width, frame.height)
                submissions.submit(assignment, user, {"boxes": boxes})
                done += 1
                progressed = True
            if not progressed:
                break
        caught = frame_scoring.catch_up(limit=None, project_id=project.pk)
    notes = [f"history: {len(people)} stand-in annotators submitted {done} frame(s) of '{project.name}' "
             f"({len(detections.found)} frame(s) through OpenCV's HOG people detector)"]
    if marked:
        notes.append(f"history: {marked} gold frame(s) marked by {qa.username}")
    if caught["frames_caught_up"] or caught["gold_checks_caught_up"]:
        notes.append(f"history: {caught['frames_caught_up']} frame(s) and {caught['gold_checks_caught_up']} "
                     "gold check(s) scored after the fact")
    return notes
