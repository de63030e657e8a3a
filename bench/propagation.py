"""Propagation: how well a box is followed without a model, and what aerie's job costs beyond the
tracker itself.

Set-up: real footage with a known truth (fixtures/known_paths.py): a 64×96 piece of bikes.mp4's
frame 200 moves along a known smooth path, growing and shrinking, over the clip's first 101 real
frames (cuts and all). The frames are ingested as an image sequence (PNG, stored as JPEG like any
upload) into a segment project of one 101-frame segment, and a box on frame 0 is propagated
forward through the 100 frames after it.

- the job: `propagation_runs.start` + `run_now` (what the Celery task runs): the run row, frames
  read from the blob store and decoded small on the prefetching pool, CSRT with its updates, the
  boxes written to the run as they arrive;
- the baseline: a bare loop over the same stored frames: decode (the same reduced-size JPEG decode)
  and `tracker.update`, nothing else.

Prints:
  BENCH propagation_frames       frames propagated
  BENCH propagation_mean_iou     mean IoU of the propagated boxes against the truth (goal ≥ 0.7)
  BENCH propagation_min_iou      the worst frame
  BENCH propagation_bare_fps     frames per second of the bare loop (wall clock)
  BENCH propagation_fps          frames per second through the job (wall clock)
  BENCH propagation_ratio        propagation_fps / propagation_bare_fps (goal ≥ 0.8)
  BENCH propagation_ratio_cpu    the same ratio in process CPU seconds (steadier on a shared machine)
The two sides alternate three times, best of each kept.
"""
from __future__ import annotations

from _setup import django_environment, emit  # first: it fixes the import path

import io  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402

import numpy as np  # noqa: E402

FRAMES = 101


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
        from django.core.files.uploadedfile import SimpleUploadedFile

        from labeling.demo import ensure_ontology
        from labeling.footage import ingest
        from labeling.models import Dataset, Membership, Project, PropagationRun
        from labeling.models.footage import blob_path
        from labeling.quality.agreement import iou_matrix
        from labeling.sampling import images, propagation
        from labeling.work import projects, propagation_runs, queue

        user = get_user_model().objects.create_user("bench")
        dataset = Dataset.objects.create(name="bench")
        job = ingest.run_job(ingest.create_job(dataset, SimpleUploadedFile("path.zip", archive.getvalue()),
                                               sequence_name="path", enqueue=False).pk)
        assert job.status == "done", job.message
        project = projects.save_project(Project(name="bench", dataset=dataset, ontology_version=ensure_ontology(),
                                                work_unit="segment", segment_length=FRAMES, segment_shared=5), user)
        Membership.objects.create(project=project, user=user)
        lease = queue.next_lease(project, user).assignment
        stored = list(job.sequence.frames.order_by("index"))
        names = [blob_path("frames", f.sha256, f.ext) for f in stored]
        scale = min(1.0, propagation.TRACK_SIDE / max(stored[0].width, stored[0].height))
        start = dict(zip("xywh", truth[0]))

        cpu = {"bare": [], "job": []}

        def bare() -> float:
            began, cpu_began = time.perf_counter(), time.process_time()
            decoded = (pixels for batch in images.prefetched(names, propagation.TRACK_SIDE, 8) for pixels, _ in batch)
            tracker = propagation.new_tracker()
            tracker.init(next(decoded), propagation._scaled(truth[0], scale))
            for image in decoded:
                tracker.update(image)
            cpu["bare"].append(time.process_time() - cpu_began)
            return (FRAMES - 1) / (time.perf_counter() - began)

        def through_job() -> tuple[float, list]:
            began, cpu_began = time.perf_counter(), time.process_time()
            run = propagation_runs.start(lease.pk, user, {"frame": 0, "box": start, "class": "bicycle",
                                                          "direction": "forward"})
            run = propagation_runs.run_now(run.pk)
            cpu["job"].append(time.process_time() - cpu_began)
            assert run.status == PropagationRun.DONE, run.message
            return len(run.boxes) / (time.perf_counter() - began), run.boxes

        bare()  # warm-up: OpenCV's and the decoder's first use
        bares, jobs = [], []
        for _ in range(3):  # alternate, so that load elsewhere hits both sides alike
            bares.append(bare())
            jobs.append(through_job())
        boxes = jobs[-1][1]
        ious = [float(iou_matrix(np.array([[b["x"], b["y"], b["w"], b["h"]]]), np.array([truth[b["frame"]]]))[0, 0])
                for b in boxes]
        emit("propagation_frames", len(boxes))
        emit("propagation_mean_iou", float(np.mean(ious)))
        emit("propagation_min_iou", float(np.min(ious)))
        emit("propagation_bare_fps", max(bares))
        emit("propagation_fps", max(fps for fps, _ in jobs))
        emit("propagation_ratio", max(fps for fps, _ in jobs) / max(bares))
        emit("propagation_ratio_cpu", min(cpu["bare"]) / min(cpu["job"]))


if __name__ == "__main__":
    main()
