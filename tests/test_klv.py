"""MISB ST 0601 KLV telemetry: the decoder against the standard's example bytes, the framing's
failure modes, the frame matcher, and an MPEG-TS muxed and read back. No database.

Example bytes. ST0902_DYNAMIC_ONLY and ST0902_DYNAMIC_CONSTANT are the "Dynamic Only" and
"Dynamic and Constant" MISMMS packets of MISB ST 0902.5 Annex C, as stored in
github.com/paretech/klvdata (data/DynamicOnlyMISMMSPacketData.bin and
data/DynamicConstantMISMMSPacketData.bin). ITEM_EXAMPLES are the per-item examples of MISB ST 0601
("Conversions and Mappings of Metadata Types", ST 0601.8 - 0601.11), as quoted in klvdata's
test/test_misb_0601.py. Only the bytes and the published values are taken from there.
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from labeling.footage.telemetry import klv, match, mpegts, sample, st0601

ST0902_DYNAMIC_ONLY = bytes.fromhex(
    "060e2b34020b01010e01030101000000" "61"
    "0208 00046050584e0180" "0502 71c2" "0602 fd3d" "0702 08b8" "0d04 5595b66d" "0e04 5b5360c4"
    "0f02 c221" "1002 cd9c" "1102 d917" "1204 724a0a20" "1304 87f84b86" "1404 00000000"
    "1504 03830926" "1602 1281" "1704 f101a229" "1804 14bc082b" "1902 34f3" "4101 06" "0102 c850"
)
ST0902_DYNAMIC_CONSTANT = bytes.fromhex(
    "060e2b34020b01010e01030101000000" "81d2"
    "0208 00046050584e0180" "030a 4d697373696f6e203132" "0502 71c2" "0602 fd3d" "0702 08b8"
    "0a08 5072656461746f72" "0b07 454f204e6f7365" "0c0e 47656f6465746963205747533834"
    "0d04 5595b66d" "0e04 5b5360c4" "0f02 c221" "1002 cd9c" "1102 d917" "1204 724a0a20"
    "1304 87f84b86" "1404 7dc55ece" "1504 03830926" "1602 1281" "1704 f101a229" "1804 14bc082b"
    "1902 34f3" "301c 01010102010703052f2f5553410c01070d06005500530041160200 0a" "4101 06"
    "5e22 0170f592f02373364af8aa9162c00f2eb2da16b74341000841a0be365b5ab96a3645" "0102 aa43"
)
FC_LAT, FC_LON = -10.5423886331461, 29.157890122923

# (name, value as the standard prints it, the item's bytes as the standard gives them)
ITEM_EXAMPLES = [
    ("time", dt.datetime(2009, 1, 12, 22, 8, 22, tzinfo=dt.timezone.utc), "0208 00046050584e0180"),
    ("mission_id", "MISSION01", "0309 4d495353494f4e3031"),
    ("platform_tail_number", "AF-101", "0406 41462d313031"),
    ("platform_heading", 159.9744, "0502 71c2"),
    ("platform_pitch", -0.4315251, "0602 fd3d"),
    ("platform_roll", 3.405814, "0702 08b8"),
    ("platform_designation", "MQ1-B", "0a05 4d51312d42"),
    ("image_source_sensor", "EO", "0b02 454f"),
    ("image_coordinate_system", "WGS-84", "0c06 5747532d3834"),
    ("sensor_latitude", 60.1768229669783, "0d04 5595b66d"),
    ("sensor_longitude", 128.426759042045, "0e04 5b5360c4"),
    ("sensor_true_altitude", 14190.72, "0f02 c221"),
    ("sensor_hfov", 144.5713, "1002 cd9c"),
    ("sensor_vfov", 152.6436, "1102 d917"),
    ("sensor_relative_azimuth", 160.719211474396, "1204 724a0a20"),
    ("sensor_relative_elevation", -168.792324833941, "1304 87f84b86"),
    ("sensor_relative_roll", 176.865437690572, "1404 7dc55ece"),
    ("slant_range", 68590.9832, "1504 03830926"),
    ("target_width", 722.8199, "1602 1281"),
    ("frame_center_latitude", FC_LAT, "1704 f101a229"),
    ("frame_center_longitude", FC_LON, "1804 14bc082b"),
    ("frame_center_elevation", 3216.037, "1902 34f3"),
    # the standard prints the corners themselves; the items carry corner minus frame centre
    ("offset_corner_latitude_1", -10.579637999887 - FC_LAT, "1a02 c06e"),
    ("offset_corner_longitude_1", 29.1273677986333 - FC_LON, "1b02 cbe9"),
    ("offset_corner_latitude_2", -10.5661816260963 - FC_LAT, "1c02 d765"),
    ("offset_corner_longitude_2", 29.140824172424 - FC_LON, "1d02 e2e0"),
    ("offset_corner_latitude_3", -10.5527275411938 - FC_LAT, "1e02 ee5b"),
    ("offset_corner_longitude_3", 29.1542782573265 - FC_LON, "1f02 f9d6"),
    ("offset_corner_latitude_4", -10.5392711674031 - FC_LAT, "2002 0552"),
    ("offset_corner_longitude_4", 29.1677346311172 - FC_LON, "2102 10cd"),
]
NUMERIC = [item for item in st0601.ITEMS if item.kind in ("umap", "smap")]


def close(a, b, tolerance):
    return abs(a - b) <= tolerance


# --- the standard's example ---------------------------------------------------------------------

# (name, published value, published precision)
PUBLISHED = [
    ("platform_heading", 159.9744, 1e-4), ("platform_pitch", -0.4315, 1e-4), ("platform_roll", 3.4058, 1e-4),
    ("sensor_latitude", 60.17682296, 1e-8), ("sensor_longitude", 128.42675904, 1e-8),
    ("sensor_true_altitude", 14190.72, 1e-2), ("sensor_hfov", 144.5713, 1e-4), ("sensor_vfov", 152.6436, 1e-4),
    ("sensor_relative_azimuth", 160.7192, 1e-4), ("sensor_relative_elevation", -168.7923, 1e-4),
    ("slant_range", 68590.98, 1e-2), ("target_width", 722.8199, 1e-4),
    ("frame_center_latitude", -10.54238, 1e-5), ("frame_center_longitude", 29.15789, 1e-5),
    ("frame_center_elevation", 3216.037, 1e-3),
]


@pytest.mark.parametrize("name, published, precision", PUBLISHED)
def test_standard_example_packet_decodes_to_the_published_values(name, published, precision):
    values = klv.decode(ST0902_DYNAMIC_ONLY)
    assert abs(values[name] - published) <= precision


def test_standard_example_packet_time_version_and_nothing_unknown():
    values = klv.decode(ST0902_DYNAMIC_ONLY)
    assert values["time"] == dt.datetime(2009, 1, 12, 22, 8, 22, tzinfo=dt.timezone.utc)
    assert (values["time"] - st0601.EPOCH) // dt.timedelta(microseconds=1) == 1231798102000000
    assert values["ls_version"] == 6 and values["sensor_relative_roll"] == 0.0
    assert values["raw"] == {} and "corners" not in values  # this packet has no corner offsets


def test_checksum_of_the_standard_example_is_its_running_word_sum():
    assert klv.checksum(ST0902_DYNAMIC_ONLY[:-2]) == 0xC850 == int.from_bytes(ST0902_DYNAMIC_ONLY[-2:], "big")
    assert klv.checksum(b"\x01\x02\x03") == 0x0102 + 0x0300  # an odd last byte counts as a high byte


def test_encoding_the_published_values_gives_the_published_packet_byte_for_byte():
    assert klv.encode(sample.EXAMPLE) == ST0902_DYNAMIC_ONLY


@pytest.mark.parametrize("name, value, item_hex", ITEM_EXAMPLES, ids=[e[0] for e in ITEM_EXAMPLES])
def test_each_published_item_example_encodes_and_decodes(name, value, item_hex):
    item = st0601.BY_NAME[name]
    expected = bytes.fromhex(item_hex)
    assert klv.ber_oid(item.tag) + klv.ber_length(len(expected) - 2) + st0601.encode_value(item, value) == expected
    decoded = st0601.decode_value(item, expected[2:])
    if isinstance(value, float):
        assert close(decoded, value, item.resolution / 2 + 1e-12)
    else:
        assert decoded == value


def test_corners_are_the_frame_centre_plus_the_offsets():
    values = {name: value for name, value, _ in ITEM_EXAMPLES}
    values = klv.decode(klv.encode(values))
    published = [(-10.579637999887, 29.1273677986333), (-10.5661816260963, 29.140824172424),
                 (-10.5527275411938, 29.1542782573265), (-10.5392711674031, 29.1677346311172)]
    step = st0601.BY_NAME["offset_corner_latitude_1"].resolution
    for (lat, lon), (want_lat, want_lon) in zip(values["corners"], published):
        assert close(lat, want_lat, step) and close(lon, want_lon, step)


def test_long_form_packet_with_nested_and_unknown_items():
    """The "Dynamic and Constant" packet: long-form length 81 D2, a nested Security Local Set
    (tag 48) and a MIIS core identifier (tag 94), neither read here. As klvdata stores it (its test
    says the vector was hand corrected) it no longer sums to its stated checksum 0xAA43; the
    decoder says so, and the items themselves read as published."""
    with pytest.raises(klv.KLVError, match=r"bad checksum: packet says 0xAA43"):
        klv.decode(ST0902_DYNAMIC_CONSTANT)
    length, start = klv.read_ber_length(ST0902_DYNAMIC_CONSTANT, 16)
    assert (length, start) == (0xD2, 18) and start + length == len(ST0902_DYNAMIC_CONSTANT)
    parsed = klv.items(ST0902_DYNAMIC_CONSTANT[start:])
    assert [tag for tag, _ in parsed][-4:] == [48, 65, 94, 1]
    values = {"raw": {}}
    for tag, raw in parsed[:-1]:
        if tag in st0601.BY_TAG:
            values[st0601.BY_TAG[tag].name] = st0601.decode_value(st0601.BY_TAG[tag], raw)
        else:
            values["raw"][tag] = raw
    assert values["mission_id"] == "Mission 12" and values["platform_designation"] == "Predator"
    assert values["image_source_sensor"] == "EO Nose" and values["image_coordinate_system"] == "Geodetic WGS84"
    assert sorted(values["raw"]) == [48, 94] and len(values["raw"][94]) == 0x22
    # re-encoding the items gives the same bytes, up to the checksum, which now adds up
    again = klv.encode(values)
    assert again[:-2] == ST0902_DYNAMIC_CONSTANT[:-2]
    assert klv.decode(again)["raw"] == values["raw"]


# --- framing: lengths, tags, keys, checksums ----------------------------------------------------

@pytest.mark.parametrize("encoded, length", [
    (b"\x05", 5), (b"\x7f", 127), (b"\x81\x80", 128), (b"\x81\xd2", 210), (b"\x82\x01\x00", 256),
    (b"\x83\x01\x00\x00", 65536),
])
def test_ber_lengths_short_and_long_form(encoded, length):
    assert klv.read_ber_length(encoded + b"rest", 0) == (length, len(encoded))
    assert klv.ber_length(length) == encoded


@pytest.mark.parametrize("bad, says", [(b"\x80", "bad length"), (b"\x89" + bytes(9), "bad length"),
                                       (b"\x82\x01", "truncated"), (b"", "truncated")])
def test_ber_length_errors(bad, says):
    with pytest.raises(klv.KLVError, match=says):
        klv.read_ber_length(bad, 0)


@pytest.mark.parametrize("tag, encoded", [(1, b"\x01"), (127, b"\x7f"), (128, b"\x81\x00"), (200, b"\x81\x48"),
                                          (16384, b"\x81\x80\x00")])
def test_ber_oid_tags(tag, encoded):
    assert klv.ber_oid(tag) == encoded
    assert klv.read_ber_oid(encoded, 0) == (tag, len(encoded))


def test_a_long_value_gets_a_long_form_length_and_reads_back():
    packet = klv.encode({"mission_id": "M" * 300, "time": sample.EXAMPLE_TIME})
    assert packet[16] == 0x82
    assert klv.decode(packet)["mission_id"] == "M" * 300


def test_unknown_tags_are_kept_raw_and_survive_a_round_trip():
    packet = klv.encode({"time": sample.EXAMPLE_TIME, "raw": {8: b"\x93", 200: b"\xde\xad"}})
    assert b"\x81\x48\x02\xde\xad" in packet  # tag 200 takes two BER-OID bytes
    assert klv.decode(packet)["raw"] == {8: b"\x93", 200: b"\xde\xad"}


def test_time_stamp_first_and_checksum_last():
    parsed = klv.items(klv.encode({"platform_heading": 1.0, "time": sample.EXAMPLE_TIME, "raw": {1: b"xx"}})[17:])
    assert [tag for tag, _ in parsed] == [2, 5, 1]


@pytest.mark.parametrize("offset", [17, 40, len(ST0902_DYNAMIC_ONLY) - 3, len(ST0902_DYNAMIC_ONLY) - 1])
def test_a_changed_byte_fails_the_checksum(offset):
    packet = bytearray(ST0902_DYNAMIC_ONLY)
    packet[offset] ^= 0x10
    with pytest.raises(klv.KLVError, match="bad checksum"):
        klv.decode(bytes(packet))


def test_the_checksum_must_be_the_last_item():
    body = bytes.fromhex("0208 00046050584e0180 0502 71c2")
    with pytest.raises(klv.KLVError, match="last item is not the checksum"):
        klv.decode(klv.UAS_LOCAL_SET_KEY + klv.ber_length(len(body)) + body)


def test_other_keys_are_refused():
    other = bytes.fromhex("060e2b34020b01010e01030102000000") + ST0902_DYNAMIC_ONLY[16:]  # not 0601
    with pytest.raises(klv.KLVError, match="bad key"):
        klv.decode(other)


@pytest.mark.parametrize("keep", [5, 16, 17, 40, len(ST0902_DYNAMIC_ONLY) - 1])
def test_a_truncated_packet_says_truncated(keep):
    with pytest.raises(klv.KLVError, match="truncated"):
        klv.decode(ST0902_DYNAMIC_ONLY[:keep])


def test_an_item_running_past_its_set_is_a_bad_length():
    body = bytes.fromhex("0208 00046050584e0180 0509 71c2 0102")  # heading says 9 bytes
    head = klv.UAS_LOCAL_SET_KEY + klv.ber_length(len(body) + 2)
    packet = head + body + klv.checksum(head + body).to_bytes(2, "big")
    with pytest.raises(klv.KLVError, match="bad length: tag 5"):
        klv.decode(packet)


def test_a_known_tag_of_the_wrong_size_is_a_bad_value():
    packet = klv.encode({"time": sample.EXAMPLE_TIME, "raw": {5: b"\x71\xc2\x00"}})  # heading is 2 bytes
    with pytest.raises(klv.KLVError, match="bad value: tag 5 has 3 bytes"):
        klv.decode(packet)


# --- reserved values and ranges -----------------------------------------------------------------

@pytest.mark.parametrize("name, reserved", [
    ("sensor_latitude", "80000000"), ("sensor_longitude", "80000000"), ("frame_center_latitude", "80000000"),
    ("sensor_relative_elevation", "80000000"), ("platform_pitch", "8000"), ("platform_roll", "8000"),
    ("offset_corner_longitude_3", "8000"),
])
def test_reserved_error_values_read_as_none_and_none_writes_them(name, reserved):
    item = st0601.BY_NAME[name]
    assert st0601.decode_value(item, bytes.fromhex(reserved)) is None
    assert st0601.encode_value(item, None) == bytes.fromhex(reserved)
    # the next integer up is the most negative real value, not an error
    assert st0601.decode_value(item, (int(reserved, 16) + 1).to_bytes(item.size, "big")) == pytest.approx(item.low)


# the ranges ST 0601 gives each mapped item, written out again here to check the module's table
RANGES = [  # (name, unsigned or signed integer, its bytes, low, high)
    ("platform_heading", "u", 2, 0, 360), ("platform_pitch", "s", 2, -20, 20), ("platform_roll", "s", 2, -50, 50),
    ("sensor_latitude", "s", 4, -90, 90), ("sensor_longitude", "s", 4, -180, 180),
    ("sensor_true_altitude", "u", 2, -900, 19000), ("sensor_hfov", "u", 2, 0, 180), ("sensor_vfov", "u", 2, 0, 180),
    ("sensor_relative_azimuth", "u", 4, 0, 360), ("sensor_relative_elevation", "s", 4, -180, 180),
    ("sensor_relative_roll", "u", 4, 0, 360), ("slant_range", "u", 4, 0, 5e6), ("target_width", "u", 2, 0, 10000),
    ("frame_center_latitude", "s", 4, -90, 90), ("frame_center_longitude", "s", 4, -180, 180),
    ("frame_center_elevation", "u", 2, -900, 19000), ("offset_corner_latitude_1", "s", 2, -0.075, 0.075),
    ("offset_corner_longitude_4", "s", 2, -0.075, 0.075),
]


@pytest.mark.parametrize("name, sign, size, low, high", RANGES, ids=[r[0] for r in RANGES])
def test_the_extreme_integers_map_to_the_ends_of_the_published_range(name, sign, size, low, high):
    item = st0601.BY_NAME[name]
    top = bytes([0xFF] * size) if sign == "u" else bytes([0x7F] + [0xFF] * (size - 1))
    bottom = bytes(size) if sign == "u" else bytes([0x80] + [0] * (size - 2) + [0x01])
    assert st0601.decode_value(item, top) == pytest.approx(high, rel=1e-12)
    assert st0601.decode_value(item, bottom) == pytest.approx(low, rel=1e-12)


def test_a_corner_that_is_off_earth_gives_no_corners():
    values = {name: value for name, value, _ in ITEM_EXAMPLES}
    values["offset_corner_latitude_2"] = None
    decoded = klv.decode(klv.encode(values))
    assert decoded["offset_corner_latitude_2"] is None and "corners" not in decoded


@pytest.mark.parametrize("name, value", [("platform_pitch", 20.5), ("sensor_latitude", -90.01),
                                         ("platform_heading", 361.0), ("sensor_true_altitude", -901.0)])
def test_values_outside_a_tag_range_are_not_encoded(name, value):
    with pytest.raises(ValueError, match="outside"):
        klv.encode({name: value})


def test_a_naive_time_is_not_encoded():
    with pytest.raises(ValueError, match="aware"):
        klv.encode({"time": dt.datetime(2009, 1, 12, 22, 8, 22)})


# --- round trip ---------------------------------------------------------------------------------

@pytest.mark.parametrize("item", NUMERIC, ids=[i.name for i in NUMERIC])
def test_round_trip_within_half_the_resolution_across_the_range(item):
    rng = np.random.default_rng(item.tag)
    for value in [item.low, item.high, (item.low + item.high) / 2, *rng.uniform(item.low, item.high, 20)]:
        back = klv.decode(klv.encode({item.name: float(value)}))[item.name]
        assert close(back, value, item.resolution / 2 + 1e-9 * max(1.0, abs(value)))


def test_round_trip_of_a_flight_keeps_time_to_the_microsecond_and_texts_exactly():
    for seconds in (0.0, 0.1, 1.7, 95.25):
        values = sample.flight(seconds)
        back = klv.decode(klv.encode(values))
        assert back["time"] == values["time"] and back["mission_id"] == "MISSION01"
        assert back["platform_designation"] == "MQ1-B"
        for item in NUMERIC:
            assert close(back[item.name], values[item.name], item.resolution / 2 + 1e-9), item.name


# --- split --------------------------------------------------------------------------------------

def packets_at(*seconds):
    return [klv.encode(sample.flight(s)) for s in seconds]


def test_split_concatenated_packets():
    packets = packets_at(0, 1, 2)
    assert klv.split(b"".join(packets)) == packets
    assert klv.split(b"") == []


def test_split_keeps_junk_and_cut_packets_as_pieces_that_fail():
    a, b, c = packets_at(0, 1, 2)
    pieces = klv.split(b"\x00junk" * 4 + a + b[:30] + c + c[:-7])
    assert pieces == [b"\x00junk" * 4, a, b[:30], c, c[:-7]]
    outcomes = []
    for piece in pieces:
        try:
            outcomes.append(klv.decode(piece)["time"])
        except klv.KLVError as exc:
            outcomes.append(str(exc).split(":")[0])
    assert outcomes == ["bad key", sample.flight(0)["time"], "truncated", sample.flight(2)["time"], "truncated"]


def test_split_keeps_a_packet_whole_when_a_key_inside_its_value_is_not_a_new_packet():
    a, b = packets_at(0, 1)
    nested = klv.encode({"time": sample.EXAMPLE_TIME, "raw": {94: klv.UAS_LOCAL_SET_KEY + b"\x00" * 4}})
    assert klv.split(a + nested + b) == [a, nested, b]


def test_bytes_after_a_packet_are_a_bad_length():
    with pytest.raises(klv.KLVError, match="bad length: 1 bytes after"):
        klv.decode(ST0902_DYNAMIC_ONLY + b"\x00")


def test_a_payload_with_two_packets_and_a_broken_one_is_counted():
    report = mpegts.KlvReport()
    good, bad = packets_at(0, 1)
    bad = bad[:-1] + bytes([bad[-1] ^ 1])
    mpegts.add_payload(report, good + bad + good, 4.0)
    assert (report.packets, report.malformed, len(report.records)) == (3, 1, 2)
    assert report.reasons[0].startswith("4.000s: bad checksum")
    mpegts.add_payload(report, good, None)
    assert report.untimed == 1 and len(report.records) == 2


# --- matching records to frames -----------------------------------------------------------------

def test_match_takes_the_latest_record_at_or_before_each_frame():
    records = [0.0, 0.1, 0.2, 0.3]
    frames = [0.0, 0.05, 0.1, 0.19, 0.3, 0.34]
    assert match.match_to_frames(records, frames, max_gap=0.1) == [0, 0, 1, 1, 3, 3]


def test_match_returns_indices_of_the_list_as_given_even_unsorted():
    assert match.match_to_frames([0.3, 0.0, 0.2, 0.1], [0.0, 0.15, 0.31], max_gap=0.1) == [1, 3, 0]


def test_match_before_the_first_record_takes_it_within_max_gap_only():
    assert match.match_to_frames([1.0, 2.0], [0.95, 0.5], max_gap=0.1) == [0, None]


def test_match_leaves_frames_in_a_telemetry_gap_empty():
    # records stop at 1.0 and resume at 3.0: frames in between are too far from both
    assert match.match_to_frames([0.9, 1.0, 3.0], [1.05, 1.5, 2.0, 2.95, 3.5], max_gap=0.1) == [1, None, None, 2, None]


def test_match_slack_absorbs_clock_rounding():
    # a record 11 µs (one 90 kHz tick) after its frame is that frame's record, not the next frame's
    assert match.match_to_frames([0.0, 0.1 + 1.1e-5], [0.1], max_gap=0.2) == [1]
    assert match.match_to_frames([0.0, 0.1 + 1.1e-5], [0.1], max_gap=0.2, slack=0.0) == [0]


def test_match_a_record_exactly_at_a_frame_is_that_frame_s_record():
    assert match.match_to_frames([0.0, 0.1, 0.1, 0.2], [0.1, 0.2], max_gap=1.0, slack=0.0) == [2, 3]


def test_match_with_telemetry_at_a_third_of_the_frame_rate_holds_the_last_record():
    frames = np.arange(12) / 30
    records = frames[::3]
    assert match.match_to_frames(records, frames, max_gap=0.1) == [i // 3 for i in range(12)]


def test_match_with_nothing_to_match():
    assert match.match_to_frames([], [0.0, 1.0], max_gap=1.0) == [None, None]
    assert match.match_to_frames([0.0], [], max_gap=1.0) == []


def test_match_large_inputs_agree_with_a_plain_loop():
    rng = np.random.default_rng(7)
    records = rng.uniform(0, 100, 500)
    frames = rng.uniform(-1, 101, 2000)
    got = match.match_to_frames(records, frames, max_gap=0.3, slack=0.0)
    for frame, index in zip(frames, got):
        at_or_before = [(frame - r, i) for i, r in enumerate(records) if r <= frame and frame - r <= 0.3]
        after = [(r - frame, i) for i, r in enumerate(records) if r > frame and r - frame <= 0.3]
        want = min(at_or_before)[1] if at_or_before else (min(after)[1] if after else None)
        assert index == want


# --- MPEG-TS end to end -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vtest():
    from fixtures import footage

    try:
        return footage.path("vtest")
    except Exception as exc:  # no network and no cached clip
        pytest.skip(f"demo clip unavailable: {exc}")


def test_muxed_clip_reads_back_every_frame_matched_and_broken_packets_counted(vtest, tmp_path):
    out = tmp_path / "klv.ts"
    muxed = mpegts.mux_with_klv(vtest, out, sample.flight, max_frames=30, broken=[5, 17])
    assert muxed.frames == 30 and len(muxed.frame_times) == 30 and muxed.broken == [5, 17]

    report = mpegts.read_klv(out)
    assert report.streams == 1 and report.packets == 30 and report.malformed == 2
    assert len(report.records) == 28 and all("bad checksum" in reason for reason in report.reasons)
    good_times = [t for i, t in enumerate(muxed.klv_times) if i not in (5, 17)]
    assert report.times == pytest.approx(good_times, abs=1e-4)

    step = muxed.frame_times[1] - muxed.frame_times[0]
    matched = match.match_to_frames(report.times, muxed.frame_times, max_gap=1.5 * step)
    assert None not in matched
    for frame_index, record_index in enumerate(matched):
        own = frame_index - (frame_index > 5) - (frame_index > 17)  # records skip the broken two
        want = own - 1 if frame_index in (5, 17) else own  # a broken frame holds the one before
        assert record_index == want
        record = report.records[record_index]
        source_frame = round((record.time - muxed.frame_times[0]) / step)
        expected = sample.flight(source_frame * step)
        assert record.values["time"] == expected["time"]
        assert close(record.values["platform_heading"], expected["platform_heading"], 0.01)
        assert close(record.values["sensor_latitude"], expected["sensor_latitude"], 1e-6)


def test_telemetry_at_a_third_of_the_frame_rate_covers_every_frame(vtest, tmp_path):
    muxed = mpegts.mux_with_klv(vtest, tmp_path / "slow.ts", sample.flight, max_frames=12, klv_every=3)
    report = mpegts.read_klv(tmp_path / "slow.ts")
    assert (report.packets, report.malformed, len(report.records)) == (4, 0, 4)
    step = muxed.frame_times[1] - muxed.frame_times[0]
    assert match.match_to_frames(report.times, muxed.frame_times, max_gap=3 * step) == [i // 3 for i in range(12)]


def test_a_file_without_a_klv_stream_gives_an_empty_report(vtest):
    report = mpegts.read_klv(vtest)
    assert (report.streams, report.packets, report.malformed, report.records) == (0, 0, 0, [])
