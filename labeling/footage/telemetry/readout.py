"""What the labeling and segment pages show of a frame's flight and how its thermal frames are
coloured: the telemetry readout (time, altitude, heading, sensor angle, position) reduced to the
dataset's metadata level unless the person holds raw access (labeling.redaction.metadata), and
the person's palette for 16-bit frames. Costs nothing for a sequence without telemetry or
thermal frames (no query)."""
from __future__ import annotations

from labeling.access import raw
from labeling.footage import thermal
from labeling.models import Frame, FrameTelemetry
from labeling.protection import state as states
from labeling.redaction.metadata import reduce_metadata

FIELDS = ("captured_at", "latitude", "longitude", "altitude", "height_m", "heading", "sensor_angle")


def telemetry(frame: Frame, user) -> dict | None:
    """The frame's readout, or None (the frame with its sequence's `telemetry_frames` loaded, as
    the queue's frames have it; one query when the sequence has telemetry)."""
    if not frame.sequence.telemetry_frames:
        return None
    row = FrameTelemetry.objects.filter(frame_id=frame.pk).values(
        "source", "captured_at", "latitude", "longitude", "altitude_m", "height_m", "heading", "sensor_angle",
        "frame__sequence__dataset_id", "frame__sequence__dataset__metadata_level").first()
    if row is None:
        return None
    values = {"captured_at": row["captured_at"].isoformat() if row["captured_at"] else None,
              "latitude": row["latitude"], "longitude": row["longitude"], "altitude": row["altitude_m"],
              "height_m": row["height_m"], "heading": row["heading"], "sensor_angle": row["sensor_angle"]}
    holds = raw.holds(user, row["frame__sequence__dataset_id"])
    level = "full" if holds else row["frame__sequence__dataset__metadata_level"]
    return {"source": row["source"], "level": level, **reduce_metadata(values, level)}


def of_row(row: FrameTelemetry | None, dataset, user) -> dict | None:
    """A loaded telemetry row as the API shows it to `user` (the same reduction as the pages)."""
    if row is None:
        return None
    values = {"captured_at": row.captured_at.isoformat() if row.captured_at else None, "latitude": row.latitude,
              "longitude": row.longitude, "altitude": row.altitude_m, "height_m": row.height_m,
              "heading": row.heading, "sensor_angle": row.sensor_angle}
    level = "full" if raw.holds(user, dataset.pk) else dataset.metadata_level
    out = {"source": row.source, "level": level, **reduce_metadata(values, level)}
    if level == "full":
        out["values"] = row.values
    return out


def for_page(frame: Frame, user) -> dict:
    return {"telemetry": telemetry(frame, user),
            "thermal_palette": states.preferences(user.pk)["thermal_palette"] if frame.sequence.bits == 16 else None,
            "palettes": list(thermal.PALETTES) if frame.sequence.bits == 16 else None}
