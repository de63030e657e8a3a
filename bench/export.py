"""Export speed and memory (issue goal: 100k frames with 1M boxes in 10k tracks, COCO and MOT,
each ≤ 60 s and ≤ 300 MB; CVAT's users report exports that time out or need 32 GB, Label Studio
takes 12–22 s and 445–476 MB for 10k images with 3 boxes each).

Set-up (not timed): a throw-away database filled with COPY: 10 sequences × 10,000 frames of
1920×1080, each frame with an approved annotation of 10 boxes in 4 classes; every track lives 100
frames, 10 at a time per sequence, so 10,000 tracks. A second project holds 10,000 frames with 3
boxes each (the Label Studio comparison).

Each export runs the real job (`labeling.exchange.exports.run`: the same code the Celery task calls,
writing the signed zip to storage) in a fresh child process, so its memory is the exporting
process's own: `…_peak_rss_mb` is the highest RSS sampled every 50 ms while the export runs
(Python, Django and the libraries included), `…_base_rss_mb` the RSS just before it starts,
`…_growth_rss_mb` the difference, `…_process_maxrss_mb` the child's ru_maxrss (start-up included).

Baseline in the same run: the COCO document of the 1M-box export, parsed into Python objects
(not timed), then a bare `json.dumps` of it: what "build it in memory and dump it" costs in time
alone, before any database read.

Prints:
  BENCH export_coco_s, export_coco_peak_rss_mb, export_coco_base_rss_mb,
        export_coco_growth_rss_mb, export_coco_process_maxrss_mb                100k frames / 1M boxes
  BENCH export_mot_s, export_mot_peak_rss_mb, export_mot_base_rss_mb
  BENCH export_boxes, export_tracks                                           sanity (1000000, 10000)
  BENCH export_coco_bare_json_s, export_coco_vs_bare_json                     json.dumps of the same document
  BENCH export_coco_in_memory_rss_mb                                          RSS growth of holding that document
  BENCH export_coco_10k_s, export_coco_10k_peak_rss_mb                        10k images × 3 boxes
  BENCH export_mem_ratio_100k_vs_10k, export_growth_ratio_100k_vs_10k         peak RSS and its growth, 1M / 30k boxes
  BENCH export_goal_s, export_goal_rss_mb                                     60, 300
"""
from __future__ import annotations

from _setup import ROOT, django_environment, emit  # first: it fixes the import path

import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

SEQUENCES, FRAMES_PER_SEQUENCE, BOXES_PER_FRAME, TRACK_LENGTH = 10, 10_000, 10, 100
SMALL_FRAMES, SMALL_BOXES = 10_000, 3
WIDTH, HEIGHT = 1920, 1080
CLASSES = ("person", "car", "truck", "bicycle")


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def child(export_id: int) -> None:
    """Run one export job in this fresh process and report its time and memory as JSON."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from labeling.exchange import exports

    import threading

    base = rss_mb()
    sampled, done = [base], threading.Event()

    def sample() -> None:  # the RSS the export itself reaches (ru_maxrss also counts start-up)
        while not done.wait(0.05):
            sampled.append(rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    export = exports.run(export_id)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    peak = max(max(sampled), rss_mb())
    print(json.dumps({"status": export.status, "message": export.message, "s": seconds, "peak_mb": peak,
                      "base_mb": base, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "boxes": export.boxes, "tracks": export.tracks, "file": export.file_name}))


def run_child(export_id: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(export_id)], check=True, capture_output=True,
                         text=True, cwd=ROOT)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["status"] != "done":
        raise SystemExit(f"export {export_id} failed: {result['message']}")
    return result


def fill(project, version, classes, sequences: int, frames: int, boxes: int, track_length: int) -> None:
    """Frames, approved annotations and boxes by COPY, straight into the tables."""
    import numpy as np
    from django.db import connection
    from django.utils import timezone

    from labeling.models import Sequence

    rng = np.random.default_rng(7)
    now = timezone.now()
    class_ids = [classes[k].pk for k in CLASSES]
    for s in range(sequences):
        seq = Sequence.objects.create(dataset=project.dataset, name=f"{project.name}-seq{s:02d}", kind=Sequence.VIDEO,
                                      status=Sequence.READY, source_name="x.mp4", source_sha256="0" * 64,
                                      source_size=1, fps=25, width=WIDTH, height=HEIGHT, frame_count=frames)
        with connection.cursor() as cur:
            with cur.cursor.copy("COPY labeling_frame (sequence_id, index, source_index, source_name, sha256, ext, "
                                 "width, height, sensitive) FROM STDIN") as copy:
                for i in range(frames):
                    copy.write_row((seq.pk, i, i, "", f"{seq.pk:08d}{i:056d}", "jpg", WIDTH, HEIGHT, False))
            cur.execute("SELECT id, index FROM labeling_frame WHERE sequence_id = %s ORDER BY index", [seq.pk])
            frame_ids = [r[0] for r in cur.fetchall()]
            with cur.cursor.copy("COPY labeling_annotation (project_id, frame_id, ontology_version_id, revision, "
                                 "status, source, created_at, note, sequence_id, frame_index) FROM STDIN") as copy:
                for i, frame_id in enumerate(frame_ids):
                    copy.write_row((project.pk, frame_id, version.pk, 1, "approved", "consensus", now, "", seq.pk, i))
            cur.execute("SELECT id FROM labeling_annotation WHERE sequence_id = %s ORDER BY frame_index", [seq.pk])
            annotation_ids = [r[0] for r in cur.fetchall()]
            # track k of slot j lives on frames [k * L, (k + 1) * L), staggered by slot; it moves slowly
            start = rng.uniform(0, [WIDTH - 200, HEIGHT - 200], size=(boxes, frames // track_length + 2, 2))
            size = rng.uniform(20, 150, size=(boxes, frames // track_length + 2, 2))
            with cur.cursor.copy("COPY labeling_annotationbox (annotation_id, label_class_id, x, y, w, h, "
                                 "attributes, track_id) FROM STDIN") as copy:
                for i, annotation_id in enumerate(annotation_ids):
                    for j in range(boxes):
                        k = (i + j * track_length // boxes) // track_length
                        t = (i + j * track_length // boxes) % track_length
                        x, y = start[j, k] + t * 0.5
                        w, h = size[j, k]
                        copy.write_row((annotation_id, class_ids[(j + k) % 4], round(float(x), 2), round(float(y), 2),
                                        round(float(w), 2), round(float(h), 2), "{}", 1 + k * boxes + j))
    with connection.cursor() as cur:
        cur.execute("ANALYZE labeling_frame; ANALYZE labeling_annotation; ANALYZE labeling_annotationbox")


def main() -> None:
    with django_environment():
        import io
        import zipfile

        from django.core.files.storage import default_storage

        from labeling.exchange import exports
        from labeling.models import Dataset, Project
        from labeling.work.payloads import classes_of
        from ontology import services

        draft = services.create_ontology("Bench ontology")
        for n, key in enumerate(CLASSES):
            services.add_class(draft, key=key, name=key.title(), shortcut=str(n + 1))
        version = services.publish(draft)
        classes = classes_of(version.pk)
        big = Project.objects.create(name="big", dataset=Dataset.objects.create(name="big"), ontology_version=version)
        small = Project.objects.create(name="small", dataset=Dataset.objects.create(name="small"),
                                       ontology_version=version)
        started = time.perf_counter()
        fill(big, version, classes, SEQUENCES, FRAMES_PER_SEQUENCE, BOXES_PER_FRAME, TRACK_LENGTH)
        fill(small, version, classes, 1, SMALL_FRAMES, SMALL_BOXES, TRACK_LENGTH)
        print(f"# filled in {time.perf_counter() - started:.1f} s", flush=True)

        results = {}
        for name, project, fmt in (("coco", big, "coco"), ("mot", big, "mot"), ("coco_10k", small, "coco")):
            export = exports.create(project, None, format=fmt, enqueue=False)
            results[name] = run_child(export.pk)
            emit(f"export_{name}_s", results[name]["s"])
            emit(f"export_{name}_peak_rss_mb", results[name]["peak_mb"])
            emit(f"export_{name}_base_rss_mb", results[name]["base_mb"])
            emit(f"export_{name}_growth_rss_mb", results[name]["peak_mb"] - results[name]["base_mb"])
            emit(f"export_{name}_process_maxrss_mb", results[name]["maxrss_mb"])
        emit("export_boxes", results["coco"]["boxes"])
        emit("export_tracks", results["coco"]["tracks"])
        emit("export_mot_tracks", results["mot"]["tracks"])
        emit("export_mem_ratio_100k_vs_10k", results["coco"]["peak_mb"] / results["coco_10k"]["peak_mb"])
        emit("export_growth_ratio_100k_vs_10k", max(results["coco"]["peak_mb"] - results["coco"]["base_mb"], 0.1)
             / max(results["coco_10k"]["peak_mb"] - results["coco_10k"]["base_mb"], 0.1))

        with default_storage.open(results["coco"]["file"], "rb") as fh:
            with zipfile.ZipFile(io.BytesIO(fh.read())) as archive:
                text = archive.read("annotations/instances_default.json")
        before = rss_mb()
        document = json.loads(text)
        del text
        held = rss_mb() - before
        start = time.perf_counter()
        dumped = json.dumps(document)
        bare = time.perf_counter() - start
        assert len(document["annotations"]) == results["coco"]["boxes"] and dumped
        emit("export_coco_bare_json_s", bare)
        emit("export_coco_vs_bare_json", results["coco"]["s"] / bare)
        emit("export_coco_in_memory_rss_mb", held)
        emit("export_goal_s", 60)
        emit("export_goal_rss_mb", 300)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(int(sys.argv[2]))
    else:
        main()
