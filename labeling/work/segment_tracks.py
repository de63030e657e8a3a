"""A segment's work as tracks, checked and turned into per-frame boxes and back. Pure functions.

What the segment page sends (frame numbers are the sequence's frame indexes):

    {"tracks": [{"track_id": 1, "class": "person", "attributes": {"posture": "walking"},
                 "keyframes": [{"frame": 12, "x": 10, "y": 20, "w": 30, "h": 60},
                               {"frame": 30, "x": 40, "y": 22, "w": 30, "h": 60, "occluded": true,
                                "source": "suggestion", "model_version": 7},
                               {"frame": 41, "outside": true}]}],
     "tags": [{"class": "crowd", "from": 10, "to": 40}]}

The rules, as CVAT users know them: between two keyframes a track is interpolated linearly;
after its last keyframe it stays where it is to the end of the segment; a keyframe marked
`outside` says the object left the view there (the track pauses until its next keyframe, or
ends); `occluded` is MOT's visibility and holds until the next keyframe. An interval tag marks
every frame from `from` to `to`, inclusive. Everything is stored per frame (boxes with their
track id, whether they are keyframes, and their provenance), so exports and agreement read frames
as they always did; `collapse` turns the stored frames back into this shape."""
from __future__ import annotations

from dataclasses import dataclass, field

from labeling.models import AnnotationBox
from labeling.work.payloads import (
    MAX_TRACK_ID,
    CleanBox,
    CleanTag,
    SubmissionError,
    attribute_values,
    label_of,
    number,
    provenance,
)
from ontology.models import LabelClass

MAX_TRACKS = 1000


@dataclass
class Keyframe:
    frame: int
    x: float
    y: float
    w: float
    h: float
    outside: bool = False
    occluded: bool = False
    source: str = AnnotationBox.DRAWN
    model_version_id: int | None = None


@dataclass
class Track:
    track_id: int
    label_class: LabelClass
    attributes: dict
    keyframes: list[Keyframe] = field(default_factory=list)


@dataclass
class IntervalTag:
    label_class: LabelClass
    first: int
    last: int
    attributes: dict
    changed: bool | None = None


def _frame_number(value, where: str, first: int, last: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not first <= value <= last:
        raise SubmissionError(where, f"a frame of this segment ({first}–{last})")
    return value


def validate(payload, classes: dict[str, LabelClass], first: int, last: int,
             sizes: dict[int, tuple[int, int]]) -> tuple[list[Track], list[IntervalTag]]:
    """Check a segment payload against the ontology version's classes, the segment's frames and
    their sizes (`sizes[frame index] = (width, height)`). Raises SubmissionError naming the field."""
    if not isinstance(payload, dict):
        raise SubmissionError("", "a segment's work is an object with 'tracks' and 'tags'")
    unknown = set(payload) - {"tracks", "tags", "note", "base_revision"}
    if unknown:
        raise SubmissionError(sorted(unknown)[0], "is not a field of a segment's work")
    tracks_in, tags_in = payload.get("tracks", []), payload.get("tags", [])
    if not isinstance(tracks_in, list):
        raise SubmissionError("tracks", "must be a list")
    if not isinstance(tags_in, list):
        raise SubmissionError("tags", "must be a list")
    if len(tracks_in) > MAX_TRACKS:
        raise SubmissionError("tracks", f"at most {MAX_TRACKS} tracks per segment")
    tracks, ids = [], set()
    for i, raw in enumerate(tracks_in):
        where = f"tracks[{i}]"
        label = label_of(raw, where, classes, not_kind=LabelClass.TAG, wrong="a frame tag, not a box class")
        track_id = raw.get("track_id")
        if isinstance(track_id, bool) or not isinstance(track_id, int) or not 1 <= track_id <= MAX_TRACK_ID:
            raise SubmissionError(f"{where}.track_id", f"a positive integer (at most {MAX_TRACK_ID})")
        if track_id in ids:
            raise SubmissionError(f"{where}.track_id", f"track {track_id} is given twice")
        ids.add(track_id)
        keyframes = raw.get("keyframes")
        if not isinstance(keyframes, list) or not keyframes:
            raise SubmissionError(f"{where}.keyframes", "a track has at least one keyframe")
        track = Track(track_id, label, attribute_values(label, raw, where))
        for j, key in enumerate(keyframes):
            track.keyframes.append(_keyframe(key, f"{where}.keyframes[{j}]", first, last, sizes, track.keyframes))
        if track.keyframes[0].outside:
            raise SubmissionError(f"{where}.keyframes[0].outside", "a track starts where its object is in view")
        tracks.append(track)
    tags = [_interval_tag(raw, f"tags[{i}]", classes, first, last) for i, raw in enumerate(tags_in)]
    for i, a in enumerate(tags):
        for b in tags[:i]:
            if a.label_class == b.label_class and a.first <= b.last and b.first <= a.last:
                raise SubmissionError(f"tags[{i}]", f"'{a.label_class.key}' overlaps another interval of itself")
    return tracks, tags


def _keyframe(raw, where: str, first: int, last: int, sizes, before: list[Keyframe]) -> Keyframe:
    if not isinstance(raw, dict):
        raise SubmissionError(where, "must be an object")
    frame = _frame_number(raw.get("frame"), f"{where}.frame", first, last)
    if before and frame <= before[-1].frame:
        raise SubmissionError(f"{where}.frame", "keyframes come in frame order, one per frame")
    outside = raw.get("outside", False) is True
    if outside and not any(k in raw for k in "xywh"):
        if not before:
            raise SubmissionError(f"{where}.outside", "a track starts where its object is in view")
        prev = before[-1]  # where the object was last seen: a marker needs a box of some size
        return Keyframe(frame, prev.x, prev.y, prev.w, prev.h, outside=True)
    x, y = number(raw.get("x"), f"{where}.x"), number(raw.get("y"), f"{where}.y")
    w, h = number(raw.get("w"), f"{where}.w"), number(raw.get("h"), f"{where}.h")
    if w <= 0 or h <= 0:
        raise SubmissionError(f"{where}.{'w' if w <= 0 else 'h'}", "must be positive")
    width, height = sizes[frame]
    if x < 0 or y < 0 or x + w > width + 1e-6 or y + h > height + 1e-6:
        raise SubmissionError(where, f"lies outside the {width}×{height} frame")
    source, model = provenance(raw, where)
    return Keyframe(frame, x, y, w, h, outside, raw.get("occluded", False) is True, source, model)


def _interval_tag(raw, where: str, classes, first: int, last: int) -> IntervalTag:
    label = label_of(raw, where, classes, not_kind=LabelClass.BOX, wrong="a box class, not a frame tag")
    start = _frame_number(raw.get("from"), f"{where}.from", first, last)
    end = _frame_number(raw.get("to", start), f"{where}.to", first, last)
    if end < start:
        raise SubmissionError(f"{where}.to", "an interval ends at or after its start")
    changed = raw.get("changed")
    if label.kind == LabelClass.CHANGE and not isinstance(changed, bool):
        raise SubmissionError(f"{where}.changed", "say whether the frames changed (true or false)")
    if label.kind != LabelClass.CHANGE and changed is not None:
        raise SubmissionError(f"{where}.changed", f"only change classes take a verdict; '{label.key}' is a tag")
    return IntervalTag(label, start, end, attribute_values(label, raw, where), changed)


def _box(track: Track, key: Keyframe, *, keyframe: bool, x=None, y=None, w=None, h=None) -> CleanBox:
    if keyframe:
        return CleanBox(track.label_class, key.x, key.y, key.w, key.h, track.attributes, track.track_id, key.source,
                        key.model_version_id, True, key.outside, key.occluded)
    return CleanBox(track.label_class, round(x, 2), round(y, 2), round(w, 2), round(h, 2), track.attributes,
                    track.track_id, AnnotationBox.INTERPOLATED, None, False, False, key.occluded)


def expand(tracks: list[Track], tags: list[IntervalTag], first: int,
           last: int) -> dict[int, tuple[list[CleanBox], list[CleanTag]]]:
    """The boxes and tags of every frame of the segment, from its tracks and interval tags."""
    frames: dict[int, tuple[list[CleanBox], list[CleanTag]]] = {i: ([], []) for i in range(first, last + 1)}
    for track in tracks:
        keys = track.keyframes
        for k, key in enumerate(keys):
            frames[key.frame][0].append(_box(track, key, keyframe=True))
            if key.outside:
                continue  # paused (or ended) until the next keyframe
            nxt = keys[k + 1] if k + 1 < len(keys) else None
            end = nxt.frame if nxt else last + 1
            for index in range(key.frame + 1, end):
                t = (index - key.frame) / (nxt.frame - key.frame) if nxt else 0.0
                to = nxt if nxt else key
                frames[index][0].append(_box(track, key, keyframe=False, x=key.x + (to.x - key.x) * t,
                                             y=key.y + (to.y - key.y) * t, w=key.w + (to.w - key.w) * t,
                                             h=key.h + (to.h - key.h) * t))
    for tag in tags:
        for index in range(tag.first, tag.last + 1):
            frames[index][1].append(CleanTag(tag.label_class, tag.attributes, tag.changed))
    return frames


def collapse(frames: dict[int, tuple[list[CleanBox], list[CleanTag]]]) -> dict:
    """Stored frames back into the page's shape: each track with its keyframes (boxes stored as
    keyframes), each run of consecutive frames with the same tag as one interval."""
    tracks: dict[int, dict] = {}
    for index in sorted(frames):
        for box in frames[index][0]:
            if not box.keyframe or box.track_id is None:
                continue
            track = tracks.setdefault(box.track_id, {"track_id": box.track_id, "class": box.label_class.key,
                                                     "attributes": box.attributes, "keyframes": []})
            key = {"frame": index, "x": box.x, "y": box.y, "w": box.w, "h": box.h}
            for flag in ("outside", "occluded"):
                if getattr(box, flag):
                    key[flag] = True
            if box.source != AnnotationBox.DRAWN:
                key["source"] = box.source
            if box.model_version_id:
                key["model_version"] = box.model_version_id
            track["keyframes"].append(key)
    intervals, open_runs = [], {}
    for index in sorted(frames):
        present = set()
        for tag in frames[index][1]:
            signature = (tag.label_class.key, repr(sorted(tag.attributes.items())), tag.changed)
            present.add(signature)
            run = open_runs.get(signature)
            if run is not None and run["to"] == index - 1:
                run["to"] = index
            else:
                run = {"class": tag.label_class.key, "from": index, "to": index, "attributes": tag.attributes,
                       **({"changed": tag.changed} if tag.changed is not None else {})}
                open_runs[signature] = run
                intervals.append(run)
    return {"tracks": [tracks[k] for k in sorted(tracks)], "tags": intervals}
