"""16-bit thermal frames (labeling.footage.thermal): AGC window, temporal smoothing, palettes,
lossless storage and the raw-value hash. Pure: no database; frames are made here."""
from __future__ import annotations

import hashlib
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from labeling.footage import thermal

H, W = 240, 320
BLOB = (slice(90, 150), slice(130, 190))  # rows, columns of the warm object


def scene(seed: int = 0, offset: int = 0, outliers: bool = True) -> np.ndarray:
    """A cool gradient (raw 20000..22000) with sensor noise, a warm blob (+2500), and, unless told
    otherwise, a few saturated hot pixels and dead (zero) pixels, as real microbolometers have."""
    rng = np.random.default_rng(seed)
    frame = np.tile(np.linspace(20000, 22000, W), (H, 1)) + rng.normal(0, 40, (H, W)) + offset
    yy, xx = np.mgrid[:H, :W]
    frame += 2500 * np.exp(-(((yy - 120) / 25.0) ** 2 + ((xx - 160) / 25.0) ** 2))
    if outliers:
        flat = frame.reshape(-1)
        flat[rng.choice(frame.size, 40, replace=False)] = 65535
        flat[rng.choice(frame.size, 40, replace=False)] = 0
    return np.clip(frame, 0, 65535).astype(np.uint16)


def test_percentile_window_matches_numpy_and_ignores_outliers():
    frame = scene()
    lo, hi = thermal.percentile_window(frame)
    ref_lo, ref_hi = np.percentile(frame, [1, 99])
    assert abs(lo - ref_lo) <= 2 and abs(hi - ref_hi) <= 2
    clean = thermal.percentile_window(scene(outliers=False))
    span = clean[1] - clean[0]
    assert abs(lo - clean[0]) < 0.02 * span and abs(hi - clean[1]) < 0.02 * span  # 80 bad pixels
    assert thermal.percentile_window(frame, 0, 100) == (0, 65535)  # ...which they would at 0/100


def test_percentile_window_on_a_subsample_of_a_large_frame():
    big = cv2.resize(scene(), (4096, 3072), interpolation=cv2.INTER_LINEAR)
    lo, hi = thermal.percentile_window(big)
    ref_lo, ref_hi = np.percentile(big, [1, 99])
    assert abs(lo - ref_lo) < 20 and abs(hi - ref_hi) < 20


def test_constant_frame():
    flat = np.full((16, 16), 31000, np.uint16)
    assert thermal.percentile_window(flat) == (31000, 31000)
    assert not thermal.to_8bit(flat, 31000, 31000).any()  # shown black, no division by zero


def test_to_8bit_is_a_clipped_linear_stretch():
    ramp = np.array([[900, 1000, 1500, 2000, 2100, 65535]], np.uint16)
    assert thermal.to_8bit(ramp, 1000, 2000).tolist() == [[0, 0, 128, 255, 255, 255]]
    assert thermal.to_8bit(ramp, 1000, 2000).dtype == np.uint8


def test_blob_is_bright_in_white_hot_and_dark_in_black_hot():
    frame = scene()
    lo, hi = thermal.percentile_window(frame)
    white = thermal.render(frame, "white-hot", (lo, hi))
    black = thermal.render(frame, "black-hot", (lo, hi))
    assert white.shape == (H, W, 3) and white.dtype == np.uint8
    background = np.ones((H, W), bool)
    background[BLOB] = False
    assert white[BLOB].mean() > white[background].mean() + 80
    assert black[BLOB].mean() < black[background].mean() - 80
    assert (black.astype(int) + white == 255).all()


def test_palette_tables_run_cold_to_hot_in_bgr():
    for name in thermal.PALETTES:
        lut = thermal.LUTS[name].astype(float)
        luma = lut @ [0.114, 0.587, 0.299]  # BGR weights
        if name == "black-hot":
            assert luma[0] > luma[-1]
        elif name == "rainbow":
            assert lut[0, 0] > lut[0, 2] and lut[-1, 2] > lut[-1, 0]  # violet/blue cold, red hot
        else:
            assert (np.diff(luma) >= -0.5).all(), name  # never darker as it gets hotter
    iron = thermal.LUTS["ironbow"]
    assert iron[0].tolist() == [0, 0, 0] and iron[-1].tolist() == [255, 255, 255]
    warm = iron[200]
    assert warm[2] > 200 and warm[0] < 80  # yellow-orange: red high, blue low (BGR order)


def test_apply_palette_refuses_unknown_names_and_wrong_input():
    u8 = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError, match="unknown palette 'sepia'.*ironbow"):
        thermal.apply_palette(u8, "sepia")
    with pytest.raises(ValueError, match="uint8"):
        thermal.apply_palette(u8.astype(np.uint16), "ironbow")
    with pytest.raises(ValueError, match="uint8"):
        thermal.apply_palette(np.zeros((4, 4, 3), np.uint8), "ironbow")


def test_16bit_single_channel_required():
    with pytest.raises(ValueError, match="16-bit"):
        thermal.percentile_window(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="single-channel"):
        thermal.to_8bit(np.zeros((4, 4, 3), np.uint16), 0, 1)
    with pytest.raises(ValueError, match="percentiles"):
        thermal.percentile_window(scene(), 99, 1)


def window_jump(windows) -> float:
    """Mean frame-to-frame change of the window, in raw counts (lo and hi together)."""
    return float(np.abs(np.diff(np.asarray(windows, float), axis=0)).sum(axis=1).mean())


def test_smoothing_removes_flicker_and_keeps_up_with_a_real_change():
    """A steady scene whose level flickers by ±150 counts frame to frame (non-uniformity
    correction and gain hunting do this), then a real +3000 step at frame 40 (a pan to a hotter
    scene)."""
    rng = np.random.default_rng(7)
    flicker = rng.choice([-150, 150], 80)
    step = np.where(np.arange(80) < 40, 0, 3000)
    windows = [thermal.percentile_window(scene(i, int(flicker[i] + step[i]))) for i in range(80)]
    radius = 7
    smooth = thermal.smoothed_windows(windows, radius=radius)
    assert smooth.shape == (80, 2) and (smooth[:, 0] <= smooth[:, 1]).all()
    steady = np.r_[0:40 - radius - 1, 40 + radius + 1:80]  # frames whose neighbours skip the step
    before = window_jump(np.asarray(windows)[steady])
    after = window_jump(smooth[steady])
    assert after < 0.35 * before, (before, after)
    # no lag: radius+1 frames after the step the window sits on the new level
    late = np.asarray(windows)[40 + radius + 1:80].mean(axis=0)
    assert np.abs(smooth[40 + radius + 1] - late).max() < 120
    assert np.abs(smooth[40 - radius - 2] - np.asarray(windows)[:40].mean(axis=0)).max() < 120


def test_smoothing_edge_cases():
    w = [(10, 20), (30, 50), (50, 80)]
    assert thermal.smoothed_windows(w, radius=0).tolist() == [[10, 20], [30, 50], [50, 80]]
    assert thermal.smoothed_windows(w, radius=1).tolist() == [[20, 35], [30, 50], [40, 65]]
    assert thermal.smoothed_windows([], radius=3).shape == (0, 2)
    with pytest.raises(ValueError):
        thermal.smoothed_windows(w, radius=-1)


def test_png_and_tiff_round_trips_are_lossless():
    frame = scene()
    png = thermal.encode_png16(frame)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(thermal.read_16bit(png), frame)
    ok, tiff = cv2.imencode(".tiff", frame)
    assert ok and np.array_equal(thermal.read_16bit(tiff.tobytes()), frame)
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, "TIFF")  # written by Pillow (mode I;16), not OpenCV
    assert np.array_equal(thermal.read_16bit(buf.getvalue()), frame)


def test_8bit_multichannel_and_garbage_refused():
    grey8 = cv2.imencode(".png", (scene() >> 8).astype(np.uint8))[1].tobytes()
    with pytest.raises(ValueError, match="16-bit single-channel.*8-bit"):
        thermal.read_16bit(grey8)
    rgb16 = cv2.imencode(".png", np.dstack([scene()] * 3))[1].tobytes()
    with pytest.raises(ValueError, match="3 channel"):
        thermal.read_16bit(rgb16)
    with pytest.raises(ValueError, match="PNG or TIFF"):
        thermal.read_16bit(b"not an image at all")


def test_raw_sha256_is_over_the_little_endian_values():
    tiny = np.array([[1, 256], [2, 65535]], np.uint16)
    assert thermal.raw_sha256(tiny) == hashlib.sha256(b"\x01\x00\x00\x01\x02\x00\xff\xff").hexdigest()
    frame = scene()
    digest = thermal.raw_sha256(frame)
    assert thermal.raw_sha256(frame.astype(">u2")) == digest  # byte order of the array is irrelevant
    assert thermal.raw_sha256(thermal.read_16bit(thermal.encode_png16(frame))) == digest
    assert thermal.raw_sha256(np.asfortranarray(frame)) == digest  # row-major whatever the layout
    changed = frame.copy()
    changed[5, 5] ^= 1
    assert thermal.raw_sha256(changed) != digest
    assert thermal.raw_sha256(frame.T) != digest
