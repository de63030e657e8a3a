"""MISB ST 0601 (UAS Datalink Local Set) items: which tag is what, and how its value is carried.

ST 0601 maps most physical quantities onto fixed-size integers:

- unsigned mapping: `value = low + (high - low) * n / (2**bits - 1)` (heading, altitude, fields
  of view, slant range, ...); every integer is a valid value;
- signed symmetric mapping: `value = high * n / (2**(bits - 1) - 1)` with `low = -high` (pitch,
  roll, latitudes, longitudes, corner offsets, ...); the most negative integer (0x8000,
  0x80000000) is reserved by the standard as "out of range" / "error" / "N/A (off-Earth)", and
  is read here as None;
- the Precision Time Stamp (tag 2) is a uint64 of microseconds since 1970-01-01 UTC (ST 0603);
- texts (mission id, platform designation, ...) are ISO 646 / UTF-8 strings.

Encoding rounds to the nearest integer, so a value survives a round trip to within half of its
resolution, `(high - low) / (2**bits - 1)`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Item:
    tag: int
    name: str
    kind: str  # "time", "text", "uint", "umap" (unsigned mapping), "smap" (signed symmetric)
    size: int = 0  # bytes of the integer (0: any length for "text"/"uint")
    low: float = 0.0
    high: float = 0.0

    @property
    def resolution(self) -> float:
        """The step between two neighbouring integers of the mapping, in the value's unit."""
        if self.kind == "umap":
            return (self.high - self.low) / (2 ** (8 * self.size) - 1)
        if self.kind == "smap":
            return self.high / (2 ** (8 * self.size - 1) - 1)
        return 0.0


def _corner_items() -> list[Item]:
    items = []
    for point in range(1, 5):
        tag = 26 + 2 * (point - 1)
        items.append(Item(tag, f"offset_corner_latitude_{point}", "smap", 2, -0.075, 0.075))
        items.append(Item(tag + 1, f"offset_corner_longitude_{point}", "smap", 2, -0.075, 0.075))
    return items


ITEMS: list[Item] = [
    Item(2, "time", "time", 8),  # Precision Time Stamp
    Item(3, "mission_id", "text"),
    Item(4, "platform_tail_number", "text"),
    Item(5, "platform_heading", "umap", 2, 0, 360),  # degrees from true north
    Item(6, "platform_pitch", "smap", 2, -20, 20),  # degrees; 0x8000 = out of range
    Item(7, "platform_roll", "smap", 2, -50, 50),  # degrees; 0x8000 = out of range
    Item(10, "platform_designation", "text"),
    Item(11, "image_source_sensor", "text"),
    Item(12, "image_coordinate_system", "text"),
    Item(13, "sensor_latitude", "smap", 4, -90, 90),  # WGS-84 degrees; 0x80000000 = error
    Item(14, "sensor_longitude", "smap", 4, -180, 180),
    Item(15, "sensor_true_altitude", "umap", 2, -900, 19000),  # metres above MSL
    Item(16, "sensor_hfov", "umap", 2, 0, 180),  # degrees
    Item(17, "sensor_vfov", "umap", 2, 0, 180),
    Item(18, "sensor_relative_azimuth", "umap", 4, 0, 360),  # degrees, relative to the platform
    Item(19, "sensor_relative_elevation", "smap", 4, -180, 180),
    Item(20, "sensor_relative_roll", "umap", 4, 0, 360),
    Item(21, "slant_range", "umap", 4, 0, 5_000_000),  # metres
    Item(22, "target_width", "umap", 2, 0, 10_000),  # metres
    Item(23, "frame_center_latitude", "smap", 4, -90, 90),
    Item(24, "frame_center_longitude", "smap", 4, -180, 180),
    Item(25, "frame_center_elevation", "umap", 2, -900, 19000),  # metres above MSL
    *_corner_items(),  # degrees added to the frame centre; 0x8000 = N/A (off-Earth)
    Item(65, "ls_version", "uint"),  # UAS Datalink LS version number
]
BY_TAG: dict[int, Item] = {item.tag: item for item in ITEMS}
BY_NAME: dict[str, Item] = {item.name: item for item in ITEMS}


class ValueSizeError(ValueError):
    """A known tag carries a value of the wrong size."""


def decode_value(item: Item, raw: bytes):
    """The value of one item from its bytes (None for the reserved "error" integers)."""
    if item.kind == "text":
        return raw.decode("utf-8", errors="replace")
    if item.kind == "uint":
        if not 1 <= len(raw) <= 8:
            raise ValueSizeError(f"tag {item.tag} has {len(raw)} bytes, expects 1 to 8")
        return int.from_bytes(raw, "big")
    if len(raw) != item.size:
        raise ValueSizeError(f"tag {item.tag} has {len(raw)} bytes, expects {item.size}")
    if item.kind == "time":
        return EPOCH + dt.timedelta(microseconds=int.from_bytes(raw, "big"))
    if item.kind == "umap":
        return item.low + int.from_bytes(raw, "big") * item.resolution
    n = int.from_bytes(raw, "big", signed=True)  # smap
    if n == -(2 ** (8 * item.size - 1)):
        return None
    return n * item.resolution


def encode_value(item: Item, value) -> bytes:
    """The bytes of one item's value; ValueError when the value is outside the tag's range."""
    if item.kind == "text":
        return str(value).encode("utf-8")
    if item.kind == "uint":
        return int(value).to_bytes(max(1, (int(value).bit_length() + 7) // 8), "big")
    if item.kind == "time":
        if value.tzinfo is None:
            raise ValueError("the Precision Time Stamp needs an aware datetime (UTC)")
        return ((value - EPOCH) // dt.timedelta(microseconds=1)).to_bytes(8, "big")
    bits = 8 * item.size
    if item.kind == "smap" and value is None:
        return (2 ** (bits - 1)).to_bytes(item.size, "big")  # the reserved "error" integer
    if not item.low - item.resolution / 2 <= value <= item.high + item.resolution / 2:
        raise ValueError(f"{item.name}={value} is outside [{item.low}, {item.high}]")
    n = round((value - item.low) / item.resolution) if item.kind == "umap" else round(value / item.resolution)
    if item.kind == "umap":
        return min(n, 2**bits - 1).to_bytes(item.size, "big")
    limit = 2 ** (bits - 1) - 1
    return max(-limit, min(n, limit)).to_bytes(item.size, "big", signed=True)


def corners(values: dict) -> list[tuple[float, float]] | None:
    """The four image corners (latitude, longitude): frame centre plus the offsets of tags 26-33,
    when the centre and all eight offsets are present and none is N/A."""
    names = [f"offset_corner_{axis}_{p}" for p in range(1, 5) for axis in ("latitude", "longitude")]
    centre = values.get("frame_center_latitude"), values.get("frame_center_longitude")
    offsets = [values.get(name) for name in names]
    if None in centre or None in offsets:
        return None
    return [(centre[0] + offsets[2 * i], centre[1] + offsets[2 * i + 1]) for i in range(4)]
