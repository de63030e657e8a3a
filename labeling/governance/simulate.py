"""A simulated poisoning, to test and measure the drift detector: frames with known truth boxes of
two classes A and B, honest annotators who jitter their boxes and swap ~2 % of classes at random,
and one poisoner who also turns a share of A into B.

`plan` is pure (seeded); `label_through_queue` runs the plan through the real queue, submission
and agreement code of a project (each annotator takes their next frame and submits its labels;
then the app's own catch-up scores every frame that has all its submissions)."""
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Poisoning:
    a: str = "car"
    b: str = "truck"
    honest_swap: float = 0.02
    flip: float = 0.20  # the poisoner's share of A turned into B (on top of the honest noise)
    jitter: float = 3.0  # pixels, each edge
    seed: int = 7
    width: int = 640
    height: int = 480


def truth(n_frames: int, p: Poisoning = Poisoning()) -> list[list[tuple[str, float, float, float, float]]]:
    """1-4 objects per frame in a grid of cells (never overlapping), 60 % of them A."""
    rng = random.Random(p.seed)
    cells = [(x, y) for x in range(20, p.width - 120, 150) for y in range(20, p.height - 120, 150)]
    frames = []
    for _ in range(n_frames):
        frames.append([(p.a if rng.random() < 0.6 else p.b, x + rng.uniform(0, 20), y + rng.uniform(0, 20),
                        rng.uniform(50, 90), rng.uniform(50, 90)) for x, y in rng.sample(cells, rng.randint(1, 4))])
    return frames


def labels_of(objects, poisoner: bool, rng: random.Random, p: Poisoning = Poisoning()) -> dict:
    """One annotator's payload for a frame's true objects."""
    boxes = []
    for cls, x, y, w, h in objects:
        if rng.random() < p.honest_swap:
            cls = p.b if cls == p.a else p.a
        elif poisoner and cls == p.a and rng.random() < p.flip:
            cls = p.b
        j = [rng.uniform(-p.jitter, p.jitter) for _ in range(4)]
        boxes.append({"class": cls, "x": max(0.0, x + j[0]), "y": max(0.0, y + j[1]), "w": w + j[2],
                      "h": h + j[3]})
    return {"boxes": boxes}


def label_through_queue(project, annotators: list, poisoner, n_frames: int, p: Poisoning = Poisoning()) -> dict:
    """Each annotator labels `n_frames` frames of `project` (queued, indexed 0..n-1 in one
    sequence) from the queue; returns counts. The frames' agreement is computed as the app does."""
    from labeling.quality import frame_scoring
    from labeling.work import queue, submissions

    objects = truth(n_frames, p)
    rngs = {u.pk: random.Random(p.seed * 1000 + u.pk) for u in annotators}
    submitted = 0
    for _ in range(n_frames):
        for user in annotators:
            assignment = queue.next_assignment(project, user)
            if assignment is None:
                continue
            payload = labels_of(objects[assignment.frame.index], user.pk == poisoner.pk, rngs[user.pk], p)
            submissions.submit(assignment, user, payload)
            submitted += 1
    caught = frame_scoring.catch_up(limit=None, project_id=project.pk)
    return {"submitted": submitted, **caught}
