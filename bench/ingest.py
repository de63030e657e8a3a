"""Ingest throughput and memory on real footage (vtest.avi, 795 frames, 768×576).

Baseline in the same run: a bare PyAV decode + Pillow JPEG encode loop over the same frames,
the least any ingest must do. Prints:
  BENCH ingest_fps           frames per second through the full ingest (decode, encode, sha256,
                             thumbnail, blurred preview, storage, database rows, progress)
  BENCH ingest_bare_fps      the bare loop
  BENCH ingest_ratio         ingest_fps / ingest_bare_fps (goal ≥ 0.5)
  BENCH ingest_peak_rss_mb   peak resident memory of the process during the ingest
  BENCH ingest_rss_growth_mb resident memory at the end minus after the first quarter of the
                             frames: ~0 when memory does not grow with video length
"""
from __future__ import annotations

from _setup import django_environment, emit  # first: it fixes the import path

import io  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import av  # noqa: E402
import psutil  # noqa: E402


def bare_fps(path: str, quality: int) -> float:
    start = time.perf_counter()
    n = 0
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            frame.to_image().save(io.BytesIO(), "JPEG", quality=quality)
            n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    from fixtures import footage

    path = str(footage.path("vtest"))
    with django_environment():
        from django.conf import settings
        from django.core.files.uploadedfile import SimpleUploadedFile

        from labeling.footage import ingest
        from labeling.models import Dataset

        quality = settings.AERIE_FRAME_JPEG_QUALITY
        bare_fps(path, quality)  # warm-up: codec tables, page cache
        bare = max(bare_fps(path, quality) for _ in range(2))

        process = psutil.Process()
        samples: list[tuple[int, float]] = []
        peak = {"rss": 0}
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak["rss"] = max(peak["rss"], process.memory_info().rss)
                time.sleep(0.01)

        original_flush = ingest._FrameWriter.flush

        def flush(writer):
            original_flush(writer)
            samples.append((writer.count, process.memory_info().rss))

        ingest._FrameWriter.flush = flush
        dataset = Dataset.objects.create(name="bench")
        with open(path, "rb") as fh:
            job = ingest.create_job(dataset, SimpleUploadedFile("vtest.avi", fh.read()), sequence_name="vtest",
                                    enqueue=False)  # run below, measured
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        job = ingest.run_job(job.pk)
        elapsed = time.perf_counter() - start
        stop.set()
        sampler.join()
        assert job.status == "done", job.message
        frames = job.frames_done
        quarter = next(rss for count, rss in samples if count >= frames // 4)
        emit("ingest_frames", frames)
        emit("ingest_fps", frames / elapsed)
        emit("ingest_bare_fps", bare)
        emit("ingest_ratio", frames / elapsed / bare)
        emit("ingest_peak_rss_mb", peak["rss"] / 2**20)
        emit("ingest_rss_growth_mb", (samples[-1][1] - quarter) / 2**20)


if __name__ == "__main__":
    main()
