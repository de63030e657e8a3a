"""DOTA import: a zip with `…/labelTxt/<stem>.txt` files (aerie's `dota` export among them), or
one such file.

- Header lines `imagesource:…` and `gsd:…` (DOTA v1.0) are read past.
- A line is `x1 y1 x2 y2 x3 y3 x4 y4 category difficult` (or without `difficult`), in pixels.
  `category` is a class name: an ontology class by key or display name, or mapped with
  `class_map` ({"large-vehicle": "truck", "helipad": null}). `difficult` 1 marks the box
  occluded (what aerie's export writes for an occluded box).
- Corners in DOTA's order (clockwise on screen from the object's head) become an oriented box
  for an oriented class, the enclosing box for another (said so when turned); quadrilaterals
  that are not rectangles get their minimum-area rectangle (said so). A turned box with a
  corner outside the frame is an error; an axis-aligned one overhanging it is clipped.
- The stem names the frame (FrameLookup.by_stem); an empty file marks its frame labelled with
  no objects."""
from __future__ import annotations

import posixpath

from labeling.exchange.imports import textfiles
from labeling.exchange.imports.common import FrameLookup, Item, Problems
from ontology.models import LabelClass

FIELDS = [f"{a}{n}" for n in range(1, 5) for a in "xy"] + ["category", "difficult"]
HEADERS = ("imagesource:", "gsd:")


def parse(data: bytes, filename: str, project, classes: dict[str, LabelClass], problems: Problems, *,
          class_map: dict | None = None) -> list[Item]:
    resolver = textfiles.Classes(classes, class_map, project.ontology_version, problems)
    problems.raise_if_any()
    lookup = FrameLookup(project)
    found = textfiles.label_files(data, filename, "labelTxt")
    wanted: dict[int, list] = {}
    empty: set[int] = set()
    for where_file, name, text in found:
        frame_id, why = lookup.by_stem(posixpath.splitext(posixpath.basename(name))[0])
        if frame_id is None:
            problems.error(where_file, why)
            continue
        rows = [(where, line) for where, line in textfiles.lines(where_file, text, problems)
                if not line.lower().startswith(HEADERS)]
        if not rows:
            empty.add(frame_id)
        for where, line in rows:
            fields = line.split()
            if len(fields) not in (9, 10):
                problems.error(where, f"{len(fields)} fields: DOTA lines are x1 y1 x2 y2 x3 y3 x4 y4 category "
                                      f"[difficult]")
                continue
            coords = textfiles.floats(fields[:8], where, problems, lambda n: FIELDS[n])
            if coords is None:
                continue
            difficult = fields[9] if len(fields) == 10 else "0"
            if difficult not in ("0", "1"):
                problems.error(where, f"difficult is 0 or 1, not '{difficult[:20]}'")
                continue
            try:
                label = resolver.resolve(fields[8])
            except KeyError as exc:
                problems.error(where, exc.args[0])
                continue
            if label is None:
                problems.note("boxes of classes mapped to null left out", where)
                continue
            box = textfiles.corner_box([(coords[i], coords[i + 1]) for i in range(0, 8, 2)], label, where, problems)
            if box is None:
                continue
            box["occluded"] = difficult == "1"
            wanted.setdefault(frame_id, []).append((where, box))
    return textfiles.items(wanted, problems, empty=empty)
