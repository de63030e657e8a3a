"""YOLO import (Ultralytics layout, detection and OBB): a zip with `data.yaml` and
`labels/**/<stem>.txt`, aerie's `yolo` and `yolo_obb` exports among them.

- `data.yaml`'s `names` (a list, or {id: name}) names the class ids; each name is an ontology
  class by key or display name, or mapped with `class_map` ({"boat": "ship", "misc": null}).
  An id without a name, or a name that is no box class of the project's version, is an error
  on the line that uses it.
- A line of 5 fields is `class cx cy w h`; of 9, `class x1 y1 … x4 y4` (YOLO-OBB): all
  normalised 0–1 (a coordinate outside 0–1 is an error). Corners become an oriented box for an
  oriented class, the enclosing box for another (labeling.exchange.imports.textfiles).
- A label file names its frame by its stem: aerie's `<sequence>_<index>`, or a unique source
  file stem of the dataset (imports.common.FrameLookup.by_stem). An empty label file marks its
  frame labelled with no objects."""
from __future__ import annotations

import posixpath

from labeling.exchange.imports import textfiles
from labeling.exchange.imports.common import FrameLookup, ImportRefused, Item, Problems
from labeling.models import Frame
from ontology.models import LabelClass

FIELDS = {5: ["class", "cx", "cy", "w", "h"], 9: ["class"] + [f"{a}{n}" for n in range(1, 5) for a in "xy"]}
NORMALISED_TOLERANCE = 1e-6


def _is_label_file(name: str) -> bool:
    parts = name.split("/")
    return name.endswith(".txt") and "labels" in parts[:-1]


def class_names(data: bytes, filename: str) -> dict[int, str]:
    """{id: name} from data.yaml (refused, naming the problem, if it has none)."""
    import yaml

    found = textfiles.files(data, filename, lambda n: posixpath.basename(n) in ("data.yaml", "data.yml"))
    if data[:2] != b"PK":
        raise ImportRefused([f"{filename}: a YOLO import is a zip with data.yaml and labels/…/*.txt"])
    if not found:
        raise ImportRefused([f"{filename}: no data.yaml in the zip (it names the class ids)"])
    where, _, text = min(found, key=lambda f: f[1].count("/"))
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ImportRefused([f"{where}: not YAML ({str(exc).splitlines()[0]})"]) from None
    names = doc.get("names") if isinstance(doc, dict) else None
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names or not all(isinstance(k, int) and isinstance(v, str)
                                                           for k, v in names.items()):
        raise ImportRefused([f"{where}: 'names' must list the class names (a list, or id: name)"])
    return names


def parse(data: bytes, filename: str, project, classes: dict[str, LabelClass], problems: Problems, *,
          class_map: dict | None = None) -> list[Item]:
    names = class_names(data, filename)
    resolver = textfiles.Classes(classes, class_map, project.ontology_version, problems)
    problems.raise_if_any()
    lookup = FrameLookup(project)
    label_files = textfiles.files(data, filename, _is_label_file)
    if not label_files:
        raise ImportRefused([f"{filename}: no labels/…/*.txt in the zip"])
    wanted: dict[int, list] = {}
    empty: set[int] = set()
    seen: dict[int, str] = {}
    todo = []  # (frame id, its lines)
    for where_file, name, text in label_files:
        stem = posixpath.splitext(posixpath.basename(name))[0]
        frame_id, why = lookup.by_stem(stem)
        if frame_id is None:
            problems.error(where_file, why)
            continue
        if frame_id in seen:
            problems.error(where_file, f"is the same frame as {seen[frame_id]}")
            continue
        seen[frame_id] = where_file
        rows = textfiles.lines(where_file, text, problems)
        if not rows:
            empty.add(frame_id)
        todo.append((frame_id, rows))
    frames = Frame.objects.in_bulk(list(seen))
    for frame_id, rows in todo:
        frame = frames[frame_id]
        for where, line in rows:
            fields = line.split()
            if len(fields) not in FIELDS:
                problems.error(where, f"{len(fields)} fields: YOLO lines have 5 (class cx cy w h) or 9 "
                                      f"(class x1 y1 … x4 y4)")
                continue
            values = textfiles.floats(fields, where, problems, lambda n: FIELDS[len(fields)][n])
            if values is None:
                continue
            if not values[0].is_integer() or int(values[0]) not in names:
                problems.error(where, f"class id {fields[0]} is not in data.yaml's names")
                continue
            if any(v < -NORMALISED_TOLERANCE or v > 1 + NORMALISED_TOLERANCE for v in values[1:]):
                problems.error(where, "coordinates must be normalised to 0–1 by the image size")
                continue
            try:
                label = resolver.resolve(names[int(values[0])])
            except KeyError as exc:
                problems.error(where, exc.args[0])
                continue
            if label is None:
                problems.note("boxes of classes mapped to null left out", where)
                continue
            W, H = frame.width, frame.height
            if len(values) == 5:
                cx, cy, w, h = values[1:]
                if w <= 0 or h <= 0:
                    problems.error(where, f"width and height must be positive, not {w:g}×{h:g}")
                    continue
                box = {"class": label.key, "x": (cx - w / 2) * W, "y": (cy - h / 2) * H, "w": w * W, "h": h * H}
            else:
                points = [(values[i] * W, values[i + 1] * H) for i in range(1, 9, 2)]
                box = textfiles.corner_box(points, label, where, problems)
                if box is None:
                    continue
            wanted.setdefault(frame_id, []).append((where, box))
    return textfiles.items(wanted, problems, frames, empty)
