"""Flight telemetry from upload to frame: a real demo clip muxed into MPEG-TS with KLV made from
the ST 0601 example values (labeling.footage.telemetry.sample.flight), ingested like any upload."""
from __future__ import annotations

import math

import pytest

from labeling.footage import ingest
from labeling.footage.telemetry import fields, mpegts, sample
from labeling.models import Frame, FrameTelemetry, IngestJob
from tests import media
from tests.conftest import api_client

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


def dji_srt(frames: int, *, every: int = 1, broken: tuple = ()) -> bytes:
    """A DJI SRT in the newer bracket layout (Mini/Air/Mavic 3), one cue per `every` source frames
    at 25 fps, the drone climbing 0.5 m per frame; the cues in `broken` have a garbled timing line."""
    out = []
    for n, frame in enumerate(range(0, frames, every), start=1):
        start, end = frame * 40, frame * 40 + 40
        timing = "garbage" if n in broken else \
            f"00:00:{start // 1000:02d},{start % 1000:03d} --> 00:00:{end // 1000:02d},{end % 1000:03d}"
        out.append(f"{n}\n{timing}\n<font size=\"28\">FrameCnt: {frame + 1}, DiffTime: 40ms\n"
                   f"2024-05-06 07:08:{frame // 25:02d}.{(frame % 25) * 40:03d}\n"
                   f"[iso: 100] [shutter: 1/1000.0] [fnum: 1.7] [ev: 0] [latitude: {48.5 + frame * 1e-5:.6f}] "
                   f"[longitude: {35.1 + frame * 2e-5:.6f}] [rel_alt: {30 + frame * 0.5:.3f} abs_alt: "
                   f"{150 + frame * 0.5:.3f}] [gb_yaw: 12.5 gb_pitch: -60.0 gb_roll: 0.0] </font>\n")
    return "\n".join(out).encode()


def test_a_drone_card_zip_with_video_and_srt_gives_each_frame_its_cue(project, users):
    archive = media.zip_bytes({"DCIM/DJI_0001.MP4": media.bikes_path().read_bytes(),
                               "DCIM/DJI_0001.SRT": dji_srt(250, broken=(3,))})
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(archive, "card.zip"), stride=10,
                                           user=users["admin"]).pk)
    assert job.status == IngestJob.DONE, job.message
    sequence = job.sequence
    sequence.refresh_from_db()
    assert sequence.kind == "video" and sequence.frame_count == 25 and sequence.telemetry_source == "srt"
    # cue 3 (source frame 2) is unreadable: counted; stride 10 never needs it
    assert (sequence.telemetry_frames, sequence.telemetry_malformed) == (25, 1)
    assert "SRT telemetry on 25 of 25 frames; 1 malformed cues skipped" in job.message
    for frame in Frame.objects.filter(sequence=sequence).select_related("telemetry", "condition"):
        row = frame.telemetry
        assert row.values["frame_count"] == frame.source_index + 1  # matched by FrameCnt
        assert row.height_m == pytest.approx(30 + frame.source_index * 0.5)
        assert row.altitude_m == pytest.approx(150 + frame.source_index * 0.5)
        assert row.latitude == pytest.approx(48.5 + frame.source_index * 1e-5)
        assert row.sensor_angle == 60.0 and row.heading == 12.5
        assert row.captured_at.isoformat().startswith("2024-05-06T07:08:") and "local time" in row.values["time_zone"]
        # the conditions' bands follow: 30..150 m above take-off, the camera 60° below the horizon
        height = 30 + frame.source_index * 0.5
        band = "<50m" if height < 50 else "50-150m" if height < 150 else "150-500m"
        assert (frame.condition.altitude_band, frame.condition.view_band) == (band, "oblique")
        assert frame.condition.night is False and frame.condition.thermal is False


def test_an_srt_uploaded_beside_the_video_through_the_api(project, users):
    client = api_client(users["admin"])
    from django.core.files.uploadedfile import SimpleUploadedFile

    answer = client.post(f"/api/datasets/{project.dataset.pk}/ingest/", {
        "file": SimpleUploadedFile("DJI_0002.MP4", media.bikes_path().read_bytes()), "stride": 10,
        "telemetry": SimpleUploadedFile("DJI_0002.SRT", dji_srt(250, every=25))}, format="multipart")
    assert answer.status_code == 202, answer.content
    job = ingest.run_job(answer.json()["id"])
    assert job.status == IngestJob.DONE, job.message
    # one cue a second (every 25th frame): each kept frame (every 10th) holds the last cue at or
    # before it
    rows = FrameTelemetry.objects.filter(frame__sequence=job.sequence).order_by("frame__index")
    assert [r.values["frame_count"] for r in rows] == [1 + 25 * (10 * i // 25) for i in range(25)]
    refused = client.post(f"/api/datasets/{project.dataset.pk}/ingest/", {
        "file": SimpleUploadedFile("b.mp4", media.bikes_path().read_bytes()),
        "telemetry": SimpleUploadedFile("notes.txt", b"hello")}, format="multipart")
    assert refused.status_code == 400 and "telemetry" in refused.json()["detail"], refused.content
    assert IngestJob.objects.count() == 1


def test_exports_carry_telemetry_and_conditions_at_the_export_s_metadata_level(project, users, klv_clip):
    import json
    from datetime import timedelta

    from django.utils import timezone

    from labeling.access import raw
    from labeling.exchange import exports
    from tests.labels import export_bytes, members, store_labels

    path, muxed = klv_clip
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(path), user=users["admin"]).pk)
    first = Frame.objects.get(sequence=job.sequence, index=0)
    store_labels(project, first, {"boxes": [{"class": "car", "x": 10, "y": 10, "w": 40, "h": 30, "track_id": 1}]})
    trainer = users["trainer"]
    coco = json.loads(members(export_bytes(exports.run(exports.create(project, trainer, format="coco").pk)))[
        "annotations/instances_default.json"])
    image = coco["images"][0]
    # derived data at the dataset's coarse level: the date, positions to 0.01°
    assert image["telemetry"]["captured_at"] == "2009-01-12" and image["telemetry"]["source"] == "klv"
    assert image["telemetry"]["latitude"] == round(sample.EXAMPLE["sensor_latitude"], 2)
    assert image["conditions"]["night"] is False and image["conditions"]["thermal"] is False
    assert image["conditions"]["sharpness"] > 0
    mot = members(export_bytes(exports.run(exports.create(project, trainer, format="mot").pk)))
    lines = mot[f"sequence-{job.sequence_id}/telemetry.txt"].decode().splitlines()
    assert lines[0].startswith("frame,source,captured_at,latitude,longitude,altitude,height_m,heading,sensor_angle")
    assert len(lines) == 1 + FRAMES and lines[1].startswith("1,klv,2009-01-12,60.18,128.43,")
    # raw frames for a raw-access holder: full precision, and the names
    raw.grant(project.dataset, trainer, users["admin"], "geolocates", timezone.now() + timedelta(days=1))
    full = members(export_bytes(exports.run(exports.create(project, trainer, format="mot", include_images=True,
                                                           image_kind="raw").pk)))
    row = full[f"{job.sequence.name}/telemetry.txt"].decode().splitlines()[1].split(",")
    assert row[2].startswith("2009-01-12T22:08:22") and float(row[3]) == pytest.approx(
        sample.EXAMPLE["sensor_latitude"], abs=1e-6)


def test_frames_are_filtered_by_flight_and_conditions_in_the_api(project, users):
    archive = media.zip_bytes({"DJI_0003.MP4": media.bikes_path().read_bytes(), "DJI_0003.SRT": dji_srt(250)})
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(archive, "card.zip"), stride=10,
                                           user=users["admin"]).pk)
    client = api_client(users["annotator"])

    def ids(query):
        answer = client.get(f"/api/frames/?dataset={project.dataset.pk}&page_size=1000&{query}")
        assert answer.status_code == 200, answer.content
        return [f["source_index"] for f in answer.json()["results"]]

    assert len(ids("")) == 25
    # heights 30 + 0.5 per source frame: 50..80 m is source frames 40..100
    assert ids("height_min=50&height_max=80") == [40, 50, 60, 70, 80, 90, 100]
    assert ids("altitude_min=200") == [s for s in range(0, 250, 10) if 150 + s * 0.5 >= 200]
    assert ids("time_after=2024-05-06T07:08:08Z") == [s for s in range(0, 250, 10) if s >= 200]
    # latitude 48.5 + 1e-5 per frame, longitude 35.1 + 2e-5: a box around source frames 0..60
    assert ids("area=35.0999,48.4999,35.1013,48.50061") == [0, 10, 20, 30, 40, 50, 60]
    assert ids("altitude_band=<50m") == [s for s in range(0, 250, 10) if 30 + s * 0.5 < 50]
    assert ids("view_band=oblique&night=false") == ids("has_telemetry=true") == ids("")
    # looked at by eye: bikes.mp4's shallow-focus taxi shot (source frames ~35..75) and a bus
    # passing in a smear at frame 100 are blurred; the cyclist in focus at frame 110 is not
    blurred = ids("blurred=true")
    assert {40, 50, 60, 70, 100} <= set(blurred) and 110 not in blurred, blurred
    assert sorted(blurred + ids("blurred=false")) == ids("")
    assert ids("thermal=true") == []
    bad = client.get(f"/api/frames/?area=1,2,3")
    assert bad.status_code == 400 and "min_lon" in bad.content.decode()
    assert client.get("/api/frames/?area=10,50,5,60").status_code == 400  # min above max
    frame = client.get(f"/api/frames/?dataset={project.dataset.pk}&page_size=1").json()["results"][0]
    # the annotator holds no raw access: the dataset's coarse level (the date, 0.01°)
    assert frame["telemetry"]["captured_at"] == "2024-05-06" and frame["telemetry"]["latitude"] == 48.5
    assert frame["telemetry"]["level"] == "coarse" and "values" not in frame["telemetry"]
    assert frame["conditions"]["altitude_band"] == "<50m" and frame["conditions"]["night"] is False


def test_the_dataset_page_finds_frames_by_flight_and_conditions(project, users):
    archive = media.zip_bytes({"DJI_0004.MP4": media.bikes_path().read_bytes(), "DJI_0004.SRT": dji_srt(250)})
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(archive, "card.zip"), stride=10,
                                           user=users["admin"]).pk)
    client = api_client(users["qa"])
    page = client.get(f"/datasets/{project.dataset.pk}/").content.decode()
    assert "Find frames" in page and "SRT telemetry on 25 frames" in page and 'name="height_min"' in page
    found = client.get(f"/datasets/{project.dataset.pk}/?height_min=50&height_max=80").content.decode()
    assert "7 frames match" in found
    assert found.count('class="found"') == 1 and found.count("/thumbnail") >= 7
    assert f'href="/sequences/{job.sequence_id}/?page=1"' in found
    refused = client.get(f"/datasets/{project.dataset.pk}/?area=oops").content.decode()
    assert "Search refused: area: four numbers" in refused
