"""DJI .SRT sidecars (labeling.footage.telemetry.srt): both cue families, the axis order of the
positional GPS(...) form, and lenient reading of damaged files. Pure: no database.

Cue texts are excerpts of real files (provenance beside each); the brief's Mini-style cue is the
one made-up sample, and it follows the Mini 3 layout field for field."""
from __future__ import annotations

from datetime import datetime

import pytest

from labeling.footage.telemetry import srt

MINI = """1
00:00:00,000 --> 00:00:00,033
<font size="28">FrameCnt: 1, DiffTime: 33ms
2023-04-01 12:34:56.789
[iso: 100] [shutter: 1/1000.0] [fnum: 1.7] [ev: 0] [color_md: default] [focal_len: 24.00] [latitude: 50.123456] [longitude: 30.654321] [rel_alt: 45.300 abs_alt: 210.200] [ct: 5500] </font>

2
00:00:00,033 --> 00:00:00,066
<font size="28">FrameCnt: 2, DiffTime: 33ms
2023-04-01 12:34:56.822
[iso: 100] [shutter: 1/1000.0] [fnum: 1.7] [ev: 0] [color_md: default] [focal_len: 24.00] [latitude: 50.123470] [longitude: 30.654350] [rel_alt: 45.400 abs_alt: 210.300] [ct: 5500] </font>
"""
# JuanIrache/DJI_SRT_Parser samples/air2s.srt (cue 1)
AIR_2S = """1
00:00:00,000 --> 00:00:00,033
<font size="36">SrtCnt : 1, DiffTime : 33ms
2022-08-07 13:40:40,774,808
[iso : 100] [shutter : 1/80.0] [fnum : 280] [ev : 0] [ct : 5744] [color_md : default] [focal_len : 240] [latitude: 41.424724] [longitude: 2.234156] [altitude: 117.000000] </font>
"""
# PhilipQuirke/SkyCombDroneLibrary Drone_DJI.cs, the Mavic 3T sample in its comments (cue 19)
M3T = """19
00:00:00,598 --> 00:00:00,634
<font size="28">FrameCnt: 19, DiffTime: 36ms
2023-05-31 19:04:26.691
[focal_len: 40.00][dzoom_ratio: 1.00], [latitude: -37.920295] [longitude: 176.456417] [rel_alt: 62.370 abs_alt: 227.373] [gb_yaw: -142.5 gb_pitch: -28.7 gb_roll: 0.0] </font>
"""
# the same file's Mavic 2 Enterprise Dual sample: `longtitude` (sic) and aircraft attitude
M2E = """1
00:00:00,000 --> 00:00:00,033
<font size="36">FrameCnt : 1, DiffTime : 33ms
2022-07-10 19:59:42,210,511
[iso : 12800] [shutter : 1/30.0] [fnum : 280] [ev : 1.7] [ct : 5199] [color_md : default] [focal_len : 240] [dzoom_ratio: 10000, delta:0],[latitude: -36.891878] [longtitude: 174.703095] [altitude: 51.773998] [Drone: Yaw:-62.1, Pitch:2.7, Roll:1.6] </font>
"""
# JuanIrache/DJI_SRT_Parser samples/sample2.SRT (Phantom 4, one cue a second; Uluru)
PHANTOM_4 = """1
00:00:01,000 --> 00:00:02,000
HOME(131.1660,-25.2088) 2017.07.29 15:18:50
GPS(131.1660,-25.2088,14) BAROMETER:0.0
ISO:100 Shutter:60 EV: Fnum:2.2 

2
00:00:02,000 --> 00:00:03,000
HOME(131.1660,-25.2088) 2017.07.29 15:18:51
GPS(131.1659,-25.2089,14) BAROMETER:1.2
ISO:100 Shutter:60 EV: Fnum:2.2 
"""
# mifi/lossless-cut test for issue #2072: Mavic Pro / Mini one-line form (Lofoten, lat 67.98)
MAVIC_PRO = """1
00:00:00,000 --> 00:00:01,000
F/2.8, SS 776.89, ISO 100, EV -1.0, GPS (15.0732, 67.9771, 19), D 67.78m, H 20.30m, H.S 1.03m/s, V.S 0.00m/s
"""
# JuanIrache/DJI_SRT_Parser samples/matrice_300.srt (cue 60: lat first, `M` units, second 60)
MATRICE_300 = """60
00:00:59,000 --> 00:00:60,000
2022.06.21 16:07:16
GPS(36.6153,-6.1130,0.0M) BAROMETER:83.8M
"""


def only(text) -> srt.SrtCue:
    report = srt.parse(text)
    assert report.skipped == 0, report.reasons
    return report.cues[0]


def test_bracket_cue_fields():
    report = srt.parse(MINI)
    assert (report.skipped, len(report.cues)) == (0, 2)
    cue, second = report.cues
    assert (cue.index, cue.start_s, cue.end_s, cue.frame_count) == (1, 0.0, 0.033, 1)
    assert cue.datetime == datetime(2023, 4, 1, 12, 34, 56, 789000) and cue.datetime.tzinfo is None
    assert (cue.latitude, cue.longitude) == (50.123456, 30.654321)
    assert (cue.rel_alt_m, cue.abs_alt_m) == (45.3, 210.2)
    assert cue.extra["iso"] == 100 and cue.extra["ct"] == 5500 and cue.extra["ev"] == 0
    assert cue.extra["fnum"] == 1.7 and cue.extra["focal_len"] == 24.0
    assert cue.extra["shutter"] == "1/1000.0" and cue.extra["shutter_s"] == pytest.approx(0.001)
    assert cue.extra["color_md"] == "default" and cue.extra["diff_time_ms"] == 33
    assert (second.index, second.frame_count, second.start_s) == (2, 2, 0.033)
    assert second.rel_alt_m == 45.4 and second.datetime.microsecond == 822000


def test_air_2s_spacing_hundredths_and_microseconds():
    cue = only(AIR_2S)
    assert cue.frame_count == 1  # SrtCnt
    assert cue.datetime == datetime(2022, 8, 7, 13, 40, 40, 774808)
    assert cue.extra["fnum"] == pytest.approx(2.8)  # written 280
    assert cue.extra["iso"] == 100 and cue.extra["shutter_s"] == pytest.approx(1 / 80)
    assert (cue.latitude, cue.longitude) == (41.424724, 2.234156)
    # `altitude` is neither known to be relative nor absolute: kept aside, not guessed
    assert (cue.rel_alt_m, cue.abs_alt_m) == (None, None) and cue.extra["altitude"] == 117.0


def test_gimbal_angles():
    cue = only(M3T)
    assert (cue.extra["gb_yaw"], cue.extra["gb_pitch"], cue.extra["gb_roll"]) == (-142.5, -28.7, 0.0)
    assert (cue.latitude, cue.longitude) == (-37.920295, 176.456417)
    assert (cue.rel_alt_m, cue.abs_alt_m, cue.frame_count) == (62.37, 227.373, 19)


def test_misspelt_longitude_and_aircraft_attitude():
    cue = only(M2E)
    assert (cue.latitude, cue.longitude) == (-36.891878, 174.703095)
    assert (cue.extra["yaw"], cue.extra["pitch"], cue.extra["roll"]) == (-62.1, 2.7, 1.6)
    assert cue.extra["ev"] == 1.7 and cue.extra["iso"] == 12800 and "drone" not in cue.extra


def test_legacy_gps_is_longitude_first():
    report = srt.parse(PHANTOM_4)
    cue = report.cues[0]
    assert (cue.latitude, cue.longitude) == (-25.2088, 131.166)  # Uluru, not the Southern Ocean
    assert (cue.extra["home_lat"], cue.extra["home_lon"]) == (-25.2088, 131.166)
    assert cue.extra["gps_satellites"] == 14  # the third value counts satellites, not metres
    assert cue.datetime == datetime(2017, 7, 29, 15, 18, 50)
    assert cue.extra["iso"] == 100 and cue.extra["fnum"] == 2.2
    assert cue.extra["shutter_s"] == pytest.approx(1 / 60)
    assert "ev" not in cue.extra  # written `EV: ` with no value
    assert report.cues[1].rel_alt_m == 1.2 and report.cues[1].longitude == 131.1659
    assert cue.frame_count is None and cue.abs_alt_m is None


def test_one_line_legacy_form():
    cue = only(MAVIC_PRO)
    assert (cue.latitude, cue.longitude) == (67.9771, 15.0732)
    assert cue.rel_alt_m == 20.3  # H, not H.S
    assert cue.extra["distance_m"] == 67.78
    assert (cue.extra["h_speed_mps"], cue.extra["v_speed_mps"]) == (1.03, 0.0)
    assert cue.extra["ev"] == -1.0 and cue.extra["fnum"] == 2.8
    assert cue.extra["shutter_s"] == pytest.approx(1 / 776.89)


def test_matrice_300_is_latitude_first():
    cue = only(MATRICE_300)
    assert (cue.latitude, cue.longitude) == (36.6153, -6.113)  # Cádiz
    assert cue.rel_alt_m == 83.8 and cue.extra["gps_alt_m"] == 0.0
    assert (cue.index, cue.start_s, cue.end_s) == (60, 59.0, 60.0)


def test_out_of_range_latitude_decides_the_order():
    """A lon-first tuple whose first value is a latitude (|second| > 90) is read the other way."""
    cue = only("1\n00:00:00,000 --> 00:00:01,000\nGPS(45.1234,120.5678,12) BAROMETER:3.0\n")
    assert (cue.latitude, cue.longitude) == (45.1234, 120.5678)
    cue = only("1\n00:00:00,000 --> 00:00:01,000\nGPS(120.5678,45.1234,12) BAROMETER:3.0\n")
    assert (cue.latitude, cue.longitude) == (45.1234, 120.5678)


def test_no_fix_reads_as_no_position():
    cue = only(MAVIC_PRO.replace("GPS (15.0732, 67.9771, 19)", "GPS (0.0, 0.0, 0)"))
    assert (cue.latitude, cue.longitude) == (None, None)
    assert cue.rel_alt_m == 20.3


def test_bom_crlf_and_undecodable_bytes():
    clean = srt.parse(MINI)
    damaged = ("\ufeff" + MINI).replace("\n", "\r\n").encode("utf-8")
    damaged = damaged.replace(b"[color_md: default]", b"[color_md: d\xb0fault]")  # a Latin-1 byte
    report = srt.parse(damaged)
    assert report.skipped == 0 and len(report.cues) == 2
    for a, b in zip(report.cues, clean.cues):
        assert (a.index, a.latitude, a.longitude, a.rel_alt_m, a.datetime) == \
               (b.index, b.latitude, b.longitude, b.rel_alt_m, b.datetime)
    assert report.cues[0].extra["color_md"] == "d\ufffdfault"


def test_malformed_cues_are_skipped_and_counted():
    good = MINI.split("\n\n")[0]
    text = "\n\n".join([
        good,
        "2\nno timing here\n[latitude: 1.0] [longitude: 2.0]",
        "x3\n00:00:00,066 --> 00:00:00,100\n[latitude: 1.0] [longitude: 2.0]",
        "4\n00:00:00,100 --> 00:00:00,133\n<font size=\"28\"></font>",
        "5\n00:00:00,133 --> 00:00:00,166\n[latitude: 123.0] [longitude: 2.0]",
        good.replace("1\n00:00:00,000", "6\n00:00:00,166", 1),
        "",
    ])
    report = srt.parse(text)
    assert [c.index for c in report.cues] == [1, 6]
    assert report.skipped == 4
    assert [r.split(":")[0] for r in report.reasons] == ["cue 2", "cue 3", "cue 4", "cue 5"]
    assert "timing" in report.reasons[0] and "cue number" in report.reasons[1]
    assert "no telemetry" in report.reasons[2] and "out of range" in report.reasons[3]


def test_reasons_are_capped_but_the_count_is_not():
    bad = "\n\n".join(f"{i}\nbroken" for i in range(1, 21))
    report = srt.parse(bad + "\n\n" + MINI)
    assert report.skipped == 20 and len(report.cues) == 2
    assert len(report.reasons) == srt.MAX_REASONS


def test_empty_and_garbage_input_are_not_fatal():
    assert srt.parse(b"").cues == [] and srt.parse(b"").skipped == 0
    report = srt.parse(b"\x00\xff\xfe garbage \x89PNG")
    assert report.cues == [] and report.skipped == 1


def test_sidecar_pairing_by_name():
    names = [
        "flight/DJI_0012.MP4", "flight/DJI_0012.SRT",
        "flight/dji_0013.mp4", "flight/DJI_0013.srt",            # case differs
        "flight/DJI_0014.MP4", "other/DJI_0014.SRT",             # another folder: not its sidecar
        "flight/DJI_0015.MOV",                                     # no sidecar
        "__MACOSX/flight/._DJI_0015.SRT", "flight/._DJI_0015.SRT",  # resource forks
        "flight/DJI_0016.MP4", "flight/dji_0016.srt", "flight/DJI_0016.SRT",  # exact case wins
        "flight/notes.srt",
    ]
    assert srt.pair_sidecars(names) == {
        "flight/DJI_0012.MP4": "flight/DJI_0012.SRT",
        "flight/dji_0013.mp4": "flight/DJI_0013.srt",
        "flight/DJI_0016.MP4": "flight/DJI_0016.SRT",
    }
    assert srt.sidecar_for("DJI_0001.MP4", ["DJI_0001.srt", "DJI_0001.MP4"]) == "DJI_0001.srt"
    assert srt.sidecar_for("DJI_0001.MP4", ["DJI_0002.SRT"]) is None
