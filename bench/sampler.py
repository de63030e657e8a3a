"""Scoring throughput: the full scoring task against the bare model forward, on the same frames.

Set-up: the real vtest.avi footage (every 8th frame: 100 frames, 768×576) in a project whose
current detector is a signed Faster R-CNN MobileNetV3 (fasterrcnn_mobilenet_v3_large_320_fpn,
random weights: speed does not depend on what the weights learnt).

- baseline: the frames decoded beforehand into tensors, then only `model(batch)` under
  `torch.inference_mode`, in the same batches as the task;
- the task: `scoring.start_run` + every chunk through `scoring.score_chunk` (claim, JPEG decode on
  the prefetching thread pool, forward with the capture hooks, uncertainty, the scores with
  embeddings and the chunk's audit event written in one transaction) + `scoring.finalize`
  (queue priorities).

Prints:
  BENCH sampler_frames       frames scored
  BENCH sampler_raw_fps      frames per second of the bare forward
  BENCH sampler_fps          frames per second of the full scoring task
  BENCH sampler_ratio        sampler_fps / sampler_raw_fps (goal ≥ 0.8)
  BENCH sampler_finalize_s   seconds to turn the run into queue priorities
  BENCH sampler_ratio_cpu    the same ratio in CPU seconds of the process (all its threads, the
                             database's own work excluded): what the task costs beyond the forward,
                             measured so that other load on the machine does not decide it
The two sides alternate three times, best of each kept (this machine is shared and noisy).
"""
from __future__ import annotations

from _setup import django_environment, emit, untrained_detector  # first: it fixes the import path

import os  # noqa: E402
import time  # noqa: E402


def main() -> None:
    from fixtures import footage

    path = footage.path("vtest")
    with django_environment():
        import torch
        from django.contrib.auth import get_user_model
        from django.core.files.uploadedfile import SimpleUploadedFile

        from labeling.footage import ingest
        from labeling.work import queue
        from labeling.demo import ensure_ontology
        from labeling.models import Dataset, ModelVersion, Project, ScoringRun
        from labeling.sampling import images, nets, scoring

        admin = get_user_model().objects.create_user("bench")
        dataset = Dataset.objects.create(name="bench")
        with open(path, "rb") as fh:
            job = ingest.create_job(dataset, SimpleUploadedFile(path.name, fh.read()), sequence_name="vtest", stride=int(os.environ.get("BENCH_SAMPLER_STRIDE", "8")),
                                    user=admin, enqueue=False)
        job = ingest.run_job(job.pk)
        project = Project.objects.create(name="bench", dataset=dataset, ontology_version=ensure_ontology())
        queue.sync_queue(project)
        version = untrained_detector(project)
        ModelVersion.objects.filter(pk=version.pk).update(is_current=True)  # no task: the bench runs it here

        frames = list(job.sequence.frames.order_by("index"))
        side = scoring.IMAGE_SIDE[ModelVersion.DETECTOR]
        tensors = [images.to_tensor(images.decode(f.image_name, side)[0]) for f in frames]
        nets.set_threads()
        model = scoring.model_for(version)

        cpu = {"raw": [], "task": []}  # CPU seconds of this process (all threads): steadier than wall time
                                       # on a shared machine, where other work takes cores away from both sides

        def raw() -> float:
            start, cpu_start = time.perf_counter(), time.process_time()
            with torch.inference_mode():
                for batch in images.batches(tensors, scoring.BATCH_SIZE):
                    model(list(batch))
            cpu["raw"].append(time.process_time() - cpu_start)
            return len(tensors) / (time.perf_counter() - start)

        def task() -> tuple[float, float]:
            start, cpu_start = time.perf_counter(), time.process_time()
            run = scoring.start_run(project, reason="bench")
            for chunk in scoring.pending_chunks(run.pk):
                scoring.score_chunk(chunk, "bench")
            mid = time.perf_counter()
            run = scoring.finalize(run.pk)
            end = time.perf_counter()
            cpu["task"].append(time.process_time() - cpu_start)
            assert run.status == ScoringRun.DONE and run.frames_done == len(frames), run
            return len(frames) / (end - start), end - mid

        raw()  # warm-up: allocator, kernels, and modAL's import on the first score
        scoring.compute(ScoringRun(detector=version, strategy=project.sampling_strategy), [frames[0].pk])
        raws, runs = [], []
        for _ in range(3):  # alternate, so that a burst of load elsewhere hits both sides alike
            raws.append(raw())
            runs.append(task())
        raw_fps = max(raws)
        fps, finalize_s = max(runs)
        emit("sampler_frames", len(frames))
        emit("sampler_raw_fps", raw_fps)
        emit("sampler_fps", fps)
        emit("sampler_ratio", fps / raw_fps)
        emit("sampler_finalize_s", finalize_s)
        emit("sampler_ratio_cpu", min(cpu["raw"]) / min(cpu["task"]))


if __name__ == "__main__":
    main()
