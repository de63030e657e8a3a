"""COCO detection export, streamed: the JSON document is written piece by piece into the zip
while the scope is read a window at a time (two passes: images, then annotations).

- `categories`: the box (and change-region) classes of the ontology version, ids 1… in the
  version's class order (a published version never changes, so ids are stable across exports of
  it); `name` is the class key.
- `images`: id 1… in (sequence name, frame index) order; `file_name` is `<sequence>/<index>.<ext>`
  (0-based index, 6 digits), plus `sequence`, `frame_index`, `sha256`, and the frame tags as
  `attributes` (a plain tag: true, or its attributes if it has any; a change class:
  "changed"/"unchanged"). Raw exports put each annotator's tags under `annotator_tags`.
- `annotations`: id 1… (pycocotools treats 0 as unmatched), bbox [x, y, w, h] in pixels, area
  w·h, iscrowd 0, the box's attributes, and `track_id` (1…, unique in the export; also in
  `attributes`, where CVAT and datumaro look for it; `occluded: true` there too where it is),
  an oriented box has the bbox of its unrotated rectangle and `rotation` (degrees clockwise,
  CVAT's convention) in `attributes`; and `provenance` ({source, model_version}) for a box that was not drawn by hand: a model's
  suggestion accepted as is or adjusted, propagated, or interpolated between keyframes. Raw
  exports add `annotator` and `source`.

Numbers are written with Python's shortest round-trip repr, so an import reads back exactly the
stored floats."""
from __future__ import annotations

import json
import re

from labeling.exchange.exports import facts
from labeling.exchange.exports import selection as scopes
from ontology.models import LabelClass

ANNOTATIONS_FILE = "annotations/instances_default.json"
IMAGES_DIR = "images/default/"


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def categories(classes: dict[str, LabelClass]) -> list[LabelClass]:
    """The classes that boxes may have, in category-id order (id = position + 1)."""
    return [c for c in classes.values() if c.kind in LabelClass.BOX_KINDS]


def safe_name(name: str) -> str:
    """A sequence name as a folder name in an archive: no separators, no leading dots."""
    return re.sub(r"[^A-Za-z0-9._ -]", "_", name).lstrip(".") or "_"


def image_file_name(sequence_name: str, index: int, ext: str) -> str:
    return f"{safe_name(sequence_name)}/{index:06d}.{ext}"


def frame_stem(sequence_name: str, index: int) -> str:
    """A frame's name in formats with one flat folder of images (YOLO, VisDrone DET, DOTA):
    `<sequence>_<6-digit 0-based index>`, read back by imports.common.FrameLookup.by_stem."""
    return f"{safe_name(sequence_name)}_{index:06d}"


def tag_attributes(tags: list[scopes.Tag], keys: dict[int, LabelClass]) -> dict:
    out = {}
    for tag in tags:
        label = keys[tag.class_id]
        if label.kind == LabelClass.CHANGE:
            out[label.key] = "changed" if tag.changed else "unchanged"
        else:
            out[label.key] = tag.attributes or True
    return out


def write(archive, scope: scopes.Scope, classes: dict[str, LabelClass], *, images=None,
          progress=lambda n: None) -> dict:
    """Write the COCO archive contents; returns counts (frames, boxes, tracks)."""
    by_id = {c.pk: c for c in classes.values()}
    cats = categories(classes)
    category_of = {c.pk: n for n, c in enumerate(cats, start=1)}
    raw = scope.scope == "raw"
    stats = {"frames": 0, "boxes": 0, "tracks": 0}
    with archive.open(ANNOTATIONS_FILE) as out:
        out.write('{"info":' + _json({"description": f"aerie export of {scope.project.name}",
                                       "contributor": "aerie", "version": "1.0"}))
        out.write(',"licenses":[],"categories":[')
        out.write(",".join(_json({"id": n, "name": c.key, "supercategory": c.kind, "display_name": c.name})
                           for n, c in enumerate(cats, start=1)))
        out.write('],\n"images":[\n')
        image_id = 0
        for sequence in scope.sequences:
            telemetry, conditions = facts.sequence_facts(sequence.pk, scope.level)
            for frame in scopes.frames(scope, sequence, boxes=False):
                image_id += 1
                ext = images.ext(frame.ext) if images else frame.ext
                image = {"id": image_id, "file_name": image_file_name(scope.name_of(sequence), frame.index, ext),
                         "width": frame.width, "height": frame.height, "sequence": scope.name_of(sequence),
                         "frame_index": frame.index, "sha256": frame.sha256}
                if raw:
                    image["attributes"] = {}
                    image["annotator_tags"] = {lb.annotator: tag_attributes(lb.tags, by_id) for lb in frame.labels}
                else:
                    image["attributes"] = tag_attributes(frame.labels[0].tags, by_id)
                if frame.frame_id in telemetry:
                    image["telemetry"] = telemetry[frame.frame_id]
                if frame.frame_id in conditions:
                    image["conditions"] = conditions[frame.frame_id]
                out.write((",\n" if image_id > 1 else "") + _json(image))
                progress(1)
        stats["frames"] = image_id
        out.write('\n],\n"annotations":[\n')
        image_id = ann_id = track_base = 0
        for sequence in scope.sequences:
            tracks: dict[tuple, int] = {}  # (annotator, track in the sequence) -> export track id
            for frame in scopes.frames(scope, sequence, tags=False):
                image_id += 1
                lines = []
                for labels in frame.labels:
                    who = f',"annotator":{_json(labels.annotator)},"source":{_json(labels.source)}' if raw else ""
                    for box in labels.boxes:
                        class_id, x, y, w, h, track_id, attributes = box[:7]
                        if box.occluded:  # where CVAT and datumaro read it
                            attributes = _json({**json.loads(attributes), "occluded": True})
                        if box.angle is not None:  # an oriented box, as CVAT writes one
                            attributes = _json({**json.loads(attributes), "rotation": box.angle})
                        ann_id += 1
                        if track_id is None:
                            extra = who
                            attributes = "{}" if attributes == "{}" else _json(json.loads(attributes))
                        else:
                            track = tracks.setdefault((labels.annotator, track_id), track_base + len(tracks) + 1)
                            extra = f',"track_id":{track}{who}'
                            attributes = (f'{{"track_id":{track}}}' if attributes == "{}"
                                          else _json({**json.loads(attributes), "track_id": track}))
                        if box.source != "drawn":  # a model suggestion (as is or adjusted), or propagated
                            extra += f',"provenance":{_json({"source": box.source, "model_version": box.model_version_id})}'
                        lines.append(
                            f'{{"id":{ann_id},"image_id":{image_id},"category_id":{category_of[class_id]},'
                            f'"bbox":[{x!r},{y!r},{w!r},{h!r}],"area":{w * h!r},'
                            f'"iscrowd":0,"segmentation":[],"attributes":{attributes}{extra}}}')
                if lines:
                    out.write((",\n" if ann_id > len(lines) else "") + ",\n".join(lines))
                progress(1)
            track_base += len(tracks)
        stats["boxes"], stats["tracks"] = ann_id, track_base
        out.write("\n]}\n")
    if images is not None:
        write_images(archive, scope, images, progress)
    return stats


def write_images(archive, scope: scopes.Scope, images, progress=lambda n: None) -> None:
    """The frames' image files, as `images` (exports.images.ImageSource) chooses them."""
    from labeling.footage import blobstore

    for sequence in scope.sequences:
        images.load_sequence(sequence)
        for frame in scopes.frames(scope, sequence, boxes=False, tags=False):
            name = images.file_for(frame.frame_id, frame.sha256, frame.ext)
            if name is not None:
                with blobstore.open_blob(name) as fh:
                    archive.add_file(IMAGES_DIR + image_file_name(scope.name_of(sequence), frame.index,
                                                                     images.ext(frame.ext)),
                                     fh)
            progress(1)
