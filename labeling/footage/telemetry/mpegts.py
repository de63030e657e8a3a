"""KLV telemetry in MPEG-TS (STANAG 4609): read it with its times, and make test files with it.

In an MPEG-TS the KLV metadata is a private data stream (stream type 0x06 or 0x15) registered
as "KLVA"; FFmpeg, and so PyAV, name its codec `klv`. Each demuxed packet (one PES payload) holds
one or several KLV packets, at the packet's presentation time. Times are `pts * time_base` in
seconds on the container's clock, the same clock as the video frames' `frame.time`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Iterable

import av

from labeling.footage.telemetry import klv

KEEP_REASONS = 5
KLV_TIME_BASE = Fraction(1, 90000)  # the MPEG-TS system clock


@dataclass
class KlvRecord:
    time: float  # seconds on the container's clock
    values: dict  # what klv.decode gives


@dataclass
class KlvReport:
    records: list[KlvRecord] = field(default_factory=list)
    packets: int = 0  # KLV packets found (good and malformed)
    malformed: int = 0
    reasons: list[str] = field(default_factory=list)  # the first few, "12.400s: bad checksum ..."
    untimed: int = 0  # good packets without a timestamp (not placed on the video's clock)
    streams: int = 0  # KLV data streams in the file

    @property
    def times(self) -> list[float]:
        return [record.time for record in self.records]

    def count_malformed(self, time: float | None, reason: str) -> None:
        self.malformed += 1
        if len(self.reasons) < KEEP_REASONS:
            where = "no time" if time is None else f"{time:.3f}s"
            self.reasons.append(f"{where}: {reason}")


def klv_streams(container) -> list:
    """The container's KLV data streams: codec `klv` (the demuxer's name for a KLVA stream)."""
    return [s for s in container.streams if s.type == "data" and (s.name or "").lower() in {"klv", "smpte_klv"}]


def packet_time(packet) -> float | None:
    ts = packet.pts if packet.pts is not None else packet.dts
    if ts is None or packet.time_base is None:
        return None
    return float(ts * packet.time_base)


def read_klv(path) -> KlvReport:
    """Every KLV packet of the file's KLV data streams, decoded, with its time. A malformed packet
    is counted (with the first few reasons) and skipped; a file with no KLV stream gives an empty
    report."""
    report = KlvReport()
    with av.open(path if hasattr(path, "read") else str(path)) as container:  # a path, or a decrypting file object
        streams = klv_streams(container)
        report.streams = len(streams)
        if not streams:
            return report
        for packet in container.demux(*streams):  # the last, empty one splits into nothing
            add_payload(report, bytes(packet), packet_time(packet))
    report.records.sort(key=lambda record: record.time)
    return report


def add_payload(report: KlvReport, payload: bytes, time: float | None) -> None:
    """Decode the KLV packets of one demuxed payload into `report`."""
    for piece in klv.split(payload):
        report.packets += 1
        try:
            values = klv.decode(piece)
        except klv.KLVError as exc:
            report.count_malformed(time, str(exc))
            continue
        if time is None:
            report.untimed += 1
            continue
        report.records.append(KlvRecord(time, values))


@dataclass
class MuxResult:
    frames: int
    frame_times: list[float]  # presentation time of each video frame written, in seconds
    klv_times: list[float]  # time of each KLV packet written
    broken: list[int]  # frame indices whose KLV packet was written with a bad checksum


def mux_with_klv(video_path, out_path, make_values: Callable[[float], dict] | None, *,
                 max_frames: int | None = 50, klv_every: int = 1, broken: Iterable[int] = (),
                 codec: str = "mpeg2video", loop: bool = False, stamp: bool = False) -> MuxResult:
    """Write `out_path`, an MPEG-TS of the first `max_frames` frames of `video_path` (None: all of
    them) re-encoded (MPEG-2 by default, as STANAG 4609 allows) at the source frame rate, with a
    KLV data stream carrying `klv.encode(make_values(t))` at the time t of every `klv_every`-th
    frame. The KLV packets of the frames in `broken` get a wrong checksum. `make_values=None`
    writes no KLV stream: the same video, encoded alike, for a baseline. `loop=True` plays the
    clip again from its start until `max_frames` frames are written (a test file longer than
    the clip). `stamp=True` burns each frame's number into it (stamp_frame), so that no two
    frames are alike: a looped clip would repeat its frames, which a content-addressed store
    keeps once. Uses PyAV's data streams (the FFmpeg mpegts muxer registers them as KLVA); no
    external binary."""
    if loop and max_frames is None:
        raise ValueError("loop needs max_frames")
    broken = set(broken)
    result = MuxResult(0, [], [], [])
    with av.open(str(out_path), "w", format="mpegts") as out:
        video = data = None
        for index, (rate, frame) in enumerate(_source_frames(video_path, max_frames, loop)):
            frame_base = Fraction(1, 1) / Fraction(rate)
            if video is None:
                video = out.add_stream(codec, rate=rate)
                video.width, video.height, video.pix_fmt = frame.width, frame.height, "yuv420p"
                data = out.add_data_stream("klv") if make_values is not None else None
            frame = frame.reformat(format="yuv420p")
            if stamp:
                frame = stamp_frame(frame, index)
            frame.pts, frame.time_base = index, frame_base
            for packet in video.encode(frame):
                out.mux(packet)
            seconds = float(index * frame_base)
            result.frames += 1
            if data is not None and index % klv_every == 0:
                out.mux(klv_packet(data, make_values(seconds), seconds, corrupt=index in broken))
                result.klv_times.append(seconds)
                if index in broken:
                    result.broken.append(index)
        if video is not None:
            for packet in video.encode(None):
                out.mux(packet)
    with av.open(str(out_path)) as written:  # the muxer shifts the clock; report what was written
        result.frame_times = [float(f.time) for f in written.decode(video=0)]
        shift = result.frame_times[0] if result.frame_times else 0.0
        result.klv_times = [t + shift for t in result.klv_times]
    return result


STAMP_BITS, STAMP_BLOCK = 16, 8


def stamp_frame(frame, number: int):
    """A yuv420p copy of `frame` with `number` written in its top-left corner as STAMP_BITS
    black or white STAMP_BLOCK-pixel squares, most significant bit first (a burnt-in frame
    counter, like a drone's on-screen display)."""
    planes = frame.to_ndarray(format="yuv420p")  # Y rows, then the U and V planes
    for bit in range(STAMP_BITS):
        on = number >> (STAMP_BITS - 1 - bit) & 1
        planes[:STAMP_BLOCK, bit * STAMP_BLOCK:(bit + 1) * STAMP_BLOCK] = 235 if on else 16
    return av.VideoFrame.from_ndarray(planes, format="yuv420p")


def _source_frames(video_path, max_frames: int | None, loop: bool):
    """(source frame rate, frame) for the first `max_frames` frames, from the start again when
    `loop` and the clip ends first."""
    written = 0
    while max_frames is None or written < max_frames:
        before = written
        with av.open(str(video_path)) as source:
            video_in = source.streams.video[0]
            rate = video_in.average_rate or video_in.guessed_rate or Fraction(25)
            for frame in source.decode(video_in):
                if max_frames is not None and written >= max_frames:
                    return
                yield rate, frame
                written += 1
        if not loop or written == before:
            return


def klv_packet(stream, values: dict, seconds: float, corrupt: bool = False):
    payload = bytearray(klv.encode(values))
    if corrupt:
        payload[-1] ^= 0xFF  # the checksum's low byte
    packet = av.Packet(bytes(payload))
    packet.stream = stream
    packet.time_base = KLV_TIME_BASE
    packet.pts = packet.dts = round(seconds / KLV_TIME_BASE)
    return packet
