"""MOT export in the MOTChallenge layout, streamed: one folder per sequence (per sequence and
annotator for a raw export) with

- `gt/gt.txt`: `frame,id,x,y,w,h,conf,class,visibility`, one line per box, frames 1-based in
  sequence order (frame index + 1, so lines stay aligned with the video even where frames have no
  labels), sorted by frame then id; ids 1… in order of first appearance, one per track (a box
  without a track is a track of its own), so ids never repeat across tracks; conf 1; class = the
  COCO category id of the same ontology version; visibility from a `visibility` attribute in
  [0, 1], else 0 for a box marked occluded (as datumaro and CVAT write it), else 1; a
  track's frames where its object is outside the view have no line;
- `gt/provenance.txt` (when any box was not drawn by hand): `frame,id,source,model_version` for
  boxes from a model's suggestion, adjusted suggestions, propagated and interpolated ones;
- `gt/labels.txt`: the class keys, line n = class n;
- `seqinfo.ini`: name, imDir, frameRate (an integer, as MOT tools parse it), seqLength, imWidth,
  imHeight, imExt;
- optionally `img1/000001.jpg`… (every frame of the sequence).
"""
from __future__ import annotations

import json

from django.db.models import Max

from labeling.exchange.exports import facts
from labeling.exchange.exports import selection as scopes
from labeling.exchange.exports.coco import categories, safe_name
from labeling.models import Frame
from labeling.work.oriented import enclosing
from ontology.models import LabelClass


def num(value: float) -> str:
    """A float as MOT text: integers without a fraction, others with the shortest exact repr."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


OCCLUDED_VISIBILITY = "0"  # as datumaro and CVAT write an occluded box (1 − occluded); read back as occluded


def _visibility(attributes_text: str, occluded: bool = False) -> str:
    if "visibility" not in attributes_text:
        return OCCLUDED_VISIBILITY if occluded else "1"
    value = json.loads(attributes_text).get("visibility")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
        return num(value)
    return OCCLUDED_VISIBILITY if occluded else "1"


def frame_rate(sequence) -> int:
    fps = sequence.target_fps or ((sequence.fps / max(sequence.stride, 1)) if sequence.fps else None)
    return max(1, round(fps)) if fps else 1


def seqinfo(name: str, sequence, length: int, ext: str) -> str:
    return (f"[Sequence]\nname={name}\nimDir=img1\nframeRate={frame_rate(sequence)}\nseqLength={length}\n"
            f"imWidth={sequence.width or 0}\nimHeight={sequence.height or 0}\nimExt=.{ext}\n")


def folders(scope: scopes.Scope, sequence) -> list[tuple[int | None | bool, str]]:
    """(annotator filter, folder name) of the sequence's folders; none if nothing is in scope."""
    people = scopes.annotators(scope, sequence)
    name = safe_name(scope.name_of(sequence))
    if scope.scope != "raw":
        return [(False, name)] if people else []
    return [(user_id, f"{name}__{safe_name(username or 'none')}") for user_id, username in people]


def write(archive, scope: scopes.Scope, classes: dict[str, LabelClass], *, images=None,
          progress=lambda n: None) -> dict:
    cats = categories(classes)
    class_of = {c.pk: n for n, c in enumerate(cats, start=1)}
    labels_txt = "".join(f"{c.key}\n" for c in cats)
    stats = {"frames": 0, "boxes": 0, "tracks": 0}
    for sequence in scope.sequences:
        telemetry, conditions = facts.sequence_facts(sequence.pk, scope.level)
        numbers = [(pk, index + 1) for pk, index in
                   Frame.objects.filter(sequence=sequence).order_by("index").values_list("pk", "index")] \
            if telemetry or conditions else []
        sidecar = facts.telemetry_txt(numbers, telemetry, conditions)
        for annotator, folder in folders(scope, sequence):
            ids: dict[int, int] = {}
            next_id = 1
            provenance = []
            with archive.open(f"{folder}/gt/gt.txt") as out:
                for frame in scopes.frames(scope, sequence, tags=False, annotator_id=annotator):
                    rows = []
                    for labels in frame.labels:
                        for box in labels.boxes:
                            class_id, x, y, w, h, track_id, attributes = box[:7]
                            if box.angle:  # an oriented box: its enclosing box
                                x, y, w, h = enclosing(x, y, w, h, box.angle)
                            if track_id is None:
                                track, next_id = next_id, next_id + 1
                            else:
                                track = ids.get(track_id)
                                if track is None:
                                    track = ids[track_id] = next_id
                                    next_id += 1
                            rows.append((track, f"{frame.index + 1},{track},{num(x)},{num(y)},{num(w)},{num(h)},1,"
                                                f"{class_of[class_id]},{_visibility(attributes, box.occluded)}\n"))
                            if box.source != "drawn":
                                provenance.append(f"{frame.index + 1},{track},{box.source},{box.model_version_id or ''}\n")
                    rows.sort(key=lambda r: r[0])
                    out.write("".join(line for _, line in rows))
                    stats["frames"] += 1
                    stats["boxes"] += len(rows)
                    progress(1)
            stats["tracks"] += next_id - 1
            archive.add_bytes(f"{folder}/gt/labels.txt", labels_txt.encode())
            if provenance:
                archive.add_bytes(f"{folder}/gt/provenance.txt",
                                  ("frame,id,source,model_version\n" + "".join(provenance)).encode())
            first = Frame.objects.filter(sequence=sequence).order_by("index").values_list("ext", flat=True).first()
            length = (Frame.objects.filter(sequence=sequence).aggregate(n=Max("index"))["n"] or 0) + 1
            ext = images.ext(first or "jpg") if images else (first or "jpg")
            archive.add_bytes(f"{folder}/seqinfo.ini", seqinfo(folder, sequence, length, ext).encode())
            if sidecar is not None:
                archive.add_bytes(f"{folder}/telemetry.txt", sidecar)
            if images is not None:
                write_images(archive, folder, sequence, images, progress)
    return stats


def write_images(archive, folder: str, sequence, images, progress=lambda n: None) -> None:
    """Every frame's image file of the sequence, as `images` (exports.images.ImageSource) chooses."""
    from labeling.footage import blobstore

    images.load_sequence(sequence)
    rows = Frame.objects.filter(sequence=sequence).order_by("index").values_list("id", "index", "sha256", "ext")
    for frame_id, index, sha, ext in rows.iterator(chunk_size=2000):
        name = images.file_for(frame_id, sha, ext)
        if name is not None:
            with blobstore.open_blob(name) as fh:
                archive.add_file(f"{folder}/img1/{index + 1:06d}.{images.ext(ext)}", fh)
        progress(1)
