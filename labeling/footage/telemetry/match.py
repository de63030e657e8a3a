"""Which telemetry record describes which video frame, by time.

The rule: a frame takes the latest record at or before it (telemetry holds until the next
sample; KLV comes at the frame rate or lower), if that record is at most `max_gap` seconds old.
When there is none, the first record after the frame is taken if it is at most `max_gap` seconds
later (the first frames of a clip whose telemetry starts a moment late). Otherwise the frame has
no record (None). A record up to `slack` seconds after a frame counts as at it: frame and KLV
times are rounded separately on a 90 kHz clock. Records need not be sorted; indices refer to the
list as given. O((n + m) log n) with numpy's searchsorted.
"""
from __future__ import annotations

import numpy as np


def match_to_frames(record_times, frame_times, max_gap: float, slack: float = 5e-4) -> list[int | None]:
    """For each frame time, the index of its record in `record_times`, or None."""
    records = np.asarray(record_times, dtype=float)
    frames = np.asarray(frame_times, dtype=float)
    if records.size == 0 or frames.size == 0:
        return [None] * frames.size
    order = np.argsort(records, kind="stable")
    ordered = records[order]

    before = np.searchsorted(ordered, frames + slack, side="right") - 1  # latest at or before
    has_before = before >= 0
    before_ok = has_before & (frames - ordered[np.clip(before, 0, None)] <= max_gap)

    after = before + 1  # first strictly after
    has_after = after < ordered.size
    after_ok = has_after & (ordered[np.clip(after, None, ordered.size - 1)] - frames <= max_gap)

    chosen = np.where(before_ok, before, np.where(after_ok, after, -1))
    return [None if i < 0 else int(order[i]) for i in chosen]
