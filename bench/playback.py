"""Playback on the segment page: is a segment played frame-exactly at its frame rate, and how fast
does a click on the timeline show the frame?

Set-up: bikes.mp4 (250 frames, 640×272, 25 fps; fixtures/FOOTAGE.md) ingested into a segment
project of one 250-frame segment and redacted (the annotator holds no raw access, so the page
plays the derived frames, made by the redaction job as after any ingest); aerie under gunicorn;
Debian's Chromium at 1366×768 opens the segment page.

- playback: after the page has loaded (it prefetches a window of frames around the playhead),
  play from the first frame to the last; the page's player counts the frames it showed and the
  animation ticks it waited for a frame still decoding (segment_player.js);
- seeks: 20 clicks on the timeline at frames far from each other (outside the prefetched window,
  so most are cold), each timed in the page from the click to the first animation frame after the
  new frame was put on screen.

Prints:
  BENCH playback_frames          frames shown while playing (249: every frame after the first)
  BENCH playback_fps             frames shown per second while playing
  BENCH playback_fps_ratio       playback_fps / the sequence's fps (goal ≥ 0.95)
  BENCH playback_dropped         frames skipped (the player never skips: it waits)
  BENCH playback_stall_ticks     animation ticks spent waiting for a frame to decode
  BENCH seek_p50_ms, seek_p95_ms a click on the timeline until the frame is painted (goal p95 ≤ 100)
"""
from __future__ import annotations

from _setup import django_environment, emit  # first: it fixes the import path

import random  # noqa: E402

import numpy as np  # noqa: E402

from _browser import segment_project, served, signed_in, wait_until  # noqa: E402

SEEKS = 20


def main() -> None:
    from fixtures import footage

    video = footage.path("bikes").read_bytes()
    with django_environment():
        project, annotator, frames = segment_project("playback", video, filename="bikes.mp4", segment_length=250)
        fps = 25.0
        with served() as base, signed_in(base, annotator.username) as page:
            page.goto(f"{base}/projects/{project.pk}/label/")
            page.wait_for_selector("#playhead[data-frame='0']")
            wait_until(page, "window.__segmentPlayer.ready.size >= 40")  # the prefetched window
            page.keyboard.press("`")
            wait_until(page, "!window.__segmentPlayer.playing", timeout=60)
            stats = page.evaluate("window.__segmentPlayer.stats")
            shown, seconds = stats["playedFrames"], stats["seconds"]
            box = page.locator("#timeline").bounding_box()
            left, right = 76, box["width"] - 10  # the lane labels and the margin (segment_timeline.js)
            rng = random.Random(7)
            targets = []
            while len(targets) < SEEKS:
                target = rng.randrange(0, 250)
                if not targets or abs(target - targets[-1]) > 60:
                    targets.append(target)
            page.evaluate("window.__segmentPlayer.stats.seeks = []")
            for target in targets:
                page.mouse.click(box["x"] + left + (right - left) * target / 249, box["y"] + 8)
                page.wait_for_selector(f"#stage[data-frame='{target}']")
                page.wait_for_timeout(150)
            seeks = page.evaluate("window.__segmentPlayer.stats.seeks")
    played_fps = shown / seconds if seconds else 0.0
    emit("playback_frames", shown)
    emit("playback_fps", played_fps)
    emit("playback_fps_ratio", played_fps / fps)
    emit("playback_dropped", 249 - shown)
    emit("playback_stall_ticks", stats["stalls"])
    emit("seek_count", len(seeks))
    emit("seek_p50_ms", float(np.percentile(seeks, 50)))
    emit("seek_p95_ms", float(np.percentile(seeks, 95)))


if __name__ == "__main__":
    main()
