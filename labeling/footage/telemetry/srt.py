"""DJI `.SRT` sidecars: the per-frame (or per-second) telemetry a DJI drone writes next to each video.

Two families of cue text exist, and this module reads both (samples read, not copied, from
JuanIrache/DJI_SRT_Parser `samples/` (MIT), PhilipQuirke/SkyCombDroneLibrary `Drone_DJI.cs`
comments, and mifi/lossless-cut's test for issue #2072):

bracket (Mini 2/3/4, Air 2S, Mavic 3, M3T, M2E):
    <font size="28">FrameCnt: 1, DiffTime: 33ms
    2023-04-01 12:34:56.789
    [iso: 100] [shutter: 1/1000.0] [fnum: 1.7] ... [latitude: 50.1] [longitude: 30.6]
    [rel_alt: 45.300 abs_alt: 210.200] [gb_yaw: -142.5 gb_pitch: -28.7 gb_roll: 0.0] </font>
  Mavic 2 / M2E firmware spells `longtitude`; the Air 2S writes `SrtCnt`, `[iso : 100]`,
  `fnum: 280` (f/2.8 in hundredths) and `2022-08-07 13:40:40,774,808` (ms, then µs).

legacy (Phantom 3/4, Mavic Pro, Mavic Mini, P4 RTK, Matrice 300):
    HOME(131.1660,-25.2088) 2017.07.29 15:18:50
    GPS(131.1660,-25.2088,14) BAROMETER:0.0
    ISO:100 Shutter:60 EV: Fnum:2.2
  or one line: `F/2.8, SS 320, ISO 100, EV 0, GPS (15.0732, 67.9771, 19), D 67.78m, H 20.30m,
  H.S 1.03m/s, V.S 0.00m/s`.
  Here `GPS(a, b, n)` is (LONGITUDE, latitude, satellite count): the Phantom sample above is
  Uluru (lat -25.2, lon 131.2), the Mavic Pro one Lofoten (lat 67.98). The one exception is the
  Matrice 300, `GPS(36.6146,-6.1120,0.0M)`: (latitude, longitude, altitude with an `M` unit),
  Cádiz. The `M` suffix tells them apart; a value beyond ±90 can only be a longitude, which
  fixes the order when the rule would put it in the latitude.

Heights: `rel_alt`, `BAROMETER`, `Hb` and `H` are metres above the take-off point (relative);
`abs_alt` is metres above sea level. The Air 2S / M2E `[altitude: …]` is kept in `extra` only:
the samples do not say which of the two it is.

Datetimes are naive and kept as written: DJI writes no time zone (the aircraft's clock, set
from the phone: usually local time). Attach a zone only where the flight's place is known.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Iterable

MAX_REASONS = 5
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".ts", ".mts"}

_NUM = r"[-+]?\d*\.?\d+"
_TIMING = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2})[,.](\d+)\s*-->\s*(\d+):(\d{1,2}):(\d{1,2})[,.](\d+)\s*$")
_TAG = re.compile(r"<[^>]*>")
_COUNT = re.compile(r"\b(?:FrameCnt|SrtCnt)\s*:\s*(\d+)", re.I)
_DIFF = re.compile(r"\bDiffTime\s*:\s*(" + _NUM + r")\s*ms", re.I)
_DATE = re.compile(r"(\d{4})[-.](\d{1,2})[-.](\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d{1,3})(?:,(\d{3}))?)?")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*:")
_TUPLE = re.compile(r"\b(GPS|HOME)\s*\(\s*(" + _NUM + r")\s*,\s*(" + _NUM + r")\s*(?:,\s*(" + _NUM + r")\s*(M?)\s*)?\)", re.I)
# legacy `key value` / `key:value` pairs (GPS/HOME tuples are removed before these run)
_LEGACY = {
    "rel_alt": re.compile(r"\b(?:BAROMETER|Hb|H)\s*:?\s*(" + _NUM + r")", re.I),
    "distance_m": re.compile(r"\bD\s+(" + _NUM + r")\s*m\b"),
    "h_speed_mps": re.compile(r"\bH\.S\s*:?\s*(" + _NUM + r")"),
    "v_speed_mps": re.compile(r"\bV\.S\s*:?\s*(" + _NUM + r")"),
    "iso": re.compile(r"\bISO\s*:?\s*(\d+)"),
    "shutter": re.compile(r"\b(?:Shutter|SS|TV)\s*:?\s*((?:1/)?" + _NUM + r")"),
    "ev": re.compile(r"\bEV\s*:?[ \t]*(" + _NUM + r")"),
    "fnum": re.compile(r"(?:\bFnum\s*:?\s*F?|\bIR\s*:?\s*F|(?<![\w/])F/)(" + _NUM + r")"),
    "dzoom": re.compile(r"\bDZOOM\s*:?\s*(" + _NUM + r")"),
}
_BRACKET_NAMES = {"longtitude": "longitude", "color_temperature": "ct"}


@dataclass(frozen=True)
class SrtCue:
    """One subtitle cue: what the drone knew while this frame (or second) was shown.

    start_s/end_s: the cue's time in the video, seconds. frame_count: DJI's FrameCnt/SrtCnt
    (1-based) when written. latitude/longitude: WGS84 degrees, None without a GPS fix
    (DJI writes 0, 0 then). rel_alt_m: metres above take-off; abs_alt_m: metres above sea
    level. extra: camera and gimbal fields by name (iso, shutter as written, shutter_s,
    fnum, ev, ct (colour temperature, K), focal_len as written (some models in tenths of mm),
    gb_yaw/gb_pitch/gb_roll (degrees), distance_m, h_speed_mps, v_speed_mps, home_lat/home_lon,
    gps_satellites, ...)."""
    index: int
    start_s: float
    end_s: float
    frame_count: int | None
    datetime: datetime | None
    latitude: float | None
    longitude: float | None
    rel_alt_m: float | None
    abs_alt_m: float | None
    extra: dict = field(default_factory=dict)


@dataclass
class SrtReport:
    """cues: the readable cues in file order; skipped: how many cues were not; reasons: why,
    for the first MAX_REASONS of them (cue number and cause)."""
    cues: list[SrtCue]
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)

    def _skip(self, why: str) -> None:
        self.skipped += 1
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(why)


def decode(data: bytes | str) -> str:
    """Text of an SRT file: UTF-8 (a BOM is dropped), undecodable bytes replaced, not fatal;
    CRLF and lone CR read as newlines."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, (bytes, bytearray)) else data
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def parse(text: bytes | str) -> SrtReport:
    """Every cue of a DJI SRT file. A cue that cannot be read is skipped and counted, never fatal."""
    report = SrtReport(cues=[])
    for number, block in enumerate(re.split(r"\n[ \t\u00a0]*\n", decode(text)), start=1):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        try:
            report.cues.append(_cue(lines))
        except ValueError as exc:
            report._skip(f"cue {number}: {exc}")
    return report


def _cue(lines: list[str]) -> SrtCue:
    head = lines[0].strip().lstrip("\ufeff")
    if not head.isdigit():
        raise ValueError(f"no cue number (starts {head[:30]!r})")
    timing = _TIMING.match(lines[1]) if len(lines) > 1 else None
    if timing is None:
        raise ValueError("no 'start --> end' timing line")
    g = [int(x) for x in timing.groups()]
    start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000  # minutes/seconds up to 60 seen (M300)
    end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
    payload = _TAG.sub(" ", "\n".join(lines[2:]))
    fields = _bracket_fields(payload) or _legacy_fields(payload)  # one style per cue
    count = _COUNT.search(payload)
    when = _datetime(payload)
    if not fields and count is None and when is None:
        raise ValueError("no telemetry in the cue")
    lat, lon = _number(fields.pop("latitude", None)), _number(fields.pop("longitude", None))
    if lat is not None and lon is not None:
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"position out of range ({lat}, {lon})")
        if lat == 0 and lon == 0:  # DJI's "no fix" (ATTI mode, no satellites yet)
            lat = lon = None
    else:
        lat = lon = None
    extra = {k: _typed(k, v) for k, v in fields.items() if k not in ("rel_alt", "abs_alt")}
    if (diff := _DIFF.search(payload)) is not None:
        extra["diff_time_ms"] = float(diff.group(1))
    if "shutter" in extra:
        extra["shutter_s"] = _shutter_seconds(str(extra["shutter"]))
    return SrtCue(index=int(head), start_s=start, end_s=end,
                  frame_count=int(count.group(1)) if count else None, datetime=when,
                  latitude=lat, longitude=lon, rel_alt_m=_number(fields.get("rel_alt")),
                  abs_alt_m=_number(fields.get("abs_alt")), extra=extra)


def _bracket_fields(payload: str) -> dict[str, str]:
    """`[key: value key2: value2]` groups, keys lower-cased and misspellings mended."""
    out: dict[str, str] = {}
    for inner in _BRACKET.findall(payload):
        parts = _KEY.split(inner)  # ['', key, value, key, value, ...]
        for key, value in zip(parts[1::2], parts[2::2]):
            value = value.strip().rstrip(",").strip()
            if value:
                key = key.lower()
                out.setdefault(_BRACKET_NAMES.get(key, key), value)
    return out


def _legacy_fields(payload: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _TUPLE.finditer(payload):
        kind, a, b, third, unit = m.group(1).upper(), float(m.group(2)), float(m.group(3)), m.group(4), m.group(5)
        lat_first = bool(unit)  # Matrice 300: GPS(lat, lon, altM); everyone else: (lon, lat, n)
        lat, lon = (a, b) if lat_first else (b, a)
        if abs(lat) > 90 >= abs(lon):  # the rule put a longitude in the latitude: the values decide
            lat, lon = lon, lat
        if kind == "HOME":
            out.setdefault("home_lat", str(lat))
            out.setdefault("home_lon", str(lon))
        else:
            out.setdefault("latitude", str(lat))
            out.setdefault("longitude", str(lon))
            if third is not None:
                out.setdefault("gps_alt_m" if unit else "gps_satellites", third)
    text = _TUPLE.sub(" ", payload)
    for key, pattern in _LEGACY.items():
        if (m := pattern.search(text)) is not None:
            out.setdefault(key, m.group(1))
    return out


def _datetime(payload: str) -> datetime | None:
    m = _DATE.search(payload)
    if m is None:
        return None
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    micro = int((m.group(7) or "0").ljust(3, "0")) * 1000 + int(m.group(8) or 0)
    try:
        return datetime(y, mo, d, h, mi, s, micro)
    except ValueError:
        return None


def _number(value) -> float | None:
    if value is None:
        return None
    try:
        return float(str(value).rstrip("mM"))
    except ValueError:
        return None


def _typed(key: str, value: str):
    """Numbers become floats (iso, ct, counts: ints); the rest stays text as written."""
    if key == "fnum":
        f = _number(value.lstrip("Ff/"))
        return f / 100 if f is not None and f > 50 else f  # Air 2S writes f/2.8 as 280
    num = _number(value)
    if num is None:
        return value
    if key in ("iso", "ct", "gps_satellites") and num.is_integer():
        return int(num)
    if key == "shutter":
        return value
    return num


def _shutter_seconds(value: str) -> float | None:
    """`1/1000.0` → 0.001; a bare legacy `SS 320` / `Shutter:60` is the denominator."""
    num, _, den = value.partition("/")
    try:
        return float(num) / float(den) if den else 1 / float(num)
    except (ValueError, ZeroDivisionError):
        return None


def sidecar_for(video_name: str, names: Iterable[str]) -> str | None:
    """The `.SRT` member beside a video member in the same folder, by stem, ignoring case
    (`DJI_0012.MP4` ↔ `DJI_0012.SRT` or `dji_0012.srt`). An exact-case match wins; otherwise
    the first by name. None when there is none."""
    video = PurePosixPath(video_name.replace("\\", "/"))
    want = (str(video.parent).lower(), video.stem.lower())
    found = sorted(n for n in names if _srt_key(n) == want)
    exact = [n for n in found if PurePosixPath(n.replace("\\", "/")).stem == video.stem]
    return (exact or found or [None])[0]


def pair_sidecars(names: Iterable[str]) -> dict[str, str]:
    """Each video member of an archive listing mapped to its sidecar SRT member, where it has one.
    macOS resource forks (`__MACOSX/`, `._name`) are neither videos nor sidecars."""
    names = [n for n in names if not _junk(n)]
    pairs = {}
    for name in names:
        if PurePosixPath(name.replace("\\", "/")).suffix.lower() in VIDEO_SUFFIXES:
            srt = sidecar_for(name, names)
            if srt is not None:
                pairs[name] = srt
    return pairs


def _srt_key(name: str) -> tuple[str, str] | None:
    path = PurePosixPath(name.replace("\\", "/"))
    if _junk(name) or path.suffix.lower() != ".srt":
        return None
    return str(path.parent).lower(), path.stem.lower()


def _junk(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return name.endswith("/") or path.name.startswith("._") or "__MACOSX" in path.parts
