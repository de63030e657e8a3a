"""What the imports of text-file formats (YOLO, VisDrone, DOTA) share: the files of an upload (a
zip, or one file), their lines, class names to ontology classes (with a `class_map`), four
corners to a box of the class's kind, and the boxes gathered per frame, clipped and checked.

Every problem is reported with the file and line (`<upload>:<member> line <n>`), through
common.Problems, and nothing is written unless the whole upload is clean (common.finish)."""
from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

from labeling.exchange.imports.common import (
    MAX_IMPORT_BYTES,
    ClassMatcher,
    ImportRefused,
    Item,
    Problems,
    fit_box,
    read_member,
)
from labeling.models import Frame
from labeling.work import oriented
from labeling.work.payloads import ORIENTED_TOLERANCE
from ontology.models import LabelClass

#: how far from a right angle (degrees) a turned box of an axis-aligned class may be before the
#: note says it was replaced by its enclosing box
AXIS_TOLERANCE = 1e-3


def files(data: bytes, filename: str, wanted: Callable[[str], bool]) -> list[tuple[str, str, bytes]]:
    """(where, member name, bytes) of the upload's files that `wanted` picks, by name; a single
    file (not a zip) is itself, named `filename`."""
    if data[:2] != b"PK":
        return [(filename, filename, data)]
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ImportRefused([f"{filename}: not a readable zip ({exc})"]) from None
    names = sorted(n for n in archive.namelist() if not n.endswith("/") and wanted(n))
    inflated = sum(archive.getinfo(n).file_size for n in names)
    if inflated > MAX_IMPORT_BYTES:
        raise ImportRefused([f"{filename}: its label files inflate to {inflated // 2**20:,} MiB, over the import "
                             f"limit of {MAX_IMPORT_BYTES // 2**20} MiB"])
    return [(f"{filename}:{n}", n, read_member(archive, n, filename)) for n in names]


def lines(where: str, data: bytes, problems: Problems) -> list[tuple[str, str]]:
    """(where with the line number, stripped line) of the non-blank lines of a UTF-8 text."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.error(where, "not UTF-8 text")
        return []
    return [(f"{where} line {n}", line.strip()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def floats(fields: list[str], where: str, problems: Problems, what: Callable[[int], str]) -> list[float] | None:
    """The fields as finite numbers, or None after reporting the first that is not one."""
    out = []
    for n, field in enumerate(fields):
        try:
            value = float(field)
        except ValueError:
            value = None
        if value is None or value != value or value in (float("inf"), float("-inf")):
            problems.error(where, f"field {n + 1} ({what(n)}) '{field[:30]}' is not a number")
            return None
        out.append(value)
    return out


def label_files(data: bytes, filename: str, folder: str) -> list[tuple[str, str, bytes]]:
    """The `<folder>/*.txt` label files of an upload (DOTA's labelTxt, VisDrone's annotations);
    refused when there are none."""
    found = files(data, filename, lambda n: n.endswith(".txt") and folder in n.split("/")[:-1])
    if not found:
        raise ImportRefused([f"{filename}: no {folder}/*.txt in the zip"])
    return found


class Classes:
    """Class names in a file to ontology class keys: `class_map` first ({"pedestrian": "person",
    "ignored": null}, null leaving such boxes out), then the ontology's key or display name."""

    def __init__(self, classes: dict[str, LabelClass], class_map: dict | None, version, problems: Problems):
        self.matcher, self.version = ClassMatcher(classes), version
        self.labels = classes
        self.mapping = {str(k).strip().lower(): v for k, v in (class_map or {}).items()}
        for key, target in self.mapping.items():
            if target is not None and self.matcher.get(target) is None:
                problems.error("class_map", f"'{key}' maps to '{target}', which is not a box class of {version}")

    def resolve(self, name: str) -> LabelClass | None:
        """The class, None when the map leaves it out; KeyError (the reason) when unknown."""
        if name.strip().lower() in self.mapping:
            target = self.mapping[name.strip().lower()]
            return None if target is None else self.matcher.get(target)
        label = self.matcher.get(name)
        if label is None:
            raise KeyError(f"class '{name}' is not a box class of {self.version}; map it to one with class_map "
                           f"(or to null to leave it out)")
        return label


def corner_box(points: list[tuple[float, float]], label: LabelClass, where: str, problems: Problems) -> dict | None:
    """A box for `label` from four corners in pixels: an oriented class keeps the turn, any other
    class gets the enclosing axis-aligned box (said so when the corners were turned). Corners
    that are not a rectangle are fitted with their minimum-area rectangle (said so)."""
    shape = oriented.from_corners(points)
    if shape is None:
        shape = oriented.fit(points)
        if shape is None:
            problems.error(where, "the four corners enclose no area")
            return None
        problems.note("quadrilaterals that are not rectangles fitted with their minimum-area rectangle", where)
    x, y, w, h, angle = shape
    if label.kind == LabelClass.OBOX:
        return {"class": label.key, "x": x, "y": y, "w": w, "h": h, "angle": angle}
    if abs(angle) > AXIS_TOLERANCE and abs(abs(angle) - 90) > AXIS_TOLERANCE:
        problems.note(f"turned boxes of axis-aligned classes stored as their enclosing box", where)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return {"class": label.key, "x": min(xs), "y": min(ys), "w": max(xs) - min(xs), "h": max(ys) - min(ys)}


def items(wanted: dict[int, list[tuple[str, dict]]], problems: Problems, frames: dict[int, Frame] | None = None,
          empty: set[int] = frozenset(), first_number: int = 0) -> list[Item]:
    """One Item per frame from (where, box) pairs: axis-aligned boxes that overhang the frame are
    clipped to it (said so), a box entirely outside or a turned box with a corner outside is an
    error. Frames in `empty` (a label file with no lines) become labelled frames with no boxes.
    `first_number`: what the format calls a sequence's first frame in messages (MOT: 1)."""
    frames = frames or Frame.objects.in_bulk(list(set(wanted) | set(empty)))
    out = []
    for frame_id in sorted(set(wanted) | set(empty), key=lambda f: (frames[f].sequence_id, frames[f].index)):
        frame = frames[frame_id]
        item = Item(frame, f"frame {frame.index + first_number} of sequence {frame.sequence_id}")
        for where, box in wanted.get(frame_id, []):
            if "angle" in box:
                if not oriented.inside(box["x"], box["y"], box["w"], box["h"], box["angle"], frame.width,
                                       frame.height, ORIENTED_TOLERANCE):
                    problems.error(where, f"a corner of the turned box lies outside the {frame.width}×{frame.height} "
                                          f"frame")
                    continue
            else:
                fitted, clipped = fit_box(box["x"], box["y"], box["w"], box["h"], frame.width, frame.height)
                if fitted is None:
                    problems.error(where, f"the box lies entirely outside the {frame.width}×{frame.height} frame")
                    continue
                if clipped:
                    problems.note("boxes overhanging the frame edge clipped to it", where)
                    box["x"], box["y"], box["w"], box["h"] = fitted
            item.boxes.append(box)
            item.sources.append(where)
        out.append(item)
    return out
