"""What exports say about each frame's flight and conditions, at the export's metadata level
(labeling.redaction.metadata: a derived export coarsens times and positions or leaves them out).

- COCO: each image gets `telemetry` (time, position, altitude, height above ground, heading,
  sensor angle, the source) where the frame has a record, and `conditions` (night, blurred,
  thermal, the altitude and view bands, brightness, sharpness);
- MOT: a `telemetry.txt` per sequence folder, one CSV line per frame number (as in gt.txt),
  written where the sequence has telemetry or conditions."""
from __future__ import annotations

import csv
import io

from labeling.models import FrameCondition, FrameTelemetry
from labeling.redaction.metadata import reduce_metadata

TELEMETRY = ("captured_at", "latitude", "longitude", "altitude", "height_m", "heading", "sensor_angle")
CONDITIONS = ("night", "blurred", "thermal", "altitude_band", "view_band", "brightness", "sharpness")


def telemetry_of(sequence_id: int, level: str) -> dict[int, dict]:
    """{frame id: telemetry as the export carries it} for the sequence's frames with a record."""
    out = {}
    rows = FrameTelemetry.objects.filter(frame__sequence_id=sequence_id).values_list(
        "frame_id", "source", "captured_at", "latitude", "longitude", "altitude_m", "height_m", "heading",
        "sensor_angle")
    for frame_id, source, captured, lat, lon, alt, height, heading, angle in rows.iterator(chunk_size=5000):
        values = {"captured_at": captured.isoformat() if captured else None, "latitude": lat, "longitude": lon,
                  "altitude": alt, "height_m": height, "heading": heading, "sensor_angle": angle}
        out[frame_id] = {"source": source, **reduce_metadata(values, level)}
    return out


def conditions_of(sequence_id: int) -> dict[int, dict]:
    rows = FrameCondition.objects.filter(frame__sequence_id=sequence_id).values_list("frame_id", *CONDITIONS)
    return {row[0]: dict(zip(CONDITIONS, row[1:])) for row in rows.iterator(chunk_size=5000)}


def sequence_facts(sequence_id: int, level: str) -> tuple[dict, dict]:
    return telemetry_of(sequence_id, level), conditions_of(sequence_id)


def telemetry_txt(frames: list[tuple[int, int]], telemetry: dict, conditions: dict) -> bytes | None:
    """The MOT sidecar: `frames` is [(frame id, 1-based frame number)] in order; None when no
    frame has anything to say. Columns left out at the metadata level stay empty."""
    if not telemetry and not conditions:
        return None
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["frame", "source", *TELEMETRY, *CONDITIONS])
    for frame_id, number in frames:
        t, c = telemetry.get(frame_id, {}), conditions.get(frame_id, {})
        writer.writerow([number, t.get("source", ""), *("" if t.get(k) is None else t[k] for k in TELEMETRY),
                         *("" if c.get(k) is None else c[k] for k in CONDITIONS)])
    return buf.getvalue().encode()
