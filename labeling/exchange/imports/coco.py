"""COCO import: a detection JSON (or a zip holding one, e.g. an aerie or CVAT export).

Accepted as found in the wild: ids starting at 0, a `_background_` category (ignored), polygon
and RLE segmentation (converted to boxes with pycocotools when there is no bbox), `file_name`
with subfolders, no `info`/`licenses`, a wrong `area` (recomputed, and said so), `track_id` at
the top level or in `attributes` (CVAT), an oriented class's turn as `rotation` in `attributes`
(CVAT's, degrees clockwise), frame tags as image `attributes` (aerie).
Refused, naming the image or annotation id: unknown categories, boxes outside the image,
non-numeric or malformed fields, duplicate ids, images that are not frames of the dataset."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from labeling.exchange.imports.common import (
    ClassMatcher,
    FrameLookup,
    ImportRefused,
    Item,
    Problems,
    fit_box,
    keep_attributes,
    number,
    read_member,
)
from labeling.models import Frame
from ontology.models import LabelClass

BACKGROUND = {"_background_", "__background__", "background"}
EDGE_TOLERANCE = 0.5  # px a COCO box may overhang the frame edge (rounding in other tools): clipped


def read_json(data: bytes, filename: str) -> tuple[object, str]:
    """The COCO document and the name to report it under."""
    if data[:2] == b"PK":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as exc:
            raise ImportRefused([f"{filename}: not a readable zip ({exc})"]) from None
        names = [n for n in archive.namelist() if n.lower().endswith(".json") and not n.endswith("manifest.json")]
        preferred = [n for n in names if n.startswith("annotations/")] or names
        if len(preferred) != 1:
            raise ImportRefused([f"{filename}: expected one COCO .json file in the zip, found {len(preferred)}"
                                 + (f" ({', '.join(preferred[:5])})" if preferred else "")])
        filename, data = f"{filename}:{preferred[0]}", read_member(archive, preferred[0], filename)
    try:
        return json.loads(data), filename
    except UnicodeDecodeError:
        raise ImportRefused([f"{filename}: not UTF-8 text"]) from None
    except json.JSONDecodeError as exc:
        raise ImportRefused([f"{filename}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"]) from None
    except RecursionError:
        raise ImportRefused([f"{filename}: nested too deeply to be a COCO document"]) from None


def _segmentation_box(seg, height: int, width: int) -> tuple[list[float], float] | None:
    """(bbox, area) of polygons or RLE, through pycocotools; None if it is neither."""
    from pycocotools import mask as mask_utils

    try:
        if isinstance(seg, list):
            if not seg or not all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0
                                  and all(number(v) is not None for v in p) for p in seg):
                return None
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
        elif isinstance(seg, dict) and "counts" in seg and "size" in seg:
            rle = mask_utils.frPyObjects(seg, *seg["size"]) if isinstance(seg["counts"], list) else dict(seg)
            if isinstance(rle.get("counts"), str):
                rle["counts"] = rle["counts"].encode()
        else:
            return None
        return [float(v) for v in mask_utils.toBbox(rle)], float(mask_utils.area(rle))
    except (TypeError, ValueError, KeyError, IndexError):
        return None


def parse(data: bytes, filename: str, project, classes: dict[str, LabelClass], problems: Problems) -> list[Item]:
    doc, filename = read_json(data, filename)
    if not isinstance(doc, dict):
        raise ImportRefused([f"{filename}: a COCO file is a JSON object with images, annotations and categories"])
    for key in ("images", "annotations", "categories"):
        if not isinstance(doc.get(key), list):
            problems.error(filename, f"'{key}' is missing or not a list")
    problems.raise_if_any()
    matcher = ClassMatcher(classes)
    tag_classes = {c.key: c for c in classes.values() if c.kind in (LabelClass.TAG, LabelClass.CHANGE)}
    version = project.ontology_version

    categories: dict[int, LabelClass | None] = {}
    names: dict[int, str] = {}
    for n, cat in enumerate(doc["categories"]):
        where = f"{filename} categories[{n}]"
        cid = cat.get("id") if isinstance(cat, dict) else None
        if not isinstance(cid, int) or isinstance(cid, bool):
            problems.error(where, "needs an integer id")
            continue
        if cid in categories or cid in names:
            problems.error(where, f"category id {cid} is used twice")
            continue
        name = cat.get("name")
        names[cid] = str(name)
        if isinstance(name, str) and name.lower() in BACKGROUND:
            problems.note("background category ignored", f"category id {cid}")
            continue
        categories[cid] = matcher.get(name)

    lookup = FrameLookup(project)
    images: dict[int, tuple[int, str, dict]] = {}  # image id -> (frame id, where, image)
    for n, image in enumerate(doc["images"]):
        iid = image.get("id") if isinstance(image, dict) else None
        if not isinstance(iid, int) or isinstance(iid, bool):
            problems.error(f"{filename} images[{n}]", "needs an integer id")
            continue
        file_name = image.get("file_name")
        where = f"{filename} image id {iid} ('{file_name}')"
        if iid in images:
            problems.error(where, f"image id {iid} is used twice")
            continue
        if isinstance(image.get("sequence"), str) and isinstance(image.get("frame_index"), int):
            frame_id = lookup.position(image["sequence"], image["frame_index"])
            why = f"sequence '{image['sequence']}' has no frame {image['frame_index']} in this dataset"
        elif isinstance(file_name, str) and file_name:
            frame_id, why = lookup.by_file(file_name)
        else:
            frame_id, why = None, "needs a file_name"
        if frame_id is None:
            problems.error(where, why)
            continue
        images[iid] = (frame_id, where, image)
    frames = Frame.objects.in_bulk([f for f, _, _ in images.values()])
    items: dict[int, Item] = {}
    for iid, (frame_id, where, image) in images.items():
        frame = frames[frame_id]
        w, h = image.get("width"), image.get("height")
        if (w is not None and w != frame.width) or (h is not None and h != frame.height):
            problems.error(where, f"is {w}×{h} in the file, but the frame is {frame.width}×{frame.height}")
            continue
        item = items[iid] = Item(frame, where)
        for key, value in (image.get("attributes") or {}).items() if isinstance(image.get("attributes"), dict) else ():
            label = tag_classes.get(key)
            if label is None or value is False or value is None:
                continue
            if label.kind == LabelClass.CHANGE:
                item.tags.append({"class": key, "changed": value == "changed" or value is True})
            else:
                item.tags.append({"class": key, **({"attributes": value} if isinstance(value, dict) else {})})

    listed = {i.get("id") for i in doc["images"] if isinstance(i, dict)}
    seen: set = set()
    for n, ann in enumerate(doc["annotations"]):
        aid = ann.get("id") if isinstance(ann, dict) else None
        if not isinstance(aid, int) or isinstance(aid, bool):
            problems.error(f"{filename} annotations[{n}]", "needs an integer id")
            continue
        where = f"{filename} annotation id {aid}"
        if aid in seen:
            problems.error(where, f"annotation id {aid} is used twice")
            continue
        seen.add(aid)
        iid, cid = ann.get("image_id"), ann.get("category_id")
        if iid not in images:
            if iid not in listed:
                problems.error(where, f"image_id {iid!r} is not in images")
            continue  # else the image's own problem is reported already
        if cid not in names:
            problems.error(where, f"category_id {cid!r} is not in categories")
            continue
        label = categories.get(cid)
        if label is None:
            if names[cid].lower() in BACKGROUND:
                problems.error(where, f"is labelled with the background category (id {cid})")
            else:
                problems.error(where, f"category {cid} ('{names[cid]}') is not a box class of {version}")
            continue
        item = items.get(iid)
        if item is None:
            continue
        frame = item.frame
        bbox, expected_area = ann.get("bbox"), None
        segmentation = ann.get("segmentation")
        if bbox in (None, []) and segmentation:
            converted = _segmentation_box(segmentation, frame.height, frame.width)
            if converted is None:
                problems.error(where, "segmentation is neither polygons [[x, y, …]] nor RLE {counts, size}")
                continue
            bbox, expected_area = converted
            problems.note("boxes made from segmentation", f"annotation id {aid}")
        if not isinstance(bbox, list) or len(bbox) != 4 or any(number(v) is None for v in bbox):
            problems.error(where, f"bbox must be [x, y, width, height] numbers, not {json.dumps(bbox)[:80]}")
            continue
        x, y, w, h = (float(v) for v in bbox)
        if w <= 0 or h <= 0:
            problems.error(where, f"bbox width and height must be positive, not {w:g}×{h:g}")
            continue
        if x < -EDGE_TOLERANCE or y < -EDGE_TOLERANCE or x + w > frame.width + EDGE_TOLERANCE \
                or y + h > frame.height + EDGE_TOLERANCE:
            problems.error(where, f"bbox [{x:g}, {y:g}, {w:g}, {h:g}] lies outside the {frame.width}×{frame.height} "
                                  f"image")
            continue
        fitted, clipped = fit_box(x, y, w, h, frame.width, frame.height)
        if clipped:
            problems.note(f"boxes overhanging the image edge by ≤ {EDGE_TOLERANCE} px clipped", f"annotation id {aid}")
            x, y, w, h = fitted
        if expected_area is None and isinstance(segmentation, (list, dict)) and segmentation:
            converted = _segmentation_box(segmentation, frame.height, frame.width)
            expected_area = converted[1] if converted else None
        area = number(ann.get("area"))
        expected = expected_area if expected_area is not None else w * h
        if "area" in ann and (area is None or not np.isclose(area, expected, rtol=0.01, atol=1.0)):
            problems.note("area recomputed (it did not match the box or mask)", f"annotation id {aid}")
        attributes = ann.get("attributes") if isinstance(ann.get("attributes"), dict) else {}
        track = ann.get("track_id", attributes.get("track_id"))
        if track is not None and (not isinstance(track, int) or isinstance(track, bool) or track < 0):
            problems.error(where, f"track_id must be a non-negative integer, not {track!r}")
            continue
        box = {"class": label.key, "x": x, "y": y, "w": w, "h": h,
               "attributes": keep_attributes(label, attributes, f"annotation id {aid}", problems)}
        if label.kind == LabelClass.OBOX and number(attributes.get("rotation")) is not None:
            box["angle"] = number(attributes["rotation"])  # CVAT's and aerie's oriented box
        if track is not None:
            box["track_id"] = track  # renumbered 1… per sequence before the check
        item.boxes.append(box)
        item.sources.append(where)
    return list(items.values())
