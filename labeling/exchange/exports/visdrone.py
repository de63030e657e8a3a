"""VisDrone exports: DET (`visdrone`, per image) and VID (`visdrone_vid`, per sequence).

- DET: `annotations/<sequence>_<index>.txt` (and `images/<same stem>.<ext>`), one line per box:
  `bbox_left,bbox_top,bbox_width,bbox_height,score,object_category,truncation,occlusion`.
- VID: `annotations/<sequence>.txt` (and `sequences/<sequence>/<frame, 7 digits>.<ext>`), one
  line per box: `frame_index,target_id,bbox_left,…,occlusion`; frames 1-based (aerie's index
  + 1), target ids 1… per sequence, one per track, a box without a track gets an id of its own.
- Categories: VisDrone's twelve (0 ignored regions, 1 pedestrian, 2 people, 3 bicycle, 4 car,
  5 van, 6 truck, 7 tricycle, 8 awning-tricycle, 9 bus, 10 motor, 11 others). A box class whose
  key or name is a VisDrone category's name (case, spaces, '-' and '_' aside) gets its id; any
  other box class gets the next id from 12 on, in the ontology's class order. `categories.txt`
  names every id (`<id> <name>`, VisDrone's name or the class key), so nothing is ambiguous, and
  aerie's import reads it back (a class_map there maps names to classes, as for MOT).
- score 1 (an annotation to evaluate), truncation 0 (aerie does not record it), occlusion 1
  (partial) for a box marked occluded, else 0. Oriented boxes: their enclosing axis-aligned box.
- Pixel numbers: whole numbers without a fraction, others with the shortest exact repr.
"""
from __future__ import annotations

import re

from labeling.exchange.exports import perimage
from labeling.exchange.exports import selection as scopes
from labeling.exchange.exports.coco import categories, safe_name
from labeling.exchange.exports.mot import num
from labeling.models import Frame
from ontology.models import LabelClass

VISDRONE = ["ignored regions", "pedestrian", "people", "bicycle", "car", "van", "truck", "tricycle",
            "awning-tricycle", "bus", "motor", "others"]
CATEGORIES_FILE = "categories.txt"


def normalize(name: str) -> str:
    """A name compared by its letters: case, spaces, '-' and '_' aside (as imports match classes)."""
    return re.sub(r"[\s\-_]+", "_", str(name).strip().lower())


def category_ids(classes: dict[str, LabelClass]) -> tuple[dict[int, int], list[str]]:
    """(label class id → VisDrone category id, name of every id 0…)."""
    known = {normalize(name): n for n, name in enumerate(VISDRONE)}
    names = list(VISDRONE)
    out = {}
    for label in categories(classes):
        match = known.get(normalize(label.key), known.get(normalize(label.name)))
        if match is None or match == 0:
            out[label.pk] = len(names)
            names.append(label.key)
        else:
            out[label.pk] = match
    return out, names


def _row(box: scopes.Box, frame: scopes.FrameLabels, category: int) -> str:
    x, y, w, h = perimage.axis_aligned(box, frame.width, frame.height)
    return f"{num(x)},{num(y)},{num(w)},{num(h)},1,{category},0,{1 if box.occluded else 0}"


def _categories_txt(names: list[str]) -> bytes:
    return "".join(f"{n} {name}\n" for n, name in enumerate(names)).encode()


def write(archive, scope: scopes.Scope, classes: dict[str, LabelClass], *, images=None,
          progress=lambda n: None) -> dict:
    ids, names = category_ids(classes)

    def lines(frame):
        return [_row(box, frame, ids[box.class_id]) + "\n" for box in perimage.boxes(frame)]

    stats = perimage.write(archive, scope, label_path=lambda stem: f"annotations/{stem}.txt",
                           image_path=lambda stem, ext: f"images/{stem}.{ext}", lines=lines, images=images,
                           progress=progress)
    archive.add_bytes(CATEGORIES_FILE, _categories_txt(names))
    return stats


def write_vid(archive, scope: scopes.Scope, classes: dict[str, LabelClass], *, images=None,
              progress=lambda n: None) -> dict:
    from labeling.footage import blobstore

    ids, names = category_ids(classes)
    stats = {"frames": 0, "boxes": 0, "tracks": 0}
    for sequence in scope.sequences:
        folder = safe_name(scope.name_of(sequence))
        targets: dict[int, int] = {}
        next_id = 1
        with archive.open(f"annotations/{folder}.txt") as out:
            for frame in scopes.frames(scope, sequence, tags=False):
                rows = []
                for box in perimage.boxes(frame):
                    if box.track_id is None:
                        target, next_id = next_id, next_id + 1
                    else:
                        target = targets.get(box.track_id)
                        if target is None:
                            target = targets[box.track_id] = next_id
                            next_id += 1
                    rows.append((target, f"{frame.index + 1},{target},{_row(box, frame, ids[box.class_id])}\n"))
                rows.sort(key=lambda r: r[0])
                out.write("".join(line for _, line in rows))
                stats["frames"] += 1
                stats["boxes"] += len(rows)
                progress(1)
        stats["tracks"] += next_id - 1
        if images is not None:
            images.load_sequence(sequence)
            frames = Frame.objects.filter(sequence=sequence).order_by("index").values_list("id", "index", "sha256",
                                                                                              "ext")
            for frame_id, index, sha, ext in frames.iterator(chunk_size=2000):
                blob = images.file_for(frame_id, sha, ext)
                if blob is not None:
                    with blobstore.open_blob(blob) as fh:
                        archive.add_file(f"sequences/{folder}/{index + 1:07d}.{images.ext(ext)}", fh)
                progress(1)
    archive.add_bytes(CATEGORIES_FILE, _categories_txt(names))
    return stats
