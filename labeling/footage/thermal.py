"""16-bit single-channel frames (radiometric thermal): read, hash and store them losslessly, and map
them to 8 bits for display with automatic gain control (AGC) and a palette.

The stored frame is the sensor's raw counts; nothing here changes them. Display is a separate,
lossy step: a window (lo, hi) of raw values is stretched onto 0..255, then coloured.

Colour images are BGR, OpenCV's order (`cv2.imwrite` and the rest of aerie's cv2 code take them
as they come).
"""
from __future__ import annotations

import hashlib
import io

import cv2
import numpy as np

PALETTES = ("white-hot", "black-hot", "ironbow", "rainbow")
HIST_SAMPLES = 1 << 18  # percentiles from at most ~262k pixels: every 2nd row and column of a 640×512 core, every 6th of 4K

# Ironbow anchors (position 0..1, RGB): black → indigo → magenta → yellow → white, the sequence of
# FLIR's "Iron" palette. The five colours and their even spacing are those of the "Ironbow"
# matplotlib LinearSegmentedColormap published with the open-source FLIR .csq reader examples on
# GitHub ((0,0,0), (.13,0,.55), (.8,0,.47), (1,.84,0), (1,1,1) as RGB fractions); interpolating
# magenta to yellow passes through the oranges and reds of the familiar display.
_IRONBOW_ANCHORS = (
    (0.00, (0, 0, 0)),
    (0.25, (33, 0, 140)),
    (0.50, (204, 0, 120)),
    (0.75, (255, 214, 0)),
    (1.00, (255, 255, 255)),
)


def _check_u16(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.dtype.kind != "u" or frame.dtype.itemsize != 2:  # either byte order
        raise ValueError(f"a 16-bit frame is needed (dtype uint16), not {frame.dtype}")
    if frame.ndim != 2:
        raise ValueError(f"a single-channel frame is needed (H×W), not shape {frame.shape}")
    return frame


def percentile_window(frame_u16: np.ndarray, low: float = 1.0, high: float = 99.0) -> tuple[int, int]:
    """(lo, hi): the raw values at the `low` and `high` percentiles of the frame, so that a few
    hot or dead pixels do not set the contrast. From a 65536-bin histogram of a regular subsample
    (HIST_SAMPLES pixels at most). A constant frame gives lo == hi."""
    frame = _check_u16(frame_u16).astype(np.uint16, copy=False)
    if not 0 <= low < high <= 100:
        raise ValueError(f"percentiles need 0 <= low < high <= 100, not {low}, {high}")
    if frame.size == 0:
        raise ValueError("the frame is empty")
    step = max(1, int(np.ceil(np.sqrt(frame.size / HIST_SAMPLES))))
    sample = frame[::step, ::step]
    cdf = np.cumsum(np.bincount(sample.ravel(), minlength=65536))
    n = cdf[-1]
    lo = int(np.searchsorted(cdf, max(1.0, low / 100 * n)))
    hi = int(np.searchsorted(cdf, max(1.0, high / 100 * n)))
    return lo, max(lo, hi)


def smoothed_windows(windows, radius: int = 7) -> np.ndarray:
    """Windows (lo, hi) per frame, each replaced by the mean over frames i-radius..i+radius
    (truncated at the ends), as an (n, 2) float array.

    A centred moving average, not a one-sided EMA: ingest sees the whole sequence, so there is no
    reason to accept an EMA's lag (the display would brighten frames after a hot object arrived).
    radius 7 is ±0.25 s at 30 fps, which removes frame-to-frame flicker and still follows a pan to a
    hotter scene within half a second. The mean of windows with lo <= hi keeps lo <= hi."""
    w = np.asarray(windows, dtype=np.float64).reshape(-1, 2)
    if radius < 0:
        raise ValueError("radius must be >= 0")
    n = len(w)
    if n == 0 or radius == 0:
        return w.copy()
    sums = np.vstack([np.zeros((1, 2)), np.cumsum(w, axis=0)])
    idx = np.arange(n)
    start, stop = np.clip(idx - radius, 0, n), np.clip(idx + radius + 1, 0, n)
    return (sums[stop] - sums[start]) / (stop - start)[:, None]


def to_8bit(frame_u16: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The frame with raw `lo` mapped to 0 and `hi` to 255, linearly, clipped outside; uint8.
    When hi <= lo (a constant frame) values at or below lo are 0 and anything above is 255."""
    frame = _check_u16(frame_u16).astype(np.uint16, copy=False)
    base = int(np.clip(round(float(lo)), 0, 65535))
    span = max(float(hi) - base, 1.0)
    shifted = cv2.subtract(frame, np.full_like(frame, base))  # saturates at 0 below lo
    return cv2.convertScaleAbs(shifted, alpha=255.0 / span)  # rounds, saturates at 255 above hi


def _lut_from_anchors(anchors) -> np.ndarray:
    pos = np.array([p for p, _ in anchors])
    rgb = np.array([c for _, c in anchors], dtype=np.float64)
    x = np.linspace(0, 1, 256)
    table = np.stack([np.interp(x, pos, rgb[:, ch]) for ch in range(3)], axis=1)
    return np.round(table[:, ::-1]).astype(np.uint8)  # RGB anchors → BGR table


def _luts() -> dict[str, np.ndarray]:
    grey = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    rainbow = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_RAINBOW)[:, 0]
    return {"white-hot": grey, "black-hot": grey[::-1].copy(),
            "ironbow": _lut_from_anchors(_IRONBOW_ANCHORS),
            "rainbow": rainbow[::-1].copy()}  # OpenCV's RAINBOW runs red→violet; cold is violet here


LUTS = _luts()  # name → (256, 3) uint8 BGR; index 0 is the coldest


def apply_palette(u8: np.ndarray, name: str) -> np.ndarray:
    """An H×W×3 uint8 BGR image of an H×W uint8 display frame (0 = coldest, 255 = hottest)."""
    if name not in LUTS:
        raise ValueError(f"unknown palette {name!r}; known: {', '.join(PALETTES)}")
    u8 = np.asarray(u8)
    if u8.dtype != np.uint8 or u8.ndim != 2:
        raise ValueError(f"an H×W uint8 frame is needed, not {u8.dtype} {u8.shape}")
    return LUTS[name][u8]


def render(frame_u16: np.ndarray, palette: str = "white-hot", window: tuple[float, float] | None = None) -> np.ndarray:
    """The display image of a 16-bit frame: `window` (e.g. from smoothed_windows), else the
    frame's own percentile window, then the palette."""
    lo, hi = window if window is not None else percentile_window(frame_u16)
    return apply_palette(to_8bit(frame_u16, lo, hi), palette)


def read_16bit(data: bytes) -> np.ndarray:
    """The H×W uint16 frame in a 16-bit single-channel PNG or TIFF. 8-bit, float or
    multi-channel images are refused with a ValueError saying what was found."""
    arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if arr is None:
        arr = _read_with_pillow(data)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    if arr.dtype != np.uint16 or channels != 1:
        raise ValueError(f"a 16-bit single-channel image is needed; this one is "
                         f"{arr.dtype.itemsize * 8}-bit ({arr.dtype}) with {channels} channel(s)")
    return arr


def _read_with_pillow(data: bytes) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if img.mode in ("I;16", "I;16B", "I;16L"):
                return np.array(img, dtype=np.uint16)
            return np.array(img)
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"not a readable PNG or TIFF image: {exc}") from exc


def raw_sha256(frame: np.ndarray) -> str:
    """sha256 (hex) of the raw values: uint16 little-endian, row-major, no header. Two files that
    hold the same pixels (PNG vs TIFF, other compression) have the same hash."""
    frame = _check_u16(frame)
    return hashlib.sha256(np.ascontiguousarray(frame, dtype="<u2").tobytes()).hexdigest()


def encode_png16(frame: np.ndarray) -> bytes:
    """A lossless 16-bit greyscale PNG of the frame (for storage)."""
    ok, buf = cv2.imencode(".png", _check_u16(frame).astype(np.uint16, copy=False), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()
