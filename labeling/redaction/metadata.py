"""What derived data keeps of capture times, source file names and positions (a per-dataset
setting, `Dataset.metadata_level`): precise times, file names and positions can identify people
and places. Pure: exports and derived manifests call `reduce_metadata` on each frame's dict.

- full: everything as it is;
- coarse (the default): capture times become their date, file names go, positions are rounded
  to 0.01° (about a kilometre); a frame's offset from the start of its video (`timestamp`) stays,
  since tracks need it and it says nothing of when or where;
- none: capture times, file names, positions and offsets all go.

Sequence names are typed by whoever uploads, and are often a file name or a place and a date
("kherson-0312-convoy"): below `full` they become a neutral `sequence-<id>` (`sequence_name`),
the same in every derived manifest and export, so a partner can match labels to frames and an
admin can look the sequence up, while the name itself never leaves."""
from __future__ import annotations

from datetime import date, datetime

LEVELS = ("full", "coarse", "none")
TIME_KEYS = {"captured_at", "capture_time", "recorded_at", "datetime", "date_captured"}
FILE_KEYS = {"source_name", "source_file", "file_name", "filename", "original_filename", "upload_name", "path"}
POSITION_KEYS = {"lat", "lon", "latitude", "longitude", "alt", "altitude", "position", "gps", "heading"}
OFFSET_KEYS = {"timestamp"}


def sequence_name(sequence, level: str) -> str:
    """The name a sequence goes by in derived data at `level`."""
    if level not in LEVELS:
        raise ValueError(f"metadata level: one of {', '.join(LEVELS)}")
    return sequence.name if level == "full" else f"sequence-{sequence.pk}"


def _date_only(value):
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            return value[:10] if len(value) >= 10 and value[4:5] == "-" else None
    return None


def _round_position(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return round(float(value), 2)
    if isinstance(value, (list, tuple)):
        return [_round_position(v) for v in value]
    if isinstance(value, dict):
        return {k: _round_position(v) for k, v in value.items()}
    return None


def reduce_metadata(frame: dict, level: str) -> dict:
    """A copy of `frame` (nested dicts too) with what `level` does not keep taken out or coarsened."""
    if level not in LEVELS:
        raise ValueError(f"metadata level: one of {', '.join(LEVELS)}")
    if level == "full":
        return dict(frame)
    out = {}
    for key, value in frame.items():
        name = key.lower() if isinstance(key, str) else key
        if name in FILE_KEYS:
            continue
        if name in TIME_KEYS:
            if level == "coarse":
                out[key] = _date_only(value)
            continue
        if name in POSITION_KEYS:
            if level == "coarse":
                out[key] = _round_position(value)
            continue
        if name in OFFSET_KEYS and level == "none":
            continue
        if isinstance(value, dict):
            value = reduce_metadata(value, level)
        elif isinstance(value, list):
            value = [reduce_metadata(v, level) if isinstance(v, dict) else v for v in value]
        out[key] = value
    return out
