"""VisDrone import, DET and VID layouts: a zip with `annotations/*.txt` (aerie's `visdrone` and
`visdrone_vid` exports among them), or one annotation file.

- DET: 8 fields a line, `bbox_left,bbox_top,bbox_width,bbox_height,score,object_category,
  truncation,occlusion`; the file's stem names the image's frame (FrameLookup.by_stem).
- VID: 10 fields, `frame_index,target_id,` then the same; the file's stem names the sequence,
  frames are 1-based, a target id is a track (two boxes of one target on a frame: an error).
- Categories are named by `categories.txt` (`<id> <name>` a line; aerie's exports have one),
  else by VisDrone's twelve names; a name is an ontology class by key or display name, or
  mapped with `class_map` ({"pedestrian": "person", "others": null}).
- Left out, with a note: category 0 (ignored regions) and rows with score 0 (VisDrone's ground
  truth marks boxes to ignore that way). Occlusion 1 or 2 marks the box occluded; truncation is
  not kept. Boxes that overhang the frame are clipped (said so)."""
from __future__ import annotations

import posixpath

from labeling.exchange.exports.visdrone import CATEGORIES_FILE, VISDRONE
from labeling.exchange.imports import textfiles
from labeling.exchange.imports.common import FrameLookup, Item, Problems
from ontology.models import LabelClass

DET = ["bbox_left", "bbox_top", "bbox_width", "bbox_height", "score", "object_category", "truncation", "occlusion"]
VID = ["frame_index", "target_id"] + DET


def category_names(data: bytes, filename: str, problems: Problems) -> dict[int, str]:
    names = dict(enumerate(VISDRONE))
    found = textfiles.files(data, filename, lambda n: posixpath.basename(n) == CATEGORIES_FILE) \
        if data[:2] == b"PK" else []
    for where_file, _, text in found[:1]:
        names = {}
        for where, line in textfiles.lines(where_file, text, problems):
            number, _, name = line.partition(" ")
            if not number.isdigit() or not name.strip():
                problems.error(where, "a categories.txt line is '<id> <name>'")
                continue
            names[int(number)] = name.strip()
    return names


def parse(data: bytes, filename: str, project, classes: dict[str, LabelClass], problems: Problems, *,
          class_map: dict | None = None) -> list[Item]:
    names = category_names(data, filename, problems)
    resolver = textfiles.Classes(classes, class_map, project.ontology_version, problems)
    problems.raise_if_any()
    lookup = FrameLookup(project)
    found = textfiles.label_files(data, filename, "annotations")
    wanted: dict[int, list] = {}
    empty: set[int] = set()
    for where_file, name, text in found:
        stem = posixpath.splitext(posixpath.basename(name))[0]
        rows = textfiles.lines(where_file, text, problems)
        layout = len(rows[0][1].rstrip(",").split(",")) if rows else None
        if layout == 10 or (layout is None and lookup.sequence(stem)):
            sequence = lookup.sequence(stem)
            if sequence is None:
                problems.error(where_file, f"sequence '{stem}' (the file's name) is not in this project's dataset")
                continue
            frame_id = None
        else:
            sequence = None
            frame_id, why = lookup.by_stem(stem)
            if frame_id is None:
                problems.error(where_file, why)
                continue
            if not rows:
                empty.add(frame_id)
        targets: dict[tuple, int] = {}
        for where, line in rows:
            fields = [f.strip() for f in line.rstrip(",").split(",")]
            if len(fields) != layout or layout not in (8, 10):
                problems.error(where, f"{len(fields)} fields: VisDrone lines have 8 (DET) or 10 (VID), the same "
                                      f"on every line of a file")
                continue
            values = textfiles.floats(fields, where, problems, lambda n: (VID if layout == 10 else DET)[n])
            if values is None:
                continue
            if layout == 10:
                frame_no, target = values[:2]
                if not frame_no.is_integer() or not target.is_integer():
                    problems.error(where, "frame_index and target_id must be whole numbers")
                    continue
                frame_id = lookup.position(sequence, int(frame_no) - 1)
                if frame_id is None:
                    problems.error(where, f"frame {int(frame_no)} is not in sequence '{sequence}' "
                                          f"(frames 1–{lookup.lengths[sequence]})")
                    continue
                values = values[2:]
            x, y, w, h, score, category, _truncation, occlusion = values
            if score == 0:
                problems.note("rows with score 0 (ignored in evaluation) left out", where)
                continue
            if category == 0:
                problems.note("ignored regions (category 0) left out", where)
                continue
            if not category.is_integer() or int(category) not in names:
                problems.error(where, f"object_category {fields[-3]} has no name (categories.txt or VisDrone's)")
                continue
            try:
                label = resolver.resolve(names[int(category)])
            except KeyError as exc:
                problems.error(where, exc.args[0])
                continue
            if label is None:
                problems.note("boxes of classes mapped to null left out", where)
                continue
            if w <= 0 or h <= 0:
                problems.error(where, f"width and height must be positive, not {w:g}×{h:g}")
                continue
            box = {"class": label.key, "x": x, "y": y, "w": w, "h": h, "occluded": occlusion > 0}
            if layout == 10:
                key = (frame_id, int(target))
                if key in targets:
                    problems.error(where, f"target {int(target)} already has a box on frame {int(frame_no)} "
                                          f"(line {targets[key]})")
                    continue
                targets[key] = where.rsplit(" ", 1)[-1]
                box["track_id"] = (sequence, int(target))
            wanted.setdefault(frame_id, []).append((where, box))
    return textfiles.items(wanted, problems, empty=empty)
