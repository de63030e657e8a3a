"""What the formats with one label file per image (YOLO, YOLO-OBB, VisDrone DET, DOTA) share:
one pass over the scope, a sequence at a time, writing each labelled frame's text file and (if
asked) its image file under the same stem (`coco.frame_stem`: `<sequence>_<index>`).

A frame with approved annotations but no boxes still gets its (empty) label file: for these
tools an image without a label file is unlabelled, one with an empty file has no objects.
Only the approved scope: these formats have no place for who drew a box (raw exports: COCO or MOT).
"""
from __future__ import annotations

from collections.abc import Callable

from labeling.exchange.exports import selection as scopes
from labeling.exchange.exports.coco import frame_stem
from labeling.work import oriented


def write(archive, scope: scopes.Scope, *, label_path: Callable[[str], str], image_path: Callable[[str, str], str],
          lines: Callable[[scopes.FrameLabels], list[str]], images=None, header: str = "",
          progress=lambda n: None) -> dict:
    """Write `label_path(stem)` holding `header` + `lines(frame)` for every frame in scope, and
    `image_path(stem, ext)` where images are asked for. Returns counts (frames, boxes, tracks)."""
    from labeling.footage import blobstore

    stats = {"frames": 0, "boxes": 0, "tracks": 0}
    for sequence in scope.sequences:
        name = scope.name_of(sequence)
        if images is not None:
            images.load_sequence(sequence)
        tracks = set()
        for frame in scopes.frames(scope, sequence, tags=False):
            stem = frame_stem(name, frame.index)
            rows = lines(frame)
            archive.add_bytes(label_path(stem), (header + "".join(rows)).encode())
            stats["frames"] += 1
            stats["boxes"] += len(rows)
            tracks.update(b.track_id for labels in frame.labels for b in labels.boxes if b.track_id is not None)
            if images is not None:
                blob = images.file_for(frame.frame_id, frame.sha256, frame.ext)
                if blob is not None:
                    with blobstore.open_blob(blob) as fh:
                        archive.add_file(image_path(stem, images.ext(frame.ext)), fh, compress=False)
            progress(1)
        stats["tracks"] += len(tracks)
    return stats


def boxes(frame: scopes.FrameLabels):
    """The frame's boxes (approved scope: one annotation per frame)."""
    for labels in frame.labels:
        yield from labels.boxes


def fixed(value: float, digits: int = 10) -> str:
    """A number in plain decimal notation (no exponent: some readers check fields with
    str.isdigit), at most `digits` decimals, no trailing zeros."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def axis_aligned(box: scopes.Box, width: int, height: int) -> tuple[float, float, float, float]:
    """The box as an axis-aligned x, y, w, h inside the frame: an oriented box's enclosing box,
    clipped to the frame (its corners may pass the edge by a rounding)."""
    x, y, w, h = oriented.enclosing(box.x, box.y, box.w, box.h, box.angle)
    x2, y2 = min(x + w, width), min(y + h, height)
    x, y = max(x, 0.0), max(y, 0.0)
    return x, y, x2 - x, y2 - y
