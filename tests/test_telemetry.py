"""Flight telemetry from upload to frame: a real demo clip muxed into MPEG-TS with KLV made from
the ST 0601 example values (labeling.footage.telemetry.sample.flight), ingested like any upload."""
from __future__ import annotations

import math

import pytest

from labeling.footage import ingest
from labeling.footage.telemetry import fields, mpegts, sample
from labeling.models import Frame, FrameTelemetry, IngestJob
from tests import media

FRAMES = 36


@pytest.fixture(scope="module")
def klv_clip(tmp_path_factory):
    """bikes.mp4's first frames in an MPEG-TS with one KLV packet per frame, two of them broken."""
    out = tmp_path_factory.mktemp("klv") / "flight.ts"
    muxed = mpegts.mux_with_klv(media.bikes_path(), out, sample.flight, max_frames=FRAMES, broken=[7, 20])
    return out, muxed


def test_klv_in_the_stream_becomes_telemetry_on_every_frame(project, users, klv_clip):
    path, muxed = klv_clip
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(path), user=users["admin"]).pk)
    assert job.status == IngestJob.DONE, job.message
    sequence = job.sequence
    sequence.refresh_from_db()
    assert sequence.frame_count == FRAMES
    # the two broken packets are skipped and counted; their frames hold the record before them
    assert (sequence.telemetry_source, sequence.telemetry_frames, sequence.telemetry_malformed) == ("klv", FRAMES, 2)
    assert f"KLV telemetry on {FRAMES} of {FRAMES} frames; 2 malformed packets skipped" in job.message
    assert "bad checksum" in job.message
    for frame in Frame.objects.filter(sequence=sequence).select_related("telemetry").order_by("index"):
        source_frame = frame.index - (1 if frame.index in (7, 20) else 0)
        expected = sample.flight(muxed.frame_times[source_frame] - muxed.frame_times[0])
        row = frame.telemetry
        assert row.source == FrameTelemetry.KLV
        assert abs((row.captured_at - expected["time"]).total_seconds()) < 1e-5
        assert math.isclose(row.heading, expected["platform_heading"], abs_tol=0.01)
        assert math.isclose(row.latitude, expected["sensor_latitude"], abs_tol=1e-6)
        assert math.isclose(row.altitude_m, expected["sensor_true_altitude"], abs_tol=0.2)
        assert math.isclose(row.height_m, expected["sensor_true_altitude"] - expected["frame_center_elevation"],
                            abs_tol=0.5)
        assert row.values["mission_id"] == "MISSION01" and row.values["time"].startswith("2009-01-12T22:08:2")


def test_a_video_without_klv_ingests_as_before(project, users):
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(media.bikes_path()), stride=25,
                                           user=users["admin"]).pk)
    assert job.status == IngestJob.DONE and job.message == f"{job.frames_done} frames ingested"
    job.sequence.refresh_from_db()
    assert (job.sequence.telemetry_source, job.sequence.telemetry_frames) == ("", 0)
    assert not FrameTelemetry.objects.exists()


def test_the_sensor_angle_is_the_depression_below_the_horizon():
    assert fields.depression(0, -90) == 90  # straight down
    assert fields.depression(-5, -40) == 45
    assert fields.depression(0, 0) == 0
    # turned down past the nadir: looking back, 10.78° below the horizon
    assert fields.depression(-0.43, -168.79) == pytest.approx(10.78, abs=0.01)
    assert fields.depression(0, 30) == -30  # above the horizon
    assert fields.depression(3, None) is None
    columns = fields.from_klv(sample.flight(2.0))
    assert columns["sensor_angle"] == pytest.approx(fields.depression(sample.EXAMPLE["platform_pitch"],
                                                                      sample.EXAMPLE["sensor_relative_elevation"]))
    assert columns["values"]["time"] == "2009-01-12T22:08:24+00:00"
