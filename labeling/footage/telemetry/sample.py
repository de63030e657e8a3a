"""The values of the ST 0601 example packet, and a smooth flight made from them for test footage.

EXAMPLE holds the values of the UAS Local Set example that MISB publishes (ST 0601 "Conversions
and Mappings of Metadata Types" / the ST 0902.5 Annex C "Dynamic Only" MISMMS packet), at the
precision the standard prints them. Their bytes are in tests/test_klv.py.
"""
from __future__ import annotations

import datetime as dt
import math

EXAMPLE_TIME = dt.datetime(2009, 1, 12, 22, 8, 22, tzinfo=dt.timezone.utc)  # 1231798102000000 µs

EXAMPLE: dict = {
    "time": EXAMPLE_TIME,
    "platform_heading": 159.9744,
    "platform_pitch": -0.4315251,
    "platform_roll": 3.405814,
    "sensor_latitude": 60.1768229669783,
    "sensor_longitude": 128.426759042045,
    "sensor_true_altitude": 14190.72,
    "sensor_hfov": 144.5713,
    "sensor_vfov": 152.6436,
    "sensor_relative_azimuth": 160.719211474396,
    "sensor_relative_elevation": -168.792324833941,
    "sensor_relative_roll": 0.0,
    "slant_range": 68590.9832,
    "target_width": 722.8199,
    "frame_center_latitude": -10.5423886331461,
    "frame_center_longitude": 29.157890122923,
    "frame_center_elevation": 3216.037,
    "ls_version": 6,
}


def flight(seconds: float) -> dict:
    """EXAMPLE, `seconds` later: the clock runs, the platform turns 3°/s and drifts north-east,
    the camera footprint (frame centre and its four corners) follows."""
    values = dict(EXAMPLE)
    values["time"] = EXAMPLE_TIME + dt.timedelta(seconds=seconds)
    values["platform_heading"] = (EXAMPLE["platform_heading"] + 3.0 * seconds) % 360.0
    values["platform_roll"] = 5.0 * math.sin(seconds)
    values["sensor_latitude"] = EXAMPLE["sensor_latitude"] + 1e-4 * seconds
    values["sensor_longitude"] = EXAMPLE["sensor_longitude"] + 2e-4 * seconds
    values["frame_center_latitude"] = EXAMPLE["frame_center_latitude"] + 1e-4 * seconds
    values["frame_center_longitude"] = EXAMPLE["frame_center_longitude"] + 2e-4 * seconds
    half = 0.01 + 0.001 * math.sin(seconds)  # footprint half-size in degrees
    for point, (dlat, dlon) in enumerate([(-1, -1), (-1, 1), (1, 1), (1, -1)], start=1):
        values[f"offset_corner_latitude_{point}"] = dlat * half
        values[f"offset_corner_longitude_{point}"] = dlon * half
    values["mission_id"] = "MISSION01"
    values["platform_designation"] = "MQ1-B"
    return values
