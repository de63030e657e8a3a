"""Model evaluation: the whole evaluation job against a bare loop of forward + pycocotools, on the
same 1,000 real frames and the same labels.

Set-up: the demo footage (vtest.avi, 795 frames 768×576, and bikes.mp4, 250 frames 640×272, every
frame) ingested into a project (conditions computed at ingest, so the slices are real ones). Each
frame is labelled with what OpenCV's HOG people detector finds (the detector the demo's stand-in
annotators use; `cv2.HOGDescriptor_getDefaultPeopleDetector`, nothing downloaded), stored as the
approved consensus revision. Every 25th frame is kept for training; 1,000 of the others are frozen
as an evaluation set. A Faster R-CNN MobileNetV3 (fasterrcnn_mobilenet_v3_large_320_fpn, from
random weights: nothing pretrained is downloaded) is trained for one short epoch on the training
frames through `training.run` (its lineage names the set it left out), then:

- baseline: the frames decoded beforehand (at the job's image side), then only `model(batch)`
  under `torch.inference_mode` in the job's batch size, and one COCOeval (evaluate, accumulate,
  summarize) of those detections against the same labels;
- the job: `evaluation.start_run` + every chunk through `evaluation.process_chunk` (claim, decode on
  the prefetching pool, forward, the detections written per frame with the chunk's completion) +
  `evaluation.finalize` (the frozen truth read back, COCO mAP overall, per class and per slice,
  thresholds, confusions, and the batch-1 latency measured).

Prints:
  BENCH evaluation_frames          frames evaluated
  BENCH evaluation_ratio           baseline seconds / job seconds, wall clock (goal ≥ 0.8)
  BENCH evaluation_ratio_cpu       the same in CPU seconds of this process (steadier on a shared machine)
  BENCH evaluation_job_s           the job's wall-clock seconds
  BENCH evaluation_bare_s          the baseline's wall-clock seconds
  BENCH evaluation_latency_ms_b1   the job's time to first decision (median batch-1 forward, ms)
  BENCH evaluation_map50           the trained detector's mAP@0.5 on the set (for the record)
  BENCH evaluation_slices          slices reported
The two sides run alternately, twice each; the best of each is kept.

Then the poisoning simulation runs (bench/poisoning.py, in its own process; BENCH_EVALUATION_POISONING=0
leaves it out) and prints poison_detected and poison_false_flags (goal 0) with its other figures.
"""
from __future__ import annotations

from _setup import django_environment, emit  # first: it fixes the import path

import contextlib  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

SET_FRAMES = int(os.environ.get("BENCH_EVALUATION_FRAMES", "1000"))
TRAIN_EVERY = 25
ROUNDS = int(os.environ.get("BENCH_EVALUATION_ROUNDS", "2"))


def hog_people(name: str):
    """(x, y, w, h) of the people OpenCV's HOG detector finds in a stored frame (native size)."""
    import cv2
    import numpy as np

    from labeling.footage import blobstore

    hog = getattr(hog_people, "hog", None)
    if hog is None:
        hog = hog_people.hog = cv2.HOGDescriptor()
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    with blobstore.open_blob(name) as fh:
        grey = cv2.imdecode(np.frombuffer(fh.read(), np.uint8), cv2.IMREAD_GRAYSCALE)
    rects, weights = hog.detectMultiScale(grey, winStride=(8, 8), padding=(8, 8), scale=1.1)
    return [tuple(float(v) for v in r) for r, w in zip(rects, np.ravel(weights)) if w >= 0.5]


def main() -> None:
    from fixtures import footage

    with django_environment():
        import torch
        from django.contrib.auth import get_user_model
        from django.core.files.uploadedfile import SimpleUploadedFile
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        from labeling.demo import ensure_ontology
        from labeling.footage import ingest
        from labeling.governance import evaluation, evaluation_sets
        from labeling.jobs import chunks
        from labeling.models import Annotation, Dataset, EvaluationChunk, ModelVersion, Project
        from labeling.sampling import images, nets, scoring, training
        from labeling.work import queue
        from labeling.work.payloads import CleanBox, classes_of
        from labeling.work.submissions import store

        user = get_user_model().objects.create_user("bench")
        dataset = Dataset.objects.create(name="bench")
        frames = []
        for name in ("vtest", "bikes"):
            path = footage.path(name)
            with open(path, "rb") as fh:
                job = ingest.create_job(dataset, SimpleUploadedFile(path.name, fh.read()), sequence_name=name,
                                        stride=1, user=user, enqueue=False)
            job = ingest.run_job(job.pk)
            frames += list(job.sequence.frames.order_by("index"))
        project = Project.objects.create(name="bench", dataset=dataset, ontology_version=ensure_ontology())
        queue.sync_queue(project)
        classes = classes_of(project.ontology_version_id)
        person = next(k for k in classes if k == "person")

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2) as pool:  # OpenCV releases the GIL
            found = list(pool.map(hog_people, [f.image_name for f in frames]))
        labelled_s = time.perf_counter() - start
        for frame, people in zip(frames, found):
            store(project=project, frame=frame, source=Annotation.CONSENSUS, status=Annotation.APPROVED,
                  created_by=None, boxes=[CleanBox(classes[person], x, y, w, h, {}, None) for x, y, w, h in people],
                  tags=[])
        held = [f for i, f in enumerate(frames) if i % TRAIN_EVERY != 0][:SET_FRAMES]
        eset = evaluation_sets.freeze(project, "bench", {"frame_ids": [f.pk for f in held]}, user=user)
        print(f"labelled {len(frames)} frames with HOG in {labelled_s:.0f} s "
              f"({sum(map(len, found))} people); set of {len(eset.frame_ids)} frames", flush=True)

        run = training.run(training.start(project, ModelVersion.DETECTOR, epochs=1, batch_size=4,
                                          image_size=320, user=user, enqueue=False).pk)
        assert run.status == "done", run.message
        version = run.result
        print(f"trained on {version.metrics['train_frames']} frames; lineage left out "
              f"{version.lineage['left_out_evaluation_frames']} evaluation frames", flush=True)

        # the baseline's inputs: decoded beforehand, the same side as the job
        ids = sorted(eset.frame_ids)
        by_id = {f.pk: f for f in frames}
        decoded = [images.decode(by_id[i].image_name, evaluation.IMAGE_SIDE) for i in ids]
        truth = {i: ann for i, ann in zip(eset.frame_ids, eset.annotation_ids)}
        from labeling.governance import slices as slices_mod

        gt_rows = slices_mod.truth_rows(ids, [truth[i] for i in ids])
        nets.set_threads()
        model = scoring.model_for(version).eval()
        cpu = {"bare": [], "job": []}

        def bare() -> float:
            t0, c0 = time.perf_counter(), time.process_time()
            dets = []
            with torch.inference_mode():
                for b in range(0, len(decoded), evaluation.BATCH_SIZE):
                    batch = decoded[b:b + evaluation.BATCH_SIZE]
                    out = model([images.to_tensor(p) for p, _ in batch])
                    for k, (o, (_, scale)) in enumerate(zip(out, batch)):
                        for box, label, score in zip(o["boxes"].tolist(), o["labels"].tolist(), o["scores"].tolist()):
                            x0, y0, x1, y1 = (v / scale for v in box)
                            dets.append({"image_id": b + k + 1, "category_id": label, "score": score,
                                         "bbox": [x0, y0, x1 - x0, y1 - y0]})
            gt = {"images": [{"id": n + 1, "width": by_id[i].width, "height": by_id[i].height}
                             for n, i in enumerate(ids)],
                  "categories": [{"id": c + 1} for c in range(len(version.class_map))],
                  "annotations": [{"id": n + 1, "image_id": pos + 1, "category_id": version.class_map.index(key) + 1,
                                   "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0}
                                  for n, (pos, key, x, y, w, h) in enumerate(gt_rows)]}
            with contextlib.redirect_stdout(io.StringIO()):
                coco = COCO()
                coco.dataset = gt
                coco.createIndex()
                ev = COCOeval(coco, coco.loadRes(dets), "bbox")
                ev.evaluate()
                ev.accumulate()
                ev.summarize()
            cpu["bare"].append(time.process_time() - c0)
            return time.perf_counter() - t0

        def job():
            t0, c0 = time.perf_counter(), time.process_time()
            r = evaluation.start_run(version, eset, user, send=False)
            for chunk_id in chunks.pending(EvaluationChunk, r.pk):
                evaluation.process_chunk(chunk_id, "bench")
            r = evaluation.finalize(r.pk)
            cpu["job"].append(time.process_time() - c0)
            assert r.status == "done" and r.frames_done == len(ids), (r.status, r.message)
            return time.perf_counter() - t0, r

        bare()  # warm-up: allocator, kernels
        bares, jobs_ = [], []
        for _ in range(ROUNDS):
            bares.append(bare())
            jobs_.append(job())
        bare_s = min(bares)
        job_s, result = min(jobs_, key=lambda x: x[0])
        emit("evaluation_frames", len(ids))
        emit("evaluation_ratio", bare_s / job_s)
        emit("evaluation_ratio_cpu", min(cpu["bare"]) / min(cpu["job"]))
        emit("evaluation_job_s", job_s)
        emit("evaluation_bare_s", bare_s)
        emit("evaluation_latency_ms_b1", result.latency_ms_b1)
        emit("evaluation_map50", result.metrics["overall"]["map50"] or 0.0)
        emit("evaluation_slices", len(result.metrics["slices"]))
        print(f"hardware: {result.hardware}; slices: {', '.join(sorted(result.metrics['slices']))}")


def poisoning() -> None:
    """The issue's second half of this benchmark, the poisoning simulation (3 annotators, 2,000
    frames, one flipping 20 % of cars to trucks), in its own process and database: bench/poisoning.py
    prints poison_detected, poison_false_flags and the rest."""
    import subprocess
    import sys

    subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "poisoning.py")],
                   check=True)


if __name__ == "__main__":
    main()
    if os.environ.get("BENCH_EVALUATION_POISONING", "1") != "0":
        poisoning()
