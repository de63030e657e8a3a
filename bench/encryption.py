"""What encryption at rest costs to read raw frames: CPU seconds to read N raw frames stored
encrypted (labeling.footage.crypto: AES-256-GCM, 64 KiB segments) over the same frames stored in
the clear, through `blobstore.open_blob`, in the same process.

N frames (BENCH_ENCRYPTION_FRAMES, default 300; each read run reads them 5 times) of 1280x720 JPEG (q90, a gradient with noise:
about 250 KB each, a realistic raw frame) are stored twice in two throw-away media folders, once
with no data key and once with one. Three ways of reading are timed, each in the order clear,
encrypted, encrypted, clear (a drift favours neither) and the best of each is kept:
  whole   `open_blob(name).read()` (what exports, training and redaction do)
  stream  reads of 4 KiB until the end (what FileResponse does when a frame is served)
  decode  whole read then a full JPEG decode of the first 100 frames (training, redaction)
  write   `blobstore.put` of each frame under a fresh folder (what ingest does)

Prints:
  BENCH encryption_frames               frames per run
  BENCH encryption_frame_kb             mean stored frame size, KB
  BENCH encryption_read_cpu_ratio       CPU encrypted / clear, whole reads (the headline figure)
  BENCH encryption_read_cpu_us_per_frame_clear / _encrypted
  BENCH encryption_stream_cpu_ratio     CPU encrypted / clear, 4 KiB reads
  BENCH encryption_read_decode_cpu_ratio CPU encrypted / clear, read + JPEG decode
  BENCH encryption_write_cpu_ratio      CPU encrypted / clear, puts
  BENCH encryption_read_wall_ratio      wall-clock, whole reads (swayed by the machine's load)
Process CPU (time.process_time). No database is used.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

import _setup  # noqa: F401 - puts the project on sys.path
from _setup import emit

import numpy as np
from PIL import Image


REPEAT = 5  # each read run reads every frame this many times (a run of one pass is a few ms of CPU)
DECODED = 100  # frames read and decoded (Pillow) per decode run


def configure(root: Path, key_file: Path | None) -> None:
    from django.conf import settings

    settings.STORAGES = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                     "OPTIONS": {"location": str(root)}}}
    settings.AERIE_DATA_KEY_FILE = key_file
    from django.core.files.storage import storages

    storages._storages = {}  # the handler caches the storages it made and the settings it read
    storages._backends = None
    storages.__dict__.pop("backends", None)


def frames(count: int) -> list[bytes]:
    rng = np.random.default_rng(7)
    base = np.tile(np.linspace(0, 200, 1280, dtype=np.float32), (720, 1))
    picture = np.stack([base, base[:, ::-1], np.full_like(base, 90)], axis=-1)
    picture = np.clip(picture + rng.normal(0, 12, picture.shape), 0, 255).astype(np.uint8)
    out = []
    for i in range(count):  # each frame differs (the store is content-addressed)
        buf = io.BytesIO()
        Image.fromarray(np.roll(picture, i * 7, axis=(0, 1))).save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def main() -> None:
    import django
    from django.conf import settings

    settings.configure(
        STORAGES={}, AERIE_DATA_KEY_FILE=None, AERIE_DATA_KEY="", AERIE_DATA_OLD_KEY_FILES=[],
        AERIE_ENCRYPT_DERIVED=False, USE_TZ=True,
    )
    django.setup()
    from labeling.footage import blobstore, crypto

    count = int(os.environ.get("BENCH_ENCRYPTION_FRAMES", "300"))
    work = Path(tempfile.mkdtemp(prefix="aerie-bench-enc-"))
    try:
        key = work / "kek"
        crypto.generate_key_file(key)
        data = frames(count)
        names = [f"frames/{hashlib.sha256(d).hexdigest()[:2]}/{hashlib.sha256(d).hexdigest()}.jpg" for d in data]
        modes = {"clear": (work / "clear", None), "encrypted": (work / "encrypted", key)}

        def write(mode, sub=""):
            root, key_file = modes[mode]
            configure(root / sub if sub else root, key_file)
            blobstore._known_dirs.clear()
            for name, d in zip(names, data):
                blobstore.put(name, d)

        def read_whole(mode):
            configure(*modes[mode])
            for _ in range(REPEAT):
                for name in names:
                    with blobstore.open_blob(name) as fh:
                        fh.read()

        def read_stream(mode):
            configure(*modes[mode])
            for _ in range(REPEAT):
                for name in names:
                    with blobstore.open_blob(name) as fh:
                        while fh.read(4096):
                            pass

        def read_decode(mode):
            configure(*modes[mode])
            for name in names[:DECODED]:
                with blobstore.open_blob(name) as fh:
                    Image.open(io.BytesIO(fh.read())).load()

        for mode in modes:
            write(mode)
        configure(*modes["encrypted"])
        with blobstore.open_blob(names[0]) as fh:
            assert fh.read() == data[0]
        assert crypto.is_encrypted((work / "encrypted" / names[0]).read_bytes())
        read_whole("clear"), read_whole("encrypted")  # warm the page cache and the code

        def timed(run, label):
            best = {}
            for n, mode in enumerate(["clear", "encrypted", "encrypted", "clear"]):
                cpu, wall = time.process_time(), time.perf_counter()
                run(mode, n) if label == "write" else run(mode)
                took = (time.process_time() - cpu, time.perf_counter() - wall)
                print(f"# {label} {mode}: {took[0]:.3f} s CPU, {took[1]:.3f} s wall", flush=True)
                best[mode] = min(best.get(mode, took), took)
            return best

        whole = timed(read_whole, "whole")
        stream = timed(read_stream, "stream")
        decoded = timed(read_decode, "decode")
        puts = timed(lambda mode, n: write(mode, f"w{n}"), "write")
        emit("encryption_frames", count)
        emit("encryption_frame_kb", sum(map(len, data)) / len(data) / 1000)
        emit("encryption_read_cpu_ratio", whole["encrypted"][0] / whole["clear"][0])
        emit("encryption_read_cpu_us_per_frame_clear", whole["clear"][0] / count / REPEAT * 1e6)
        emit("encryption_read_cpu_us_per_frame_encrypted", whole["encrypted"][0] / count / REPEAT * 1e6)
        emit("encryption_read_decode_cpu_ratio", decoded["encrypted"][0] / decoded["clear"][0])
        emit("encryption_stream_cpu_ratio", stream["encrypted"][0] / stream["clear"][0])
        emit("encryption_write_cpu_ratio", puts["encrypted"][0] / puts["clear"][0])
        emit("encryption_read_wall_ratio", whole["encrypted"][1] / whole["clear"][1])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
