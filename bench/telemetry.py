"""What KLV telemetry costs at ingest, and whether every frame gets its record.

Two MPEG-TS files of the demo footage (vtest.avi looped, bikes.mp4 where vtest is not
available) BENCH_TELEMETRY_MINUTES long (default 10) at the clip's frame rate, MPEG-2, made with
`mpegts.mux_with_klv` with the same encoder settings (the video packets are compared: same
bytes): one with an ST 0601 KLV packet at every frame (`sample.flight`), one without any KLV
stream (the baseline). Each frame has its number burnt into a corner (`stamp=True`): without it
the loops repeat the same frames, which the content-addressed store keeps once, skipping their
thumbnails and previews, and the baseline would be an unrealistically cheap ingest (807 distinct
frames of 6000 on vtest). They are cached under var/bench/ with a sha256 marker, so a second run
reuses them.

Each file goes through the whole ingest (`ingest.create_job(enqueue=False)` + `ingest.run_job`:
decode, JPEG, thumbnail, preview, rows; with KLV also reading, decoding and matching the KLV and
its FrameTelemetry rows) into a fresh dataset, with the blob store emptied before each run (it is
content-addressed: a second run of the same video would skip the renditions). The two files
alternate twice, in the order plain, KLV, KLV, plain (a drift over the run favours neither); the
best of each is kept, and each run is printed on a `#` line. A short warm-up ingest (every
10th frame of the plain file) comes first: without it, the first run (plain) was the cheapest of
the four by 14-30 % of CPU in both full runs that printed each run. Every frame is ingested (10 minutes
of vtest at 10 fps: 6000 frames, about 45 s of CPU per run). Where that is too slow, a shorter
BENCH_TELEMETRY_MINUTES or BENCH_TELEMETRY_STRIDE=n (every n-th frame, in BOTH runs) keeps it
within bounds; every KLV packet is still read and decoded, so a stride makes the ratio
pessimistic, if anything.

Prints:
  BENCH telemetry_minutes           length of the files, minutes of video
  BENCH telemetry_source_frames     frames in each file (and KLV packets in the KLV one)
  BENCH telemetry_stride            every n-th frame ingested, in both runs
  BENCH telemetry_make_s            CPU seconds spent making the two files (0 when cached)
  BENCH telemetry_make_wall_s       the same in wall-clock seconds
  BENCH telemetry_same_video        1 when the two files' video packets are the same bytes
  BENCH telemetry_frames            frames ingested per run
  BENCH telemetry_ingest_cpu_s / telemetry_ingest_klv_cpu_s     process CPU seconds of the best runs
  BENCH telemetry_ingest_ratio      CPU seconds with KLV / without (goal ≤ 1.1)
  BENCH telemetry_ingest_ratio_wall the same in wall-clock seconds (swayed by the machine's load)
  BENCH telemetry_klv_read_cpu_s    CPU seconds of reading the KLV alone (attach.from_video: demux,
                                    decode, fields), best of 2: the part of the difference that
                                    is not storing the rows
  BENCH telemetry_store_cpu_s       CPU seconds of attach.store in the best KLV run (matching and
                                    the FrameTelemetry rows)
  BENCH telemetry_ingest_ratio_parts  (baseline CPU + KLV read + store) / baseline CPU: the same
                                    ratio from the parts KLV adds, measured alone; steadier than
                                    telemetry_ingest_ratio, whose whole runs swing by 10-20 % of
                                    CPU from run to run on this shared machine (more than the
                                    difference measured)
  BENCH telemetry_frames_matched    frames with telemetry / frames (goal 1.0)
  BENCH telemetry_malformed         KLV packets skipped as malformed (0 on this file)
Process CPU is this process's (all its threads); PostgreSQL's own CPU is not in it.
"""
from __future__ import annotations

from _setup import ROOT, django_environment, emit  # first: it fixes the import path

import hashlib  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from fractions import Fraction  # noqa: E402
from pathlib import Path  # noqa: E402

import av  # noqa: E402
import psutil  # noqa: E402

MINUTES = float(os.environ.get("BENCH_TELEMETRY_MINUTES", "10"))
STRIDE = int(os.environ.get("BENCH_TELEMETRY_STRIDE", "1"))
ROUNDS = 2
CACHE = ROOT / "var" / "bench"


def cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


def make_files() -> tuple[Path, Path, int, float, float]:
    """(without KLV, with KLV, frames in each, CPU and wall seconds spent making them)."""
    from fixtures import drone
    from labeling.footage.telemetry import mpegts, sample

    source = drone.source_clip("vtest")
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    frames = round(MINUTES * 60 * rate)
    CACHE.mkdir(parents=True, exist_ok=True)
    spent = spent_wall = 0.0
    paths = []
    for kind, make_values in (("plain", None), ("klv", sample.flight)):
        out = CACHE / f"telemetry_{source.stem}_{frames}f_stamped_{kind}.ts"
        recipe = f"recipe={drone.RECIPE} source={source.name} frames={frames} stamped"
        if not drone.is_complete(out, recipe):
            start, start_wall = cpu_seconds(), time.perf_counter()
            partial = out.with_name(out.name + ".part")
            mpegts.mux_with_klv(source, partial, make_values, max_frames=frames, loop=True,
                                 stamp=True)
            drone.finish(partial, out, recipe)
            spent += cpu_seconds() - start
            spent_wall += time.perf_counter() - start_wall
        paths.append(out)
    return paths[0], paths[1], frames, spent, spent_wall


def video_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            digest.update(bytes(packet))
    return digest.hexdigest()


def empty_blob_store() -> None:
    from django.conf import settings

    from labeling.footage import blobstore

    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)
    blobstore._known_dirs.clear()  # it remembers the folders it made


STORE_CPU: list[float] = []


def time_store() -> None:
    """Record the CPU seconds of each attach.store call (the ingest calls it once per video)."""
    from labeling.footage.telemetry import attach

    original = attach.store

    def store(*args, **kwargs):
        start = cpu_seconds()
        try:
            return original(*args, **kwargs)
        finally:
            STORE_CPU.append(cpu_seconds() - start)

    attach.store = store


def ingest_once(path: Path, name: str, stride: int = STRIDE) -> tuple[float, float, object]:
    from django.core.files import File

    from labeling.footage import ingest
    from labeling.models import Dataset

    empty_blob_store()
    dataset = Dataset.objects.create(name=name)
    with open(path, "rb") as fh:
        job = ingest.create_job(dataset, File(fh, name=path.name), sequence_name=name, stride=stride,
                                enqueue=False)  # run below, measured
    cpu, wall = cpu_seconds(), time.perf_counter()
    job = ingest.run_job(job.pk)
    cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    assert job.status == "done", job.message
    return cpu, wall, job.sequence


def klv_read_cpu(path: Path) -> float:
    from labeling.footage.telemetry import attach

    start = cpu_seconds()
    found = attach.from_video(path)
    assert found.rows
    return cpu_seconds() - start


def main() -> None:
    plain, with_klv, source_frames, made_s, made_wall_s = make_files()
    same = video_digest(plain) == video_digest(with_klv)
    with django_environment():
        time_store()
        best: dict[str, tuple[float, float]] = {}
        store_s: dict[float, float] = {}  # KLV run's CPU: its attach.store CPU
        sequences = {}
        ingest_once(plain, "warm-up", stride=10 * STRIDE)  # a first run in a fresh process is cheaper
        order = [("plain", plain), ("klv", with_klv)]
        for round_ in range(ROUNDS):
            for kind, path in order if round_ % 2 == 0 else order[::-1]:
                STORE_CPU.clear()
                cpu, wall, sequences[kind] = ingest_once(path, f"{kind}-{round_}")
                print(f"# run {round_} {kind}: cpu_s={cpu:.2f} wall_s={wall:.2f} store_cpu_s={sum(STORE_CPU):.2f}",
                      flush=True)
                if kind == "klv":
                    store_s[cpu] = sum(STORE_CPU)
                old = best.get(kind, (float("inf"), float("inf")))
                best[kind] = (min(old[0], cpu), min(old[1], wall))
        read_s = min(klv_read_cpu(with_klv) for _ in range(ROUNDS))
        klv_seq = sequences["klv"]
        assert sequences["plain"].telemetry_frames == 0 and sequences["plain"].frame_count == klv_seq.frame_count
        emit("telemetry_minutes", MINUTES)
        emit("telemetry_source_frames", source_frames)
        emit("telemetry_stride", STRIDE)
        emit("telemetry_make_s", made_s)
        emit("telemetry_make_wall_s", made_wall_s)
        emit("telemetry_same_video", int(same))
        emit("telemetry_frames", klv_seq.frame_count)
        emit("telemetry_ingest_cpu_s", best["plain"][0])
        emit("telemetry_ingest_klv_cpu_s", best["klv"][0])
        emit("telemetry_ingest_ratio", best["klv"][0] / best["plain"][0])
        emit("telemetry_ingest_ratio_wall", best["klv"][1] / best["plain"][1])
        emit("telemetry_klv_read_cpu_s", read_s)
        emit("telemetry_store_cpu_s", store_s[best["klv"][0]])
        emit("telemetry_ingest_ratio_parts", (best["plain"][0] + read_s + store_s[best["klv"][0]]) / best["plain"][0])
        emit("telemetry_frames_matched", klv_seq.telemetry_frames / klv_seq.frame_count)
        emit("telemetry_malformed", klv_seq.telemetry_malformed)
        empty_blob_store()


if __name__ == "__main__":
    main()
