"""Inter-annotator agreement throughput on one core (issue goal: 100k frames × 3 annotators ×
~10 boxes in ≤ 60 s; CVAT's quality reports take hours).

Synthetic labels from a seeded RNG on 1920×1080 frames: 5–15 true objects per frame in 6
classes; each of 3 annotators misses 5% of them, confuses the class of 3%, draws each edge with a
few pixels of jitter (12 px for 10% of boxes), and adds false boxes (5% of the object count, on
average); 2 frame tags, each set on 20% of frames, flipped by an annotator 1% of the time.
Generation is not timed.

Part 1, pure: the per-frame work the server does, `frame_agreement` plus `fuse`, over
BENCH_AGREEMENT_FRAMES frames (default 100000). Baseline in the same run, interleaved chunk by
chunk so that noise on a shared machine cancels: the bare Hungarian matching, one
`linear_sum_assignment` per annotator pair on the same (precomputed) IoU cost matrices.
Part 2, database: re-scoring BENCH_AGREEMENT_DB_FRAMES frames (default 2000) written straight
into a throw-away database, twice over: two projects with the same submissions. The bulk path
(labeling.quality.rescoring: the chunks of an agreement run, each one batch of
`bulk_scoring.evaluate_batch`, BENCH_AGREEMENT_DB_CHUNK frames, default AERIE_AGREEMENT_CHUNK)
on one; the per-frame path (`frame_scoring.evaluate_frame`: load, score, store, consensus or
review item, one frame at a time) on the other as the baseline, interleaved chunk by chunk in
the same process (one worker). Both are checked against the pure scores and against each other.

Prints:
  BENCH agreement_frames_measured   frames timed in part 1
  BENCH agreement_frames_per_s      frame_agreement + fuse, frames per second
  BENCH agreement_100k_s            seconds for 100k frames (extrapolated when fewer were measured)
  BENCH agreement_100k_extrapolated 1 when agreement_100k_s is extrapolated, else 0
  BENCH agreement_goal_s            60
  BENCH agreement_vs_goal           agreement_100k_s / goal (≤ 1 meets the goal)
  BENCH agreement_bare_frames_per_s bare matching, frames per second
  BENCH agreement_overhead_ratio    full per-frame time / bare matching time
  BENCH agreement_mean_score        sanity: mean frame score (lower of boxes and tags)
  BENCH agreement_share_below_0_7   sanity: share of frames below the default threshold
  BENCH agreement_boxes_per_frame   sanity: mean boxes per annotator and frame
  BENCH agreement_consensus_boxes   sanity: mean consensus boxes per frame (truth: ~10)
  BENCH agreement_db_frames         frames evaluated in part 2 (by each path)
  BENCH agreement_db_chunk_frames   frames per chunk of the bulk path
  BENCH agreement_db_frames_per_s   bulk path, frames per second per worker (wall clock)
  BENCH agreement_db_frames_per_s_per_frame_path   per-frame path, frames per second (wall clock)
  BENCH agreement_db_bulk_speedup   per-frame path time / bulk path time
  BENCH agreement_db_frames_per_cpu_s   bulk path, frames per CPU second (this process and its
                                    database backend together: what the machine's load does not sway)
  BENCH agreement_db_frames_per_cpu_s_per_frame_path   the same for the per-frame path
  BENCH agreement_db_cpu_ratio      per-frame path CPU / bulk path CPU
  BENCH agreement_db_100k_s         seconds for 100k frames through the bulk path, one worker
  BENCH agreement_db_100k_s_per_frame_path   the same through the per-frame path
  BENCH agreement_db_queries_per_frame_per_frame_path   statements per frame, per-frame path
  BENCH agreement_db_queries_per_chunk_bulk   statements per chunk, bulk path (whatever its size)
  BENCH agreement_db_scores_match   1 when every stored score (both paths) equals the pure path's
  BENCH agreement_db_paths_match    1 when both paths stored the same agreements, review items,
                                    consensus revisions and audit events
"""
from __future__ import annotations

from _setup import django_environment, emit  # first: it fixes the import path

import os  # noqa: E402


def pin_one_core() -> None:
    """One core and single-threaded BLAS, before numpy and scipy load."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


pin_one_core()

import time  # noqa: E402
from datetime import timedelta  # noqa: E402

import numpy as np  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

from labeling.quality.agreement import ComparisonParams, Labels, frame_agreement, iou_matrix  # noqa: E402
from labeling.quality.consensus import fuse  # noqa: E402

WIDTH, HEIGHT = 1920, 1080
CLASSES = ("person", "car", "truck", "bicycle", "motorcycle", "bus")
CLASS_SHARE = (0.40, 0.30, 0.10, 0.08, 0.07, 0.05)
TAGS = ("crowd", "night")
ANNOTATORS = 3
MISS, CONFUSE, FALSE_BOXES, WIDE_JITTER = 0.05, 0.03, 0.05, 0.10
JITTER_PX, WIDE_JITTER_PX = 2.5, 12.0
TAG_RATE, TAG_FLIP = 0.20, 0.01
GOAL_FRAMES, GOAL_S = 100_000, 60
CHUNK = 2000  # frames per interleaved chunk (full work, then bare matching)
PARAMS = ComparisonParams()


# ------------------------------------------------------------------------------ synthetic labels

def random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    """n plausible boxes (x, y, w, h) inside the frame: mostly small and medium objects."""
    w = np.clip(rng.lognormal(np.log(80), 0.6, n), 16, 600)
    h = np.clip(w * rng.lognormal(np.log(1.3), 0.4, n), 16, 700)
    x, y = rng.uniform(0, WIDTH - w), rng.uniform(0, HEIGHT - h)
    return np.stack([x, y, w, h], axis=1)


def jittered(rng: np.random.Generator, boxes: np.ndarray) -> np.ndarray:
    """The same boxes as one annotator draws them: each edge a few pixels off, some far off."""
    sigma = np.where(rng.random(len(boxes)) < WIDE_JITTER, WIDE_JITTER_PX, JITTER_PX)[:, None]
    x1, y1 = boxes[:, 0], boxes[:, 1]
    edges = np.stack([x1, y1, x1 + boxes[:, 2], y1 + boxes[:, 3]], axis=1) + rng.normal(0, 1, (len(boxes), 4)) * sigma
    x1, y1 = np.clip(edges[:, 0], 0, WIDTH - 2), np.clip(edges[:, 1], 0, HEIGHT - 2)
    x2, y2 = np.clip(edges[:, 2], x1 + 2, WIDTH), np.clip(edges[:, 3], y1 + 2, HEIGHT)
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)


def annotator_view(rng, counts, truth_boxes, truth_classes, truth_tags, annotator: int) -> list[Labels]:
    """One annotator's Labels on every frame: misses, class confusions, jitter, false boxes, tags."""
    n_classes = len(CLASSES)
    seen = rng.random(len(truth_classes)) >= MISS
    classes = np.where(rng.random(len(truth_classes)) < CONFUSE,
                       (truth_classes + rng.integers(1, n_classes, len(truth_classes))) % n_classes, truth_classes)
    boxes = jittered(rng, truth_boxes)
    frame_of = np.repeat(np.arange(len(counts)), counts)
    extra = rng.poisson(FALSE_BOXES * counts)
    extra_frame = np.repeat(np.arange(len(counts)), extra)
    all_frame = np.concatenate([frame_of[seen], extra_frame])
    all_boxes = np.concatenate([boxes[seen], random_boxes(rng, len(extra_frame))])
    all_classes = np.concatenate([classes[seen], rng.choice(n_classes, len(extra_frame), p=CLASS_SHARE)])
    order = np.argsort(all_frame, kind="stable")
    all_boxes, keys = all_boxes[order], np.array(CLASSES, dtype=object)[all_classes[order]].tolist()
    tags = truth_tags ^ (rng.random(truth_tags.shape) < TAG_FLIP)
    ends = np.cumsum(np.bincount(all_frame, minlength=len(counts)))
    out, start = [], 0
    for f, end in enumerate(ends):
        n = int(end - start)
        out.append(Labels(annotator=annotator, boxes=all_boxes[start:end], classes=keys[start:end],
                          tags={key: "set" for key, on in zip(TAGS, tags[f]) if on},
                          attributes=[{} for _ in range(n)], tracks=[None] * n))
        start = end
    return out


def generate(frames: int, seed: int) -> list[list[Labels]]:
    """Per frame, the 3 annotators' Labels (ordered by annotator, as the server loads them)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(5, 16, frames)
    truth_boxes = random_boxes(rng, int(counts.sum()))
    truth_classes = rng.choice(len(CLASSES), len(truth_boxes), p=CLASS_SHARE)
    truth_tags = rng.random((frames, len(TAGS))) < TAG_RATE
    views = [annotator_view(rng, counts, truth_boxes, truth_classes, truth_tags, a + 1) for a in range(ANNOTATORS)]
    return [list(frame) for frame in zip(*views)]


# ------------------------------------------------------------------------------ part 1: pure

def full_work(chunk: list[list[Labels]], scores: list, fused_boxes: list) -> float:
    """What the server does per frame (agreement, then consensus); seconds taken."""
    start = time.perf_counter()
    for labels in chunk:
        result = frame_agreement(labels, PARAMS)
        fused = fuse(labels, result.groups, result.tag_units)
        scores.append(result.score)
        fused_boxes.append(len(fused.boxes))
    return time.perf_counter() - start


def bare_matching(chunk: list[list[Labels]]) -> float:
    """One linear_sum_assignment per annotator pair on the same cost matrices; seconds taken
    (the cost matrices are built before the clock starts)."""
    costs = []
    for labels in chunk:
        for i in range(len(labels)):
            for j in range(i + 1, len(labels)):
                iou = iou_matrix(labels[i].boxes, labels[j].boxes)
                costs.append(np.where(iou >= PARAMS.iou_threshold, -iou, 0.0))
    start = time.perf_counter()
    for cost in costs:
        linear_sum_assignment(cost)
    return time.perf_counter() - start


def pure_part(frames: int) -> None:
    data = generate(frames, seed=20240611)
    full_work(data[:200], [], [])  # warm-up: imports, caches
    bare_matching(data[:200])
    scores, fused_boxes = [], []
    full_s = bare_s = 0.0
    for at in range(0, frames, CHUNK):
        chunk = data[at:at + CHUNK]
        full_s += full_work(chunk, scores, fused_boxes)
        bare_s += bare_matching(chunk)
    hundred_k = full_s * GOAL_FRAMES / frames
    scores = np.array([np.nan if s is None else s for s in scores])
    emit("agreement_frames_measured", frames)
    emit("agreement_frames_per_s", frames / full_s)
    emit("agreement_100k_s", hundred_k)
    emit("agreement_100k_extrapolated", int(frames != GOAL_FRAMES))
    emit("agreement_goal_s", GOAL_S)
    emit("agreement_vs_goal", hundred_k / GOAL_S)
    emit("agreement_bare_frames_per_s", frames / bare_s)
    emit("agreement_overhead_ratio", full_s / bare_s)
    emit("agreement_mean_score", float(np.nanmean(scores)))
    emit("agreement_share_below_0_7", float(np.mean(scores < 0.7)))
    emit("agreement_boxes_per_frame", float(np.mean([len(x.classes) for frame in data for x in frame])))
    emit("agreement_consensus_boxes", float(np.mean(fused_boxes)))


# ------------------------------------------------------------------------------ part 2: database

def make_project(name: str = "Bench agreement", annotators=None):
    """A published ontology with CLASSES (boxes) and TAGS, 3 annotators (made unless given), a
    project with overlap 3."""
    from django.contrib.auth import get_user_model

    from labeling.models import Dataset, Membership, Project
    from ontology import services
    from ontology.models import LabelClass

    version = services.create_ontology(f"{name} ontology")
    for key in CLASSES:
        services.add_class(version, key=key, name=key.title(), kind=LabelClass.BOX)
    for key in TAGS:
        services.add_class(version, key=key, name=key.title(), kind=LabelClass.TAG)
    version = services.publish(version)
    dataset = Dataset.objects.create(name=f"{name} footage")
    project = Project.objects.create(name=name, dataset=dataset, ontology_version=version, overlap=3)
    annotators = annotators or [get_user_model().objects.create(username=f"annotator{a + 1}")
                                for a in range(ANNOTATORS)]
    Membership.objects.bulk_create(Membership(project=project, user=user) for user in annotators)
    return project, annotators


def make_frames(project, count: int) -> list:
    """Frame rows (no image files) in one ready sequence, queued (as tests/conftest.py does)."""
    from labeling.work import queue
    from labeling.models import Frame, Sequence

    seq = Sequence.objects.create(dataset=project.dataset, name="bench", kind=Sequence.VIDEO, status=Sequence.READY,
                                  source_name="bench.mp4", source_sha256="0" * 64, source_size=1, width=WIDTH,
                                  height=HEIGHT, frame_count=count)
    Frame.objects.bulk_create(Frame(sequence=seq, index=i, source_index=i, sha256=f"{seq.pk:08d}{i:056d}",
                                    width=WIDTH, height=HEIGHT) for i in range(count))
    queue.sync_queue(project)
    return list(seq.frames.order_by("index"))


def write_submissions(project, annotators, frames, data: list[list[Labels]]) -> None:
    """Every annotator's submitted work on every frame, in bulk: queue counts, submitted
    assignments, human annotations with their boxes and tags."""
    from django.utils import timezone

    from labeling.models import Annotation, AnnotationBox, AnnotationTag, Assignment, QueueItem
    from ontology.models import LabelClass

    now = timezone.now()
    QueueItem.objects.filter(project=project).update(assigned=ANNOTATORS, submitted=ANNOTATORS, is_open=False)
    items = dict(QueueItem.objects.filter(project=project).values_list("frame_id", "id"))
    assignments = Assignment.objects.bulk_create(
        Assignment(item_id=items[frame.pk], project=project, frame=frame, annotator=user,
                   status=Assignment.SUBMITTED, leased_at=now, expires_at=now + timedelta(minutes=30), finished_at=now)
        for frame in frames for user in annotators)
    annotations = Annotation.objects.bulk_create(
        Annotation(project=project, frame=a.frame, annotator=a.annotator, assignment=a, created_by=a.annotator,
                   ontology_version_id=project.ontology_version_id, sequence_id=a.frame.sequence_id,
                   frame_index=a.frame.index)
        for a in assignments)
    class_ids = dict(LabelClass.objects.filter(version=project.ontology_version).values_list("key", "id"))
    labels = [x for frame in data for x in frame]
    AnnotationBox.objects.bulk_create(
        (AnnotationBox(annotation=ann, label_class_id=class_ids[key], x=float(x), y=float(y), w=float(w), h=float(h),
                       attributes={})
         for ann, lab in zip(annotations, labels) for key, (x, y, w, h) in zip(lab.classes, lab.boxes)),
        batch_size=5000)
    AnnotationTag.objects.bulk_create(
        (AnnotationTag(annotation=ann, label_class_id=class_ids[key]) for ann, lab in zip(annotations, labels)
         for key in lab.tags), batch_size=5000)


def outcome_of(project, frames) -> tuple:
    """What scoring left in a project, by frame position, for comparing the two paths: each
    frame's agreement, its open review item, its approved consensus boxes and tags, and the
    audit events' verbs and data (ids of rows replaced by positions)."""
    from collections import Counter

    from labeling.models import Annotation, AuditEvent, FrameAgreement, ReviewItem

    at = {f.pk: n for n, f in enumerate(frames)}
    agreements = sorted((at[r[0]], *r[1:]) for r in FrameAgreement.objects.filter(project=project).values_list(
        "frame_id", "round", "score", "box_score", "tag_score", "units", "tag_units", "passed"))
    items = sorted((at[r[0]], *r[1:]) for r in ReviewItem.objects.filter(project=project).values_list(
        "frame_id", "round", "reason", "status", "severity", "classes"))
    consensus = {}
    for a in Annotation.objects.filter(project=project, source=Annotation.CONSENSUS, superseded_by__isnull=True) \
            .prefetch_related("boxes__label_class", "tags__label_class"):
        consensus[at[a.frame_id]] = (a.revision, a.note, sorted((b.label_class.key, b.x, b.y, b.w, b.h)
                                                                for b in a.boxes.all()),
                                     sorted(t.label_class.key for t in a.tags.all()))
    verbs = Counter(AuditEvent.objects.filter(project=project).values_list("verb", flat=True))
    return agreements, items, consensus, verbs


def db_part(count: int) -> None:
    """The per-frame path (one `evaluate_frame` per frame) on one project and the bulk path (the
    agreement run's chunks, `rescoring.process_chunk`, as a worker runs them) on a twin project
    with the same submissions, interleaved chunk by chunk."""
    with django_environment():
        import psutil
        from django.db import connection

        from labeling.models import AgreementChunk, FrameAgreement
        from labeling.quality import frame_scoring, rescoring

        chunk = int(os.environ.get("BENCH_AGREEMENT_DB_CHUNK", rescoring.CHUNK_SIZE))
        data = generate(count, seed=7)
        per_frame, annotators = make_project("Bench per frame")
        bulk, _ = make_project("Bench bulk", annotators)
        frames_a, frames_b = make_frames(per_frame, count), make_frames(bulk, count)
        write_submissions(per_frame, annotators, frames_a, data)
        write_submissions(bulk, annotators, frames_b, data)
        # warm-up (not timed): imports, caches, the first statements of each path
        frame_scoring.evaluate_frame(per_frame.pk, frames_a[0].pk)
        warm = rescoring.start_run(bulk, reason="bench warm-up", frame_ids=[frames_b[0].pk], send=False)
        rescoring.process_chunk(AgreementChunk.objects.get(run=warm).pk)
        run = rescoring.start_run(bulk, reason="bench", frame_ids=[f.pk for f in frames_b[1:]], chunk_size=chunk,
                                  send=False)
        chunk_ids = list(AgreementChunk.objects.filter(run=run).order_by("number").values_list("pk", flat=True))
        per_frame_s = bulk_s = 0.0
        per_frame_queries = bulk_queries = 0
        statements = [0]

        def counting(execute, sql, params, many, context):  # cheaper than CaptureQueriesContext's timing
            statements[0] += 1
            return execute(sql, params, many, context)

        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            backend = psutil.Process(cur.fetchone()[0])

        def cpu() -> float:
            """This process's CPU seconds and its database backend's (the server's side)."""
            server = backend.cpu_times()
            return time.process_time() + server.user + server.system

        per_frame_cpu = bulk_cpu = 0.0
        for n, chunk_id in enumerate(chunk_ids):
            with connection.execute_wrapper(counting):
                before, start, cpu_start = statements[0], time.perf_counter(), cpu()
                for frame in frames_a[1 + n * chunk:1 + (n + 1) * chunk]:
                    frame_scoring.evaluate_frame(per_frame.pk, frame.pk)
                per_frame_s += time.perf_counter() - start
                per_frame_cpu += cpu() - cpu_start
                per_frame_queries += statements[0] - before
                before, start, cpu_start = statements[0], time.perf_counter(), cpu()
                rescoring.process_chunk(chunk_id)
                bulk_s += time.perf_counter() - start
                bulk_cpu += cpu() - cpu_start
                bulk_queries += statements[0] - before
        rescoring.finalize(run.pk)
        timed = count - 1
        expected = [frame_agreement(labels, PARAMS).score for labels in data]
        stored_a = dict(FrameAgreement.objects.filter(project=per_frame).values_list("frame_id", "score"))
        stored_b = dict(FrameAgreement.objects.filter(project=bulk).values_list("frame_id", "score"))
        scores_match = ([stored_a[f.pk] for f in frames_a] == expected
                        and [stored_b[f.pk] for f in frames_b] == expected)
        outcome_a, outcome_b = outcome_of(per_frame, frames_a), outcome_of(bulk, frames_b)
        outcome_b[3].pop("agreement.rescore.start", None)
        outcome_b[3].pop("agreement.rescore.done", None)
        emit("agreement_db_frames", timed)
        emit("agreement_db_chunk_frames", chunk)
        emit("agreement_db_frames_per_s", timed / bulk_s)
        emit("agreement_db_frames_per_s_per_frame_path", timed / per_frame_s)
        emit("agreement_db_bulk_speedup", per_frame_s / bulk_s)
        emit("agreement_db_frames_per_cpu_s", timed / bulk_cpu)
        emit("agreement_db_frames_per_cpu_s_per_frame_path", timed / per_frame_cpu)
        emit("agreement_db_cpu_ratio", per_frame_cpu / bulk_cpu)
        emit("agreement_db_100k_s", bulk_s * GOAL_FRAMES / timed)
        emit("agreement_db_100k_s_per_frame_path", per_frame_s * GOAL_FRAMES / timed)
        emit("agreement_db_queries_per_frame_per_frame_path", per_frame_queries / timed)
        emit("agreement_db_queries_per_chunk_bulk", bulk_queries / len(chunk_ids))
        emit("agreement_db_scores_match", int(scores_match))
        emit("agreement_db_paths_match", int(outcome_a == outcome_b))


def main() -> None:
    pure_part(int(os.environ.get("BENCH_AGREEMENT_FRAMES", GOAL_FRAMES)))
    db_part(int(os.environ.get("BENCH_AGREEMENT_DB_FRAMES", 2000)))


if __name__ == "__main__":
    main()
