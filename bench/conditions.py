"""Frame conditions (labeling.footage.conditions): the figures its thresholds were calibrated on,
and the cost of `describe` on one 720p frame (goal: under 5 ms on one core).

Real footage: every 20th frame of vtest.avi (768×576) and every 5th of bikes.mp4 (640×272),
taken as "day, sharp"; each also darkened (gamma 2.2, then ×0.35) as "night" and motion-blurred
(cv2.filter2D with a 15-px line kernel, horizontal and vertical; 21 px diagonal) as "blurred".

Prints, for each clip and copy, the range of brightness, sharpness (variance of the Laplacian)
and blur effect:
  BENCH conditions_<clip>_<copy>_<measure>_min / _max
and the timing, process CPU per call (wall clock labelled as such):
  BENCH conditions_describe_720p_bgr_cpu_ms
  BENCH conditions_describe_720p_u16_cpu_ms
  BENCH conditions_describe_720p_bgr_wall_ms
"""
from __future__ import annotations

import time

import _setup  # noqa: F401 - puts the project on sys.path
from _setup import emit

import cv2
import numpy as np

from fixtures import footage
from labeling.footage import conditions


def frames(name: str, step: int) -> list[np.ndarray]:
    cap, out, i = cv2.VideoCapture(str(footage.path(name))), [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            return out
        if i % step == 0:
            out.append(frame)
        i += 1


def darken(frame: np.ndarray) -> np.ndarray:
    return ((frame / 255.0) ** 2.2 * 0.35 * 255).astype(np.uint8)


def motion_blur(frame: np.ndarray, length: int, angle: float) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1
    centre = ((length - 1) / 2, (length - 1) / 2)
    kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D(centre, angle, 1), (length, length))
    return cv2.filter2D(frame, -1, kernel / kernel.sum())


def main() -> None:
    copies = {
        "real": lambda f: f,
        "dark": darken,
        "blur15h": lambda f: motion_blur(f, 15, 0),
        "blur15v": lambda f: motion_blur(f, 15, 90),
        "blur21d": lambda f: motion_blur(f, 21, 45),
    }
    for clip, step in (("vtest", 20), ("bikes", 5)):
        clip_frames = frames(clip, step)
        for copy, make in copies.items():
            rows = [conditions.describe(make(f)) for f in clip_frames]
            for key in ("brightness", "sharpness", "blur_effect"):
                values = [r[key] for r in rows]
                emit(f"conditions_{clip}_{copy}_{key}_min", float(min(values)))
                emit(f"conditions_{clip}_{copy}_{key}_max", float(max(values)))
            emit(f"conditions_{clip}_{copy}_blurred_share", sum(r["blurred"] for r in rows) / len(rows))
            emit(f"conditions_{clip}_{copy}_night_share", sum(r["night"] for r in rows) / len(rows))

    bgr = cv2.resize(frames("vtest", 400)[0], (1280, 720), interpolation=cv2.INTER_CUBIC)
    u16 = (cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 40 + 20000)
    for label, pixels, is_thermal in (("bgr", bgr, False), ("u16", u16, True)):
        conditions.describe(pixels, thermal=is_thermal)
        runs = 300
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(runs):
            conditions.describe(pixels, thermal=is_thermal)
        emit(f"conditions_describe_720p_{label}_cpu_ms", (time.process_time() - cpu) / runs * 1000)
        if label == "bgr":
            emit("conditions_describe_720p_bgr_wall_ms", (time.perf_counter() - wall) / runs * 1000)


if __name__ == "__main__":
    cv2.setNumThreads(1)  # one core, as the goal says
    main()
