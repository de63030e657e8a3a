"""Rendering a derived frame: pixels + regions + method → pixels. Pure (numpy/OpenCV), no I/O.

Each method destroys what is inside a region, not just softens it:
- blur: the region is shrunk to a few pixels across (area average), grown back and smoothed, so
  no detail finer than about a sixth of the region survives (eyes, mouth and nose of a face
  are gone; the Haar cascade and CenterFace find nothing in it);
- pixelate: blocks of about a sixth of the region's long side, each its mean colour;
- fill: a flat colour.
Regions are (x, y, w, h) in frame pixels, clipped to the frame; overlapping regions compose."""
from __future__ import annotations

import cv2
import numpy as np

METHODS = ("blur", "pixelate", "fill")
FILL_COLOUR = 0
BLUR_CELLS = 6  # the long side of a blurred region keeps about this many independent values
PIXEL_BLOCKS = 6


def _clip(region, width: int, height: int) -> tuple[int, int, int, int] | None:
    x, y, w, h = (float(v) for v in region[:4])
    x1, y1 = max(0, int(np.floor(x))), max(0, int(np.floor(y)))
    x2, y2 = min(width, int(np.ceil(x + w))), min(height, int(np.ceil(y + h)))
    return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None


def _blur(patch: np.ndarray) -> np.ndarray:
    h, w = patch.shape[:2]
    cells = max(1, max(h, w) // BLUR_CELLS)  # pixels per cell
    small = cv2.resize(patch, (max(1, w // cells), max(1, h // cells)), interpolation=cv2.INTER_AREA)
    grown = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(grown, (0, 0), sigmaX=max(1.0, cells / 2))


def _pixelate(patch: np.ndarray) -> np.ndarray:
    h, w = patch.shape[:2]
    block = max(4, max(h, w) // PIXEL_BLOCKS)
    small = cv2.resize(patch, (max(1, -(-w // block)), max(1, -(-h // block))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def render(pixels: np.ndarray, regions, method: str) -> np.ndarray:
    """A copy of `pixels` (H×W or H×W×C uint8) with every region hidden by `method`."""
    if method not in METHODS:
        raise ValueError(f"method: one of {', '.join(METHODS)}")
    out = pixels.copy()
    height, width = out.shape[:2]
    for region in regions:
        box = _clip(region, width, height)
        if box is None:
            continue
        x1, y1, x2, y2 = box
        patch = out[y1:y2, x1:x2]
        if method == "fill":
            patch[...] = FILL_COLOUR
        elif method == "pixelate":
            patch[...] = _pixelate(patch).reshape(patch.shape)
        else:
            patch[...] = _blur(patch).reshape(patch.shape)
    return out


def encode_jpeg(pixels_bgr: np.ndarray, quality: int = 90) -> bytes:
    ok, data = cv2.imencode(".jpg", pixels_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("the frame could not be encoded as JPEG")
    return data.tobytes()


def decode(data: bytes) -> np.ndarray:
    """BGR pixels of an image file's bytes (what ingest stored: JPEG or PNG)."""
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if pixels is None:
        raise ValueError("the frame file could not be decoded")
    return pixels
