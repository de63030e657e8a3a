"""Telemetry onto frames at ingest: read the records (KLV from the video file, or a DJI SRT
sidecar), match them to the sequence's frames, store one `FrameTelemetry` per matched frame and
say on the sequence how many frames have telemetry and how many packets or cues were skipped.

Nothing here fails an ingest: a file with no telemetry, or with broken telemetry, keeps its
frames; a malformed packet is counted, never fatal."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import av
from django.conf import settings

from labeling.footage import conditions
from labeling.footage.telemetry import fields, match, mpegts, srt
from labeling.models import Frame, FrameCondition, FrameTelemetry, Sequence

log = logging.getLogger(__name__)


@dataclass
class Found:
    """Telemetry read from a source, before it is matched to frames."""

    source: str  # FrameTelemetry.KLV or .SRT; "" when the file carries none
    times: list[float] = field(default_factory=list)  # seconds, on the video's clock
    rows: list[dict] = field(default_factory=list)  # fields.from_klv / from_srt, one per time
    frame_numbers: list[int | None] = field(default_factory=list)  # SRT FrameCnt (1-based) where given
    malformed: int = 0
    reasons: list[str] = field(default_factory=list)
    from_start: bool = False  # times count from the video's first frame (SRT), not on its clock (KLV)


def from_video(path) -> Found:
    """The KLV records of a video file's KLV data streams (none: an empty result)."""
    try:
        report = mpegts.read_klv(path)
    except (av.FFmpegError, OSError, ValueError) as exc:  # the video itself is read separately
        log.warning("KLV of %s could not be read: %s", path, exc)
        return Found("", malformed=0, reasons=[f"the KLV stream could not be read: {exc}"])
    if not report.streams:
        return Found("")
    return Found(FrameTelemetry.KLV, report.times, [fields.from_klv(r.values) for r in report.records],
                 [None] * len(report.records), report.malformed + report.untimed, list(report.reasons))


def from_srt(data: bytes, name: str) -> Found:
    """The cues of a DJI SRT sidecar (labeling.footage.telemetry.srt)."""
    report = srt.parse(data)
    cues = report.cues
    return Found(FrameTelemetry.SRT, [cue.start_s for cue in cues], [fields.from_srt(cue) for cue in cues],
                 [cue.frame_count for cue in cues], report.skipped, [f"{name}: {r}" for r in report.reasons],
                 from_start=True)


def store(sequence: Sequence, found: Found, frame_times: dict[int, tuple[int, float | None]],
          fps: float | None = None) -> int:
    """Match `found` to the sequence's frames ({index: (source index, seconds)}) and store a row
    per matched frame (a retried ingest stores nothing twice). Returns the frames matched."""
    matched = _match(found, frame_times, fps)
    ids = dict(Frame.objects.filter(sequence=sequence, index__in=list(matched)).values_list("index", "pk"))
    FrameTelemetry.objects.bulk_create(
        [FrameTelemetry(frame_id=ids[index], source=found.source, **found.rows[record])
         for index, record in matched.items() if index in ids],
        ignore_conflicts=True, batch_size=2000)
    count = FrameTelemetry.objects.filter(frame__sequence=sequence).count()
    _bands(sequence)
    Sequence.objects.filter(pk=sequence.pk).update(telemetry_source=found.source if count else "",
                                                   telemetry_frames=count, telemetry_malformed=found.malformed)
    return count


def _bands(sequence: Sequence) -> None:
    """The altitude and view bands of the sequence's frames (labeling.footage.conditions.bands),
    from their telemetry's height above ground and sensor angle."""
    conditions_of = {c.frame_id: c for c in FrameCondition.objects.filter(frame__sequence=sequence)}
    changed = []
    for frame_id, height, angle in FrameTelemetry.objects.filter(frame__sequence=sequence).values_list(
            "frame_id", "height_m", "sensor_angle"):
        condition = conditions_of.get(frame_id)
        if condition is None:
            continue
        band = conditions.bands(height, angle)
        condition.altitude_band, condition.view_band = band["altitude_band"] or "", band["view_band"] or ""
        changed.append(condition)
    FrameCondition.objects.bulk_update(changed, ["altitude_band", "view_band"], batch_size=2000)


def _match(found: Found, frame_times: dict[int, tuple[int, float | None]], fps: float | None) -> dict[int, int]:
    """{frame index: record index}, by labeling.footage.telemetry.match's rule. SRT cues that
    carry frame counts are placed by them, on the source frame axis (the gap limit in frames at
    the video's rate); everything else by time."""
    if not found.rows:
        return {}
    gap_s = settings.AERIE_TELEMETRY_MAX_GAP_S
    if found.frame_numbers and all(n is not None for n in found.frame_numbers):
        frames = sorted(frame_times.items())
        chosen = match.match_to_frames([n - 1 for n in found.frame_numbers], [source for _, (source, _) in frames],
                                       max(1.0, gap_s * (fps or 1.0)), slack=0.0)
        return {index: record for (index, _), record in zip(frames, chosen) if record is not None}
    timed = [(index, t) for index, (_, t) in sorted(frame_times.items()) if t is not None]
    if found.from_start and timed:
        start = min(t for _, t in timed)
        timed = [(index, t - start) for index, t in timed]
    chosen = match.match_to_frames(found.times, [t for _, t in timed], gap_s)
    return {index: record for (index, _), record in zip(timed, chosen) if record is not None}


def summary(sequence_frames: int, found: Found, matched: int) -> str:
    """What the ingest job says about telemetry ('' when the file carries none)."""
    if not found.source and not found.reasons:
        return ""
    name = {FrameTelemetry.KLV: "KLV", FrameTelemetry.SRT: "SRT"}.get(found.source, "telemetry")
    text = f"{name} telemetry on {matched} of {sequence_frames} frames"
    if found.malformed:
        text += f"; {found.malformed} malformed {'packets' if name == 'KLV' else 'cues'} skipped"
        if found.reasons:
            text += f" (first: {found.reasons[0]})"
    elif found.reasons:
        text += f" ({found.reasons[0]})"
    return text
