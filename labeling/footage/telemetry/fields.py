"""A telemetry record as aerie stores it: the typed columns of `FrameTelemetry` (what people
filter on) and every value the source gave, made JSON-safe. Pure.

- `height_m` from KLV is the sensor's true altitude minus the frame centre's elevation: the
  height above the ground the camera looks at (flat ground assumed), which is what altitude bands
  and filters mean; `altitude_m` stays above mean sea level.
- `sensor_angle` is the depression of the line of sight below the horizon (90 = nadir). From KLV:
  -(platform pitch + sensor relative elevation), ignoring roll (a small error at usual rolls).
  From an SRT: -gimbal pitch (DJI's gb_pitch is the gimbal's attitude, -90 looking straight down).
"""
from __future__ import annotations

import base64
import datetime as dt
import math


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def json_safe(value):
    """Datetimes as ISO text, bytes as base64, non-finite floats as None, containers walked."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def depression(pitch, elevation) -> float | None:
    """Degrees below the horizon of a line of sight `pitch + elevation` degrees above it, folded
    into [-90, 90] (a sensor looking back over the top reads as looking down the other way)."""
    pitch, elevation = _number(pitch), _number(elevation)
    if elevation is None:
        return None
    angle = -((pitch or 0.0) + elevation)
    angle = (angle + 180.0) % 360.0 - 180.0
    if angle > 90.0:
        angle = 180.0 - angle
    elif angle < -90.0:
        angle = -180.0 - angle
    return angle


def from_klv(values: dict) -> dict:
    """Columns of a decoded ST 0601 local set (labeling.footage.telemetry.klv.decode)."""
    altitude = _number(values.get("sensor_true_altitude"))
    ground = _number(values.get("frame_center_elevation"))
    captured = values.get("time")
    return {
        "captured_at": captured if isinstance(captured, dt.datetime) else None,
        "latitude": _number(values.get("sensor_latitude")),
        "longitude": _number(values.get("sensor_longitude")),
        "altitude_m": altitude,
        "height_m": altitude - ground if altitude is not None and ground is not None else None,
        "heading": _number(values.get("platform_heading")),
        "sensor_angle": depression(values.get("platform_pitch"), values.get("sensor_relative_elevation")),
        "values": json_safe(values),
    }


def from_srt(cue) -> dict:
    """Columns of one parsed DJI SRT cue (labeling.footage.telemetry.srt.SrtCue). DJI writes the
    drone's local time with no zone: it is stored as if it were UTC, and `values` says so
    (`time_zone`), so a time filter over such footage is in the drone's local time."""
    extra = dict(cue.extra or {})
    pitch = _number(extra.get("gb_pitch"))
    captured = cue.datetime
    values = {"cue": cue.index, "start_s": cue.start_s, "end_s": cue.end_s, "frame_count": cue.frame_count,
              "time": captured, "latitude": cue.latitude, "longitude": cue.longitude,
              "rel_alt_m": cue.rel_alt_m, "abs_alt_m": cue.abs_alt_m, **extra}
    if isinstance(captured, dt.datetime) and captured.tzinfo is None:
        captured = captured.replace(tzinfo=dt.timezone.utc)
        values["time_zone"] = "none given (the drone's local time, stored as UTC)"
    return {
        "captured_at": captured if isinstance(captured, dt.datetime) else None,
        "latitude": _number(cue.latitude),
        "longitude": _number(cue.longitude),
        "altitude_m": _number(cue.abs_alt_m),
        "height_m": _number(cue.rel_alt_m),
        "heading": _number(extra.get("gb_yaw")),
        "sensor_angle": -pitch if pitch is not None else None,
        "values": json_safe(values),
    }


def area_box(text: str) -> tuple[float, float, float, float]:
    """`min_lon,min_lat,max_lon,max_lat` (degrees, WGS-84) as numbers; ValueError saying what is
    wrong otherwise."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 4:
        raise ValueError("four numbers: min_lon,min_lat,max_lon,max_lat")
    try:
        lon1, lat1, lon2, lat2 = (float(p) for p in parts)
    except ValueError:
        raise ValueError("four numbers: min_lon,min_lat,max_lon,max_lat") from None
    if not all(math.isfinite(v) for v in (lon1, lat1, lon2, lat2)):
        raise ValueError("finite numbers")
    if not (-180 <= lon1 <= lon2 <= 180):
        raise ValueError("longitudes from -180 to 180, the smaller first")
    if not (-90 <= lat1 <= lat2 <= 90):
        raise ValueError("latitudes from -90 to 90, the smaller first")
    return lon1, lat1, lon2, lat2
