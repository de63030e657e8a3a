"""Per-frame conditions computed at ingest: how bright, whether night, whether thermal, how sharp,
whether blurred; and coarse bands for the flight altitude and the camera's depression angle.

All image measures are taken on a grey copy scaled to GREY_WIDTH pixels wide (height by aspect,
INTER_AREA when shrinking), so a 4K frame and its 720p proxy get comparable numbers and the cost
does not grow with the resolution. 16-bit frames are first mapped to 8 bits with the thermal
module's percentile AGC (1st..99th percentile), as they would be shown.

Thresholds, calibrated on the demo clips (bench/conditions_calibration.py prints the figures):
- night: mean grey below NIGHT_BELOW = 40. Real daylight frames of vtest.avi measure 118..123 and
  of bikes.mp4 (including its dim street shots) 66..135; the same frames darkened (gamma 2.2,
  then ×0.35, about three stops under) measure 6.5..26.
- blurred: blur effect above BLURRED_ABOVE = 0.45. Variance of the Laplacian (`sharpness`) is
  reported but does not decide: it measures texture as much as focus. On bikes.mp4 a sharp
  close-up of a smooth door scores 56 while a 15-px motion-blurred copy of a busy street scores
  up to 417, so no threshold on it separates sharp from blurred. The blur effect (Crété-Roffet et al.,
  "The blur effect: perception and estimation with a new no-reference perceptual blur metric",
  SPIE 2007: how much of the image's edge contrast survives a further 9-tap box blur, per axis,
  the worse axis) is normalised by the image's own contrast. Measured: vtest frames 0.23..0.24;
  bikes in-focus shots 0.25..0.38; 15-px horizontal or vertical motion blur of any of those
  frames ≥ 0.53; 21-px diagonal blur 0.44..0.77 (all vtest and 86% of bikes frames flagged:
  the measure looks along the two axes). Known limits: bikes' shallow-focus shots (a taxi before
  a bokeh street, frames ~35..75) score 0.46..0.56 and are flagged (22% of bikes frames);
  most of each such frame is out of focus.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from labeling.footage.thermal import percentile_window, to_8bit

GREY_WIDTH = 320
NIGHT_BELOW = 40.0
BLURRED_ABOVE = 0.45
BLUR_TAPS = 9  # the re-blur of the blur-effect measure, as in Crété-Roffet et al.

# Altitude bands in metres above take-off: [lower, upper) and a name. 50 m: close inspection and
# low survey; 150 m: just above the 120 m (EU) / 400 ft (US) ceiling of open-category flight, so
# ordinary drone work is the second band; 500 m and above: manned aircraft and special operations.
ALTITUDE_BANDS = ((-math.inf, 50.0, "<50m"), (50.0, 150.0, "50-150m"),
                  (150.0, 500.0, "150-500m"), (500.0, math.inf, ">500m"))
# Depression angle: degrees below the horizon of the camera's axis (90 = straight down; DJI's
# gimbal pitch -90 is 90 here). 70+: near-nadir, the ground plane within about 20° of a map view;
# 30..70: oblique, the horizon usually out of frame; 0..30: shallow, horizon and sky in frame and
# objects seen side-on; below 0: looking up.
VIEW_BANDS = ((70.0, math.inf, "near-nadir"), (30.0, 70.0, "oblique"),
              (0.0, 30.0, "shallow"), (-math.inf, 0.0, "above-horizon"))


def grey_proxy(pixels: np.ndarray) -> np.ndarray:
    """The GREY_WIDTH-wide uint8 grey copy every measure is taken on. Accepts H×W×3 BGR or
    H×W×4 BGRA uint8, H×W uint8 grey, or H×W uint16 (mapped with the percentile AGC)."""
    arr = np.asarray(pixels)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ValueError(f"an H×W or H×W×C image is needed, not shape {arr.shape}")
    h, w = arr.shape[:2]
    size = (GREY_WIDTH, max(1, round(h * GREY_WIDTH / w)))
    interp = cv2.INTER_AREA if w > GREY_WIDTH else cv2.INTER_LINEAR
    if arr.dtype == np.uint16:
        if arr.ndim != 2:
            raise ValueError("a 16-bit frame must be single-channel (H×W)")
        window = percentile_window(arr)  # of the full frame, as displayed: shrinking first
        small = cv2.resize(arr, size, interpolation=interp)  # would average the noise away
        return to_8bit(small, *window)
    if arr.dtype != np.uint8:
        raise ValueError(f"uint8 (BGR or grey) or uint16 pixels are needed, not {arr.dtype}")
    if arr.ndim == 3:
        codes = {1: None, 3: cv2.COLOR_BGR2GRAY, 4: cv2.COLOR_BGRA2GRAY}
        if arr.shape[2] not in codes:
            raise ValueError(f"1, 3 or 4 channels are needed, not {arr.shape[2]}")
        arr = arr[:, :, 0] if codes[arr.shape[2]] is None else cv2.cvtColor(arr, codes[arr.shape[2]])
    return cv2.resize(arr, size, interpolation=interp)


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian (3×3) of a grey proxy: high for fine detail in focus."""
    _, std = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_32F))
    return float(std[0, 0] ** 2)


def blur_effect(grey: np.ndarray) -> float:
    """Crété-Roffet blur effect of a grey proxy, 0 (sharp) .. 1 (blurred). Per axis, (S - L) / S
    where S sums the neighbour differences and L the part of them a further BLUR_TAPS box blur
    along that axis takes away: a sharp image loses much to the re-blur, a blurred one little.
    The larger of the two axes, so that motion blur along either one counts."""
    g = grey.astype(np.float32)
    box, one = np.full(BLUR_TAPS, 1.0 / BLUR_TAPS, np.float32), np.ones(1, np.float32)
    worst = 0.0
    for axis in (0, 1):
        kx, ky = (box, one) if axis == 1 else (one, box)
        blurred = cv2.sepFilter2D(g, -1, kx, ky, borderType=cv2.BORDER_REFLECT)
        d = np.abs(np.diff(g, axis=axis))
        total = float(d.sum())
        if total <= 0:
            return 1.0  # a flat image has no detail at all
        lost = float(np.maximum(d - np.abs(np.diff(blurred, axis=axis)), 0).sum())
        worst = max(worst, (total - lost) / total)
    return worst


def describe(pixels: np.ndarray, *, thermal: bool = False) -> dict:
    """Conditions of one frame. brightness: mean grey 0..255 (16-bit frames: of the AGC image);
    night: brightness < NIGHT_BELOW, None for thermal frames (AGC stretches every thermal frame
    to mid-grey, and a thermal camera needs no daylight); thermal: as given by the frame's kind;
    sharpness: variance of the Laplacian; blur_effect: 0..1; blurred: blur_effect > BLURRED_ABOVE."""
    grey = grey_proxy(pixels)
    brightness = float(cv2.mean(grey)[0])
    effect = blur_effect(grey)
    return {
        "brightness": round(brightness, 2),
        "night": None if thermal else brightness < NIGHT_BELOW,
        "thermal": bool(thermal),
        "sharpness": round(sharpness(grey), 2),
        "blur_effect": round(effect, 4),
        "blurred": effect > BLURRED_ABOVE,
    }


def depression_from_gimbal_pitch(pitch_deg: float | None) -> float | None:
    """DJI gimbal pitch (0 = level, -90 = straight down) as a depression angle (90 = down)."""
    return None if pitch_deg is None else -float(pitch_deg)


def _band(value, table) -> str | None:
    if value is None or not math.isfinite(float(value)):
        return None
    return next(name for lower, upper, name in table if lower <= float(value) < upper)


def bands(altitude_m: float | None, sensor_angle_deg: float | None) -> dict:
    """{'altitude_band', 'view_band'}: the ALTITUDE_BANDS name of a height above take-off
    (metres) and the VIEW_BANDS name of a depression angle (degrees below the horizon);
    None where the value is unknown."""
    return {"altitude_band": _band(altitude_m, ALTITUDE_BANDS),
            "view_band": _band(sensor_angle_deg, VIEW_BANDS)}
