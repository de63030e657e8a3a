"""MOT import: MOTChallenge ground truth, as a zip of sequence folders (`<seq>/gt/gt.txt`, with
`gt/labels.txt` and `seqinfo.ini` if present; aerie's MOT export is one) or a single gt.txt for a
named sequence.

Layouts, told apart by the number of columns (the same on every line of a file):
- MOT16+ (9): frame, id, x, y, w, h, conf, class, visibility;
- MOT15 (10): frame, id, x, y, w, h, conf, world x, y, z: no class column;
- 6 or 7 columns: frame, id, x, y, w, h[, conf]: no class column.
Classes: `gt/labels.txt` (line n names class n) if present, else MOTChallenge's class names; a
`class_map` ({"pedestrian": "person", "distractor": null}) maps file names to ontology keys, null
leaving them out; files without a class column need `default_class`.
Rows with conf 0 are MOT's "ignore" marks and are left out (said so). Frames are 1-based in the
sequence (frame n is aerie's frame index n - 1). Boxes that overhang the frame edge are clipped
(MOT ground truth often marks partly visible people that way, said so); a box entirely outside the
frame, non-numeric fields, unknown frames or classes, and two boxes of one track on one frame are
errors naming the file and line."""
from __future__ import annotations

import io
import posixpath
import zipfile

from labeling.exchange.imports import textfiles
from labeling.exchange.imports.common import (
    MAX_IMPORT_BYTES,
    ClassMatcher,
    FrameLookup,
    ImportRefused,
    Item,
    Problems,
    read_member,
)
from ontology.models import LabelClass

MOT_CLASSES = ["pedestrian", "person on vehicle", "car", "bicycle", "motorbike", "non motorized vehicle",
               "static person", "distractor", "occluder", "occluder on the ground", "occluder full", "reflection"]
COLUMNS = ["frame", "id", "x", "y", "w", "h", "conf", "class", "visibility", "z"]


def sources(data: bytes, filename: str, sequence: str | None) -> list[tuple[str, str, bytes, list[str] | None]]:
    """(where, sequence name, gt bytes, class names or None) for each sequence in the upload."""
    if data[:2] != b"PK":
        if not sequence:
            raise ImportRefused([f"{filename}: a single MOT file needs the sequence it belongs to (sequence)"])
        return [(filename, sequence, data, None)]
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ImportRefused([f"{filename}: not a readable zip ({exc})"]) from None
    names = set(archive.namelist())
    inflated = sum(archive.getinfo(n).file_size for n in names if n.endswith("gt/gt.txt"))
    if inflated > MAX_IMPORT_BYTES:
        raise ImportRefused([f"{filename}: its gt.txt files inflate to {inflated // 2**20:,} MiB, over the import "
                             f"limit of {MAX_IMPORT_BYTES // 2**20} MiB"])
    found = []
    for name in sorted(n for n in names if n.endswith("gt/gt.txt")):
        gt_dir = posixpath.dirname(name)
        folder = posixpath.dirname(gt_dir)
        seq_name = posixpath.basename(folder) or sequence
        info = posixpath.join(folder, "seqinfo.ini")
        if info in names:
            for line in read_member(archive, info, filename).decode(errors="replace").splitlines():
                key, _, value = line.partition("=")
                if key.strip().lower() == "name" and value.strip():
                    seq_name = value.strip()
        labels = posixpath.join(gt_dir, "labels.txt")
        classes = None
        if labels in names:
            text = read_member(archive, labels, filename).decode(errors="replace")
            classes = [line.strip() for line in text.splitlines()]
        found.append((name, seq_name, read_member(archive, name, filename), classes))
    if not found:
        raise ImportRefused([f"{filename}: no <sequence>/gt/gt.txt in the zip"])
    return found


def _class_resolver(where, class_names, class_map, default_class, matcher, version, problems):
    """A function: class id in the file (or None) -> ontology key, None to leave the row out, or
    raise KeyError with the reason."""
    mapping = {str(k).strip().lower(): v for k, v in (class_map or {}).items()}

    def resolve(class_id):
        if class_id is None:
            if not default_class:
                raise KeyError("the file has no class column: say which class its boxes are (default_class)")
            return default_class
        names = class_names if class_names is not None else MOT_CLASSES
        name = names[class_id - 1] if 1 <= class_id <= len(names) else None
        for key in (name.lower() if name else None, str(class_id)):
            if key is not None and key in mapping:
                return mapping[key]
        label = matcher.get(name) if name else None
        if label is None:
            shown = f"'{name}'" if name else "unnamed"
            raise KeyError(f"class {class_id} ({shown}) is not a box class of {version}; map it with class_map")
        return label.key

    return resolve


def parse(data: bytes, filename: str, project, classes: dict[str, LabelClass], problems: Problems, *,
          sequence: str | None = None, class_map: dict | None = None, default_class: str | None = None) -> list[Item]:
    matcher = ClassMatcher(classes)
    version = project.ontology_version
    if default_class is not None and matcher.get(default_class) is None:
        raise ImportRefused([f"default_class: '{default_class}' is not a box class of {version}"])
    for key, target in (class_map or {}).items():
        if target is not None and matcher.get(target) is None:
            problems.error("class_map", f"'{key}' maps to '{target}', which is not a box class of {version}")
    problems.raise_if_any()
    default_key = matcher.get(default_class).key if default_class else None
    lookup = FrameLookup(project)
    wanted: dict[int, list] = {}  # frame id -> [(where, box)]
    for where_file, seq_name, text, class_names in sources(data, filename, sequence):
        seq = lookup.sequence(seq_name)
        if seq is None:
            problems.error(where_file, f"sequence '{seq_name}' is not in this project's dataset")
            continue
        resolve = _class_resolver(where_file, class_names, class_map, default_key, matcher, version, problems)
        length = lookup.lengths[seq]
        layout, tracks_on_frame = None, {}
        try:
            lines = text.decode("utf-8-sig").splitlines()
        except UnicodeDecodeError:
            problems.error(where_file, "not UTF-8 text")
            continue
        for number, line in enumerate(lines, start=1):
            where = f"{where_file} line {number}"
            if not line.strip():
                continue
            fields = [f.strip() for f in (line.split(",") if "," in line else line.split())]
            if layout is None:
                layout = len(fields)
                if layout not in (6, 7, 9, 10):
                    problems.error(where, f"{layout} columns: MOT files have 6, 7, 9 (MOT16+) or 10 (MOT15)")
                    break
            if len(fields) != layout:
                problems.error(where, f"{len(fields)} columns where the file's first line has {layout}")
                continue
            values = []
            for n, text_value in enumerate(fields):
                try:
                    values.append(float(text_value))
                except ValueError:
                    problems.error(where, f"column {n + 1} ({COLUMNS[n] if layout != 10 or n < 7 else 'world'}) "
                                          f"'{text_value[:30]}' is not a number")
                    break
            if len(values) != layout:
                continue
            frame_no, track, x, y, w, h = values[:6]
            if not frame_no.is_integer() or not track.is_integer():
                problems.error(where, "frame and id must be whole numbers")
                continue
            frame_no, track = int(frame_no), int(track)
            conf = values[6] if layout >= 7 else 1.0
            if conf == 0:
                problems.note("rows marked ignore (conf 0) left out", where)
                continue
            class_id = int(values[7]) if layout == 9 else None
            if not 1 <= frame_no <= length:
                problems.error(where, f"frame {frame_no} is not in sequence '{seq}' (frames 1–{length})")
                continue
            try:
                key = resolve(class_id)
            except KeyError as exc:
                problems.error(where, exc.args[0])
                continue
            if key is None:
                problems.note("rows of classes mapped to null left out", where)
                continue
            if w <= 0 or h <= 0:
                problems.error(where, f"width and height must be positive, not {w:g}×{h:g}")
                continue
            if track in tracks_on_frame.setdefault(frame_no, {}):
                problems.error(where, f"track {track} already has a box on frame {frame_no} "
                                      f"(line {tracks_on_frame[frame_no][track]})")
                continue
            tracks_on_frame[frame_no][track] = number
            frame_id = lookup.position(seq, frame_no - 1)
            wanted.setdefault(frame_id, []).append((where, {"class": key, "x": x, "y": y, "w": w, "h": h,
                                                            "track_id": (seq, track) if track > 0 else None}))
    return textfiles.items(wanted, problems, first_number=1)
