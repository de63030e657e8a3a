"""MISB ST 0601 KLV packets: framing, checksum, decode and encode (SMPTE ST 336 KLV).

A packet is `key (16 bytes) | BER length | value`. The key of the UAS Datalink Local Set is the
Universal Label 06 0E 2B 34 02 0B 01 01 0E 01 03 01 01 00 00 00. The value is a local set of
items `tag (BER-OID) | length (BER) | value`; the Precision Time Stamp (tag 2) comes first and
the Checksum (tag 1, two bytes) last. The checksum is the 16-bit running sum of the packet read
as big-endian 16-bit words, from the first byte of the key up to and including the checksum's
own length byte (ST 0601, "Checksum").

BER length (ST 336): a first byte below 0x80 is the length itself (short form); 0x8N says the
length follows in the next N bytes (long form). BER-OID tag: seven bits per byte, most
significant group first, the high bit set on every byte but the last.
"""
from __future__ import annotations

import numpy as np

from labeling.footage.telemetry import st0601

UAS_LOCAL_SET_KEY = bytes.fromhex("060E2B34020B01010E01030101000000")
SMPTE_PREFIX = UAS_LOCAL_SET_KEY[:4]  # every SMPTE Universal Label starts 06 0E 2B 34
CHECKSUM_TAG = 1
MAX_LENGTH_BYTES = 8


class KLVError(ValueError):
    """A malformed packet; the message says what is wrong (key, length, checksum, value)."""


def read_ber_length(buf: bytes, pos: int) -> tuple[int, int]:
    """(length, position after it) of the BER length at `pos`."""
    if pos >= len(buf):
        raise KLVError(f"truncated: no length byte at offset {pos}")
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0 or count > MAX_LENGTH_BYTES:
        raise KLVError(f"bad length: BER first byte 0x{first:02X} at offset {pos}")
    if pos + 1 + count > len(buf):
        raise KLVError(f"truncated: BER length at offset {pos} needs {count} more bytes")
    return int.from_bytes(buf[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def ber_length(length: int) -> bytes:
    """The shortest BER encoding of `length`."""
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def read_ber_oid(buf: bytes, pos: int) -> tuple[int, int]:
    """(tag, position after it) of the BER-OID tag at `pos`."""
    tag = 0
    for i in range(pos, min(len(buf), pos + 4)):
        tag = (tag << 7) | (buf[i] & 0x7F)
        if buf[i] < 0x80:
            return tag, i + 1
    raise KLVError(f"bad length: BER-OID tag at offset {pos} does not end")


def ber_oid(tag: int) -> bytes:
    groups = [tag & 0x7F]
    tag >>= 7
    while tag:
        groups.append(0x80 | (tag & 0x7F))
        tag >>= 7
    return bytes(reversed(groups))


def checksum(data: bytes) -> int:
    """16-bit running sum of `data` read as big-endian words (an odd last byte is a high byte)."""
    arr = np.frombuffer(data, dtype=np.uint8).astype(np.uint64)
    return int((arr[0::2].sum() * 256 + arr[1::2].sum()) & 0xFFFF)


def items(local_set: bytes) -> list[tuple[int, bytes]]:
    """The (tag, value) items of a local set, in order."""
    out, pos = [], 0
    while pos < len(local_set):
        tag, after_tag = read_ber_oid(local_set, pos)
        length, start = read_ber_length(local_set, after_tag)
        if start + length > len(local_set):
            raise KLVError(f"bad length: tag {tag} at offset {pos} says {length} bytes, "
                           f"{len(local_set) - start} left in the set")
        out.append((tag, local_set[start : start + length]))
        pos = start + length
    return out


def unwrap(packet: bytes) -> bytes:
    """The checked local set of one packet: right key, length that fits, checksum that adds up."""
    if len(packet) < 16:
        raise KLVError(f"truncated: {len(packet)} bytes, shorter than the 16-byte key")
    if packet[:16] != UAS_LOCAL_SET_KEY:
        raise KLVError(f"bad key: {packet[:16].hex(' ')} is not the ST 0601 UAS Local Set key")
    length, start = read_ber_length(packet, 16)
    if start + length > len(packet):
        raise KLVError(f"truncated: length says {length} bytes, {len(packet) - start} present")
    if start + length < len(packet):
        raise KLVError(f"bad length: {len(packet) - start - length} bytes after the packet's end")
    end = start + length
    if length < 4 or packet[end - 4 : end - 2] != bytes([CHECKSUM_TAG, 2]):
        raise KLVError("bad checksum: the last item is not the checksum (tag 1, 2 bytes)")
    stated, computed = int.from_bytes(packet[end - 2 : end], "big"), checksum(packet[: end - 2])
    if stated != computed:
        raise KLVError(f"bad checksum: packet says 0x{stated:04X}, bytes add up to 0x{computed:04X}")
    return packet[start : end - 4]


def decode(packet: bytes) -> dict:
    """Named values of one ST 0601 packet, e.g. {"time": datetime, "platform_heading": 159.97,
    ...}, with "corners" (four (lat, lon)) when tags 23-33 give them, and "raw": {tag: bytes} for
    the tags this module does not read. Raises KLVError when the packet is malformed."""
    values: dict = {"raw": {}}
    for tag, raw in items(unwrap(packet)):
        item = st0601.BY_TAG.get(tag)
        if item is None:
            values["raw"][tag] = raw
            continue
        try:
            values[item.name] = st0601.decode_value(item, raw)
        except st0601.ValueSizeError as exc:
            raise KLVError(f"bad value: {exc}") from None
    corners = st0601.corners(values)
    if corners is not None:
        values["corners"] = corners
    return values


def encode(values: dict) -> bytes:
    """One ST 0601 packet carrying `values` (the names `decode` gives; "raw": {tag: bytes} for
    others): the items in tag order (so the time stamp, tag 2, first), then the checksum."""
    known = {st0601.BY_NAME[name].tag: st0601.encode_value(st0601.BY_NAME[name], value)
             for name, value in values.items() if name in st0601.BY_NAME}
    raw = {tag: bytes(value) for tag, value in values.get("raw", {}).items() if tag != CHECKSUM_TAG}
    merged = {**raw, **known}
    body = b"".join(ber_oid(tag) + ber_length(len(merged[tag])) + merged[tag] for tag in sorted(merged))
    body += bytes([CHECKSUM_TAG, 2])
    head = UAS_LOCAL_SET_KEY + ber_length(len(body) + 2)
    return head + body + checksum(head + body).to_bytes(2, "big")


def split(stream: bytes) -> list[bytes]:
    """The KLV packets of a byte stream, in order. A stretch that is not a packet (bytes before a
    key, a packet cut short) is returned as it is, so that decoding it fails and it is counted. A
    packet whose stated length runs over the next UAS Local Set key, and does not add up to its
    checksum that way, was cut short: it ends where the next packet begins."""
    out, pos = [], 0
    while pos < len(stream):
        start = stream.find(SMPTE_PREFIX, pos)
        if start < 0:
            out.append(stream[pos:])
            break
        if start > pos:
            out.append(stream[pos:start])
        try:
            length, value_start = read_ber_length(stream, start + 16)
            end = min(value_start + length, len(stream))
        except KLVError:
            end = len(stream)
        following = stream.find(UAS_LOCAL_SET_KEY, start + 16, end)
        if following > 0 and not adds_up(stream[start:end]):  # cut short, and the next one begins
            end = following
        out.append(stream[start:end])
        pos = end
    return out


def adds_up(packet: bytes) -> bool:
    try:
        unwrap(packet)
    except KLVError:
        return False
    return True
