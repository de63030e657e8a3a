"""What COCO and MOT imports share: finding the frames a file talks about, collecting problems
with where they are, checking every box like a submission, and writing all-or-nothing.

An import is checked in full before anything is written: every problem is listed (file, line or
annotation id, and what is wrong), and a file with any error changes nothing. Harmless quirks of
files found in the wild are fixed and reported as notes (an `area` that was wrong, boxes that
overhang the frame edge, attributes the ontology does not have)."""
from __future__ import annotations

import math
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction

from labeling import audit
from labeling.models import Annotation, Frame, Membership, Project, QueueItem
from labeling.quality import gold
from labeling.work import payloads, submissions
from ontology.models import LabelClass

MAX_ERRORS = 200
MAX_IMPORT_BYTES = 512 * 1024 * 1024  # an upload, and what the members of a zip inflate to


def read_member(archive, name: str, filename: str) -> bytes:
    """A zip member's bytes, refused from its declared size before anything is inflated (a zip
    bomb: a few MB that would inflate to many GB). zipfile never inflates past the declared size."""
    size = archive.getinfo(name).file_size
    if size > MAX_IMPORT_BYTES:
        raise ImportRefused([f"{filename}:{name}: inflates to {size // 2**20:,} MiB, over the import limit of "
                             f"{MAX_IMPORT_BYTES // 2**20} MiB"])
    return archive.read(name)
PRELABEL, GOLD, ANNOTATOR = "prelabel", "gold", "annotator"
MODES = (PRELABEL, GOLD, ANNOTATOR)
MODEL_USERNAME = "aerie-model"


class ImportRefused(ValueError):
    """The file was refused and nothing changed; `errors` lists every problem found."""

    def __init__(self, errors: list[str], notes: list[str] | None = None):
        self.errors, self.notes = errors, notes or []
        shown = "; ".join(errors[:10]) + (f"; … and {len(errors) - 10} more" if len(errors) > 10 else "")
        super().__init__(f"{len(errors)} problem{'s' if len(errors) != 1 else ''}, nothing imported: {shown}")


class Problems:
    def __init__(self):
        self.errors: list[str] = []
        self._notes: dict[str, list[str]] = defaultdict(list)

    def error(self, where: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(f"{where}: {message}" if where else message)

    def note(self, what: str, where: str) -> None:
        self._notes[what].append(where)

    @property
    def notes(self) -> list[str]:
        out = []
        for what, places in self._notes.items():
            shown = ", ".join(places[:5]) + (f" and {len(places) - 5} more" if len(places) > 5 else "")
            out.append(f"{what} ({len(places)}: {shown})")
        return out

    def raise_if_any(self) -> None:
        if self.errors:
            raise ImportRefused(self.errors, self.notes)


@dataclass
class Item:
    """One frame's labels from the file, in the shape of a submission, with where each box came from."""

    frame: Frame
    where: str
    boxes: list[dict] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    tags: list[dict] = field(default_factory=list)


@dataclass
class ImportReport:
    format: str
    mode: str
    frames: int = 0
    boxes: int = 0
    tracks: int = 0
    annotations: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"format": self.format, "mode": self.mode, "frames": self.frames, "boxes": self.boxes,
                "tracks": self.tracks, "notes": self.notes}


def normalize(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


class ClassMatcher:
    """File class names to ontology classes: by key, then by display name, case and spaces aside."""

    def __init__(self, classes: dict[str, LabelClass], kinds=LabelClass.BOX_KINDS):
        self.by_name = {}
        for label in classes.values():
            if label.kind in kinds:
                self.by_name.setdefault(normalize(label.name), label)
        for label in classes.values():
            if label.kind in kinds:
                self.by_name[normalize(label.key)] = label

    def get(self, name) -> LabelClass | None:
        return self.by_name.get(normalize(name)) if isinstance(name, str) else None


class FrameLookup:
    """The project dataset's frames by (sequence, index), by file name inside the upload, by
    the name aerie's exports give them (`<sequence>/<index>.<ext>`) and by sha256."""

    def __init__(self, project: Project):
        from labeling.exchange.exports.coco import safe_name

        self.sequences: dict[str, int] = {}
        self.by_id: dict[int, str] = {}
        self.safe: dict[str, str] = {}
        self.lengths: dict[str, int] = {}
        self.by_position: dict[tuple[str, int], int] = {}
        self.by_source: dict[str, int] = {}
        self.by_base: dict[str, list[int]] = defaultdict(list)
        self.by_sha: dict[str, list[int]] = defaultdict(list)
        self.by_stem_name: dict[str, list[int]] = defaultdict(list)
        rows = (Frame.objects.filter(sequence__dataset_id=project.dataset_id)
                .values_list("id", "sequence_id", "sequence__name", "index", "source_name", "sha256"))
        for frame_id, seq_id, seq, index, source, sha in rows.iterator(chunk_size=5000):
            self.sequences[seq] = seq_id
            self.by_id[seq_id] = seq
            self.safe[safe_name(seq)] = seq
            self.lengths[seq] = max(self.lengths.get(seq, 0), index + 1)
            self.by_position[(seq, index)] = frame_id
            if source:
                self.by_source[_clean(source)] = frame_id
                self.by_base[os.path.basename(_clean(source))].append(frame_id)
                self.by_stem_name[os.path.splitext(os.path.basename(_clean(source)))[0]].append(frame_id)
            self.by_sha[sha].append(frame_id)

    def sequence(self, name: str) -> str | None:
        """The sequence a name in an upload means: its own name, its name made safe for a folder,
        or the neutral `sequence-<id>` that derived exports give it."""
        if name in self.sequences:
            return name
        if name in self.safe:
            return self.safe[name]
        neutral = re.fullmatch(r"sequence-(\d+)", name)
        return self.by_id.get(int(neutral.group(1))) if neutral else None

    def position(self, sequence: str, index: int) -> int | None:
        seq = self.sequence(sequence)
        return self.by_position.get((seq, index)) if seq else None

    def by_file(self, file_name: str) -> tuple[int | None, str]:
        """(frame id, '') or (None, why not)."""
        path = _clean(file_name)
        if path in self.by_source:
            return self.by_source[path], ""
        parts = path.split("/")
        # aerie's export name: <sequence>/<6-digit index>.<ext>, possibly under more folders
        if len(parts) >= 2 and re.fullmatch(r"\d+\.[A-Za-z0-9]+", parts[-1]):
            frame = self.position(parts[-2], int(parts[-1].split(".")[0]))
            if frame is not None:
                return frame, ""
        for n in range(1, len(parts)):  # subfolders the other tool added in front
            if "/".join(parts[n:]) in self.by_source:
                return self.by_source["/".join(parts[n:])], ""
        same = self.by_base.get(parts[-1], [])
        if len(same) == 1:
            return same[0], ""
        if len(same) > 1:
            return None, f"{len(same)} frames of this dataset have the file name '{parts[-1]}'; give its folder too"
        return None, "no frame of this dataset has this file name"


    def by_stem(self, stem: str) -> tuple[int | None, str]:
        """A frame named by a file stem, as the formats with one flat folder of images name them:
        aerie's `<sequence>_<index>` (exports.coco.frame_stem), else a unique source file stem."""
        match = re.fullmatch(r"(.+)_(\d+)", stem)
        if match:
            frame = self.position(match.group(1), int(match.group(2)))
            if frame is not None:
                return frame, ""
        same = self.by_stem_name.get(stem, [])
        if len(same) == 1:
            return same[0], ""
        if len(same) > 1:
            return None, f"{len(same)} frames of this dataset have the file name stem '{stem}'"
        return None, f"no frame of this dataset is named '{stem}' (aerie names frames <sequence>_<index>)"


def _clean(name: str) -> str:
    return str(name).replace("\\", "/").lstrip("./").strip("/") if name else ""


def number(value) -> float | None:
    """A finite number, or None (bools are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def fit_box(x: float, y: float, w: float, h: float, width: int, height: int) -> tuple[tuple | None, bool]:
    """The box clipped to the frame: (box, clipped), or (None, _) when nothing of it is inside."""
    x2, y2 = min(x + w, width), min(y + h, height)
    cx, cy = max(x, 0.0), max(y, 0.0)
    if x2 <= cx or y2 <= cy:
        return None, True
    clipped = (cx, cy, x2 - cx, y2 - cy) != (x, y, w, h)
    return ((cx, cy, x2 - cx, y2 - cy) if clipped else (x, y, w, h)), clipped


def keep_attributes(label: LabelClass, raw, where: str, problems: Problems) -> dict:
    """The attributes the ontology class defines; others (CVAT's occluded, rotation…) are left out
    with a note. Their values are checked like a submission's."""
    if not isinstance(raw, dict):
        return {}
    known = {a["key"] for a in label.attributes}
    dropped = sorted(set(raw) - known - {"track_id", "rotation"})
    if dropped:
        problems.note(f"attributes not in the ontology left out: {', '.join(dropped)}", where)
    return {k: v for k, v in raw.items() if k in known}


def renumber_tracks(items: list[Item], sequence_of: dict[int, int]) -> int:
    """Track ids from the file become 1… per sequence, in order of first appearance. Returns how many."""
    maps: dict[int, dict] = defaultdict(dict)
    for item in sorted(items, key=lambda i: (sequence_of[i.frame.pk], i.frame.index)):
        mapping = maps[sequence_of[item.frame.pk]]
        for box in item.boxes:
            if box.get("track_id") is not None:
                box["track_id"] = mapping.setdefault(box["track_id"], len(mapping) + 1)
    return sum(len(m) for m in maps.values())


def model_user():
    """The 'model' annotator that pre-labels belong to (cannot log in)."""
    user, created = get_user_model().objects.get_or_create(username=MODEL_USERNAME, defaults={"is_active": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def check_mode(project: Project, mode: str, annotator) -> None:
    if mode not in MODES:
        raise ImportRefused([f"mode: one of {', '.join(MODES)}"])
    if mode == ANNOTATOR:
        if annotator is None:
            raise ImportRefused(["annotator: whose work this is (a username of a project member)"])
        if not Membership.objects.filter(project=project, user=annotator).exists():
            raise ImportRefused([f"annotator: {annotator.username} is not a member of this project"])


def finish(project: Project, user, items: list[Item], problems: Problems, *, fmt: str, mode: str, annotator=None,
           filename: str = "") -> ImportReport:
    """Check every frame's labels like a submission, then write them all in one transaction."""
    classes = payloads.classes_of(project.ontology_version_id)
    seen: dict[int, str] = {}
    cleaned = []
    for item in items:
        if item.frame.pk in seen:
            problems.error(item.where, f"is the same frame as {seen[item.frame.pk]}")
            continue
        seen[item.frame.pk] = item.where
        try:
            cleaned.append((item, *payloads.validate({"boxes": item.boxes, "tags": item.tags}, classes, item.frame)))
        except submissions.SubmissionError as exc:
            match = re.match(r"boxes\[(\d+)\]\.?(.*)", exc.field or "")
            if match:
                rest = f".{match.group(2)}" if match.group(2) else ""
                problems.error(f"{item.sources[int(match.group(1))]}{rest}", str(exc).split(": ", 1)[-1])
            else:
                problems.error(item.where, str(exc))
    if mode == GOLD:
        queued = set(QueueItem.objects.filter(project=project, frame_id__in=[i.frame.pk for i in items])
                     .values_list("frame_id", flat=True))
        for item in items:
            if item.frame.pk not in queued:
                problems.error(item.where, "this frame is not in the project's queue, so it cannot be gold")
    if not items and not problems.errors:
        problems.error(filename, "holds no labels for any frame")
    problems.raise_if_any()
    report = ImportReport(fmt, mode, notes=problems.notes)
    owner = {PRELABEL: model_user() if mode == PRELABEL else None, GOLD: user, ANNOTATOR: annotator}[mode]
    source = Annotation.MODEL if mode == PRELABEL else Annotation.IMPORT
    with transaction.atomic():
        for item, boxes, tags in cleaned:
            head = submissions.head_revision(project.pk, item.frame.pk, owner.pk)
            annotation = submissions.store(project=project, frame=item.frame, boxes=boxes, tags=tags, source=source,
                                           status=Annotation.SUBMITTED, created_by=user, annotator=owner,
                                           supersedes=head, note=f"imported from {filename}"[:2000])
            if mode == GOLD:
                gold.mark(project, item.frame, user, answer=annotation)
            report.annotations.append(annotation.pk)
            report.frames += 1
            report.boxes += len(boxes)
        report.tracks = len({(item.frame.sequence_id, b.track_id) for item, boxes, _ in cleaned for b in boxes
                             if b.track_id})
        audit.record(user, f"import.{fmt}", project, {"file": filename, "mode": mode, "frames": report.frames,
                                                      "boxes": report.boxes, "annotator": owner.username,
                                                      "notes": report.notes[:20]})
    return report
