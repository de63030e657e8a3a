"""fixtures/drone.py: the drone test files made from the demo footage (no database).

The three files are made once for the module, as documented (full length), in a temporary folder."""
from __future__ import annotations

import zipfile

import av
import numpy as np
import pytest

from fixtures import drone
from labeling.footage import thermal
from labeling.footage.telemetry import match, mpegts, sample, srt


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = tmp_path_factory.mktemp("drone")
    return {name: drone.path(name, out) for name in drone.NAMES}


def test_the_three_files_are_made_with_their_markers(made):
    for name, path in made.items():
        assert path.name == drone.NAMES[name] and path.stat().st_size > 0
        assert drone.marker(path).read_text().split()[0] == drone.footage._sha256(path)


def test_a_complete_file_is_kept_and_a_damaged_one_made_again(made):
    path = made["dji"]
    before = path.stat().st_mtime_ns
    assert drone.path("dji", path.parent) == path and path.stat().st_mtime_ns == before
    good = path.read_bytes()
    path.write_bytes(good[:100])
    assert drone.path("dji", path.parent).read_bytes() == good  # same input, same zip


def test_flight_has_one_good_klv_record_per_frame(made):
    with av.open(str(made["flight"])) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "mpeg2video"
        frame_times = [float(f.time) for f in container.decode(stream)]
    assert 0 < len(frame_times) <= drone.FLIGHT_MAX_FRAMES
    report = mpegts.read_klv(made["flight"])
    assert (report.streams, report.malformed, report.untimed) == (1, 0, 0)
    assert len(report.records) == len(frame_times)
    rate = len(frame_times) / (frame_times[-1] - frame_times[0] + 1e-9)
    chosen = match.match_to_frames(report.times, frame_times, max_gap=0.5 / rate)
    assert chosen == list(range(len(frame_times)))  # each frame its own record, at its time
    period = (frame_times[-1] - frame_times[0]) / (len(frame_times) - 1)
    for index in (0, len(frame_times) - 1):
        want = sample.flight(index * period)
        got = report.records[index].values
        assert abs((got["time"] - want["time"]).total_seconds()) < 1e-3
        assert got["sensor_latitude"] == pytest.approx(want["sensor_latitude"], abs=1e-6)
        assert got["platform_heading"] == pytest.approx(want["platform_heading"], abs=0.01)


def test_thermal_frames_are_16_bit_single_channel_in_the_documented_range_and_change(made):
    with zipfile.ZipFile(made["thermal"]) as zf:
        names = zf.namelist()
        frames = [thermal.read_16bit(zf.read(name)) for name in names]
    assert names == [f"thermal_{i:06d}.png" for i in range(1, drone.THERMAL_FRAMES + 1)]
    stack = np.stack(frames)
    assert stack.dtype == np.uint16 and stack.ndim == 3  # read_16bit refuses anything else
    assert stack.min() >= drone.THERMAL_LOW and stack.max() <= drone.THERMAL_HIGH
    assert stack.max() - stack.min() > 1000  # a scene, not a flat field
    assert all((a != b).mean() > 0.5 for a, b in zip(frames, frames[1:]))  # noise alone sees to that


def test_thermal_counts_follow_the_documented_mapping():
    grey = np.full((40, 50), 255 // 2, dtype=np.uint8)
    first = drone.thermal_counts(grey, 0, 60, np.random.default_rng(0))
    last = drone.thermal_counts(grey, 59, 60, np.random.default_rng(0))
    base = drone.THERMAL_LOW + 127 * drone.THERMAL_SPAN / 255
    assert first.mean() == pytest.approx(base, abs=1)
    assert last.mean() - first.mean() == pytest.approx(drone.THERMAL_DRIFT, abs=1)
    assert first.std() == pytest.approx(drone.THERMAL_NOISE, rel=0.15)


def test_dji_srt_has_one_cue_per_video_frame_with_the_documented_positions(made):
    with zipfile.ZipFile(made["dji"]) as zf:
        assert sorted(zf.namelist()) == ["DJI_0001.MP4", "DJI_0001.SRT"]
        assert srt.pair_sidecars(zf.namelist()) == {"DJI_0001.MP4": "DJI_0001.SRT"}
        text = zf.read("DJI_0001.SRT")
        assert zf.read("DJI_0001.MP4") == drone.source_clip("bikes").read_bytes()
        with zf.open("DJI_0001.MP4") as fh, av.open(fh) as container:
            frames = sum(1 for _ in container.decode(video=0))
    report = srt.parse(text)
    assert report.skipped == 0 and len(report.cues) == frames
    assert [cue.frame_count for cue in report.cues] == list(range(1, frames + 1))
    period = report.cues[1].start_s - report.cues[0].start_s  # 0.04: 25 fps
    for cue in report.cues:
        want = drone.dji_cue_values((cue.frame_count - 1) * period)
        assert (cue.latitude, cue.longitude) == (want["latitude"], want["longitude"])
        assert (cue.rel_alt_m, cue.abs_alt_m) == (want["rel_alt"], want["abs_alt"])
        assert cue.abs_alt_m - cue.rel_alt_m == pytest.approx(drone.DJI_TAKEOFF_ASL)
        assert cue.datetime == want["datetime"]
        assert (cue.extra["gb_yaw"], cue.extra["gb_pitch"], cue.extra["gb_roll"]) == (
            want["gb_yaw"], want["gb_pitch"], want["gb_roll"])
    first, last = report.cues[0], report.cues[-1]
    assert (first.latitude, first.longitude) == drone.DJI_HOME
    assert last.latitude > first.latitude and last.longitude > first.longitude
    assert last.rel_alt_m > first.rel_alt_m


def test_a_looped_stamped_mux_repeats_no_frame_and_without_klv_has_the_same_video(tmp_path):
    clip = drone.source_clip("bikes")  # 250 frames: frame 250 is frame 0 again
    written = {}
    for kind, values in (("plain", None), ("klv", sample.flight)):
        out = tmp_path / f"{kind}.ts"
        result = mpegts.mux_with_klv(clip, out, values, max_frames=260, loop=True, stamp=True)
        assert result.frames == 260 and len(result.klv_times) == (260 if values else 0)
        with av.open(str(out)) as container:
            written[kind] = [bytes(p) for p in container.demux(video=0) if p.size]
            assert len(container.streams.data) == (1 if values else 0)
    assert written["plain"] == written["klv"]
    with av.open(str(tmp_path / "plain.ts")) as container:
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    assert len(frames) == 260
    assert len({f.tobytes() for f in frames}) == 260
    bits = frames[250][: mpegts.STAMP_BLOCK, : mpegts.STAMP_BITS * mpegts.STAMP_BLOCK]
    read = [int(bits[:, i * mpegts.STAMP_BLOCK:(i + 1) * mpegts.STAMP_BLOCK].mean() > 128)
            for i in range(mpegts.STAMP_BITS)]
    assert int("".join(map(str, read)), 2) == 250
