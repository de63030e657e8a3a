"""Hostile inputs, made at test time (nothing here is large on disk): broken and lying footage,
decompression bombs, hostile zips, malformed and oversized annotation files, and strings meant
to run script or SQL where they are shown or stored."""
from __future__ import annotations

import io
import json
import random
import struct
import zipfile
import zlib
from pathlib import Path

from tests import media

# Shown on pages and in the labeling tool: each would run script if it were not escaped.
XSS = [
    "<script>alert('xss-script')</script>",
    "<img src=x onerror=alert('xss-img')>",
    "\"><svg onload=alert('xss-svg')>",
    "';alert('xss-quote');//",
    "<iframe src=javascript:alert('xss-iframe')></iframe>",
]
# Stored as plain text; none of them may reach SQL as SQL.
SQL = [
    "'; DROP TABLE labeling_annotation; --",
    "1 OR 1=1",
    "\" OR \"\"=\"",
    "x'); DELETE FROM labeling_frame WHERE ('1'='1",
]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header for a 10-gigapixel image with a few hundred bytes of data: decoding it
    would need gigabytes; its header alone must be enough to refuse it."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    rows = zlib.compress(b"\x00" * (width // 8 + 1) * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def video_claiming_frames(tmp: Path, claimed: int = 10**9, real: int = 20) -> bytes:
    """A real AVI of `real` frames whose headers (avih dwTotalFrames, strh dwLength) claim `claimed`."""
    data = bytearray(media.synthetic_video(tmp / "claims.avi", frames=real, container="avi").read_bytes())
    struct.pack_into("<I", data, data.find(b"avih") + 8 + 16, claimed)
    struct.pack_into("<I", data, data.find(b"strh") + 8 + 32, claimed)
    return bytes(data)


def zip_bomb(name: str, size: int) -> bytes:
    """A zip with one member of `size` zero bytes (compresses about 1000:1)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf, zf.open(name, "w") as member:
        block = b"\x00" * (1 << 20)
        for _ in range(size // len(block)):
            member.write(block)
    return buf.getvalue()


def footage(tmp: Path) -> dict[str, tuple[str, bytes]]:
    """name -> (upload file name, bytes) of footage no ingest may keep anything of."""
    png = media.png_bytes()
    clip = media.bikes_path().read_bytes()
    rng = random.Random(8)
    return {
        "random-bytes-as-mp4": ("clip.mp4", bytes(rng.getrandbits(8) for _ in range(50_000))),
        "text-as-mkv": ("clip.mkv", b"this is not a video\n" * 500),
        "header-only-of-a-real-clip": ("bikes.mp4", clip[:4096]),
        "mp4-box-of-nothing": ("box.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 12),
        "png-bomb": ("bomb.png", png_bomb()),
        "png-bomb-in-zip": ("bombs.zip", media.zip_bytes({"ok.png": png, "bomb.png": png_bomb()})),
        "truncated-png": ("half.png", png[: len(png) // 2]),
        "zip-slip": ("slip.zip", media.zip_bytes({"ok.png": png, "../../../../tmp/aerie-slip.png": png})),
        "zip-absolute-path": ("abs.zip", media.zip_bytes({"/tmp/aerie-abs.png": png})),
        "zip-windows-slip": ("win.zip", media.zip_bytes({"ok.png": png, "..\\..\\evil.png": png})),
        "zip-symlink": ("links.zip", media.zip_bytes({"ok.png": png}, links={"passwd.png": "/etc/passwd"})),
        "zip-of-a-text-file": ("notes.zip", media.zip_bytes({"ok.png": png, "readme.txt": b"hello"})),
        "corrupt-zip": ("broken.zip", media.zip_bytes({"ok.png": png})[:-30]),
    }


def coco(**overrides) -> dict:
    doc = {"images": [{"id": 1, "file_name": "cam/000000.jpg", "width": 64, "height": 48}],
           "categories": [{"id": 1, "name": "person"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}]}
    doc.update(overrides)
    return doc


def imports() -> dict[str, dict]:
    """name -> the import form (file name and bytes, format, mode, extra fields): every one of
    them must be refused with 400 and change nothing."""
    huge_coco = coco(annotations=[{"id": i, "image_id": 999_999, "category_id": 1, "bbox": [0, 0, 1, 1]}
                                  for i in range(1, 200_001)])
    j = lambda doc: json.dumps(doc).encode()  # noqa: E731
    return {
        "coco-empty-file": {"file": ("empty.json", b""), "format": "coco"},
        "coco-not-json": {"file": ("x.json", b"{\"images\": [1, 2,"), "format": "coco"},
        "coco-not-utf8": {"file": ("x.json", b"\xff\xfe\x00{"), "format": "coco"},
        "coco-top-level-array": {"file": ("x.json", b"[1, 2, 3]"), "format": "coco"},
        "coco-top-level-string": {"file": ("x.json", b"\"images\""), "format": "coco"},
        "coco-wrong-types": {"file": ("x.json", j(coco(images="all", annotations={"a": 1}))), "format": "coco"},
        "coco-nan-and-huge-numbers": {"file": ("x.json", j(coco(annotations=[
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [float("nan"), 1e308, -1e308, 4]}]))),
            "format": "coco"},
        "coco-deeply-nested": {"file": ("x.json", b"[" * 100_000 + b"]" * 100_000), "format": "coco"},
        "coco-200k-annotations-on-unknown-images": {"file": ("huge.json", j(huge_coco)), "format": "coco"},
        "coco-xss-and-sql-class-names": {"file": ("x.json", j(coco(categories=[
            {"id": 1, "name": XSS[0]}, {"id": 2, "name": SQL[0]}]))), "format": "coco"},
        "coco-zip-of-two-documents": {"file": ("x.zip", media.zip_bytes({"a.json": j(coco()), "b.json": j(coco())})),
                                      "format": "coco"},
        "coco-zip-bomb": {"file": ("bomb.zip", zip_bomb("annotations/instances.json", 600 << 20)), "format": "coco"},
        "mot-garbage-lines": {"file": ("gt.txt", b"1,1,a,b,c,d\n\x00\x01\x02\n,,,,,,\n"), "format": "mot",
                              "sequence": "cam", "default_class": "person"},
        "mot-negative-and-huge": {"file": ("gt.txt", b"-5,1,1,1,-3,4\n1,1,1e308,1,1,1\n99999999999999,1,1,1,1,1\n"),
                                  "format": "mot", "sequence": "cam", "default_class": "person"},
        "mot-unknown-sequence": {"file": ("gt.txt", b"1,1,1,1,3,4\n"), "format": "mot",
                                 "sequence": SQL[0], "default_class": "person"},
        "mot-zip-slip-names": {"file": ("mot.zip", media.zip_bytes({"../../etc/gt/gt.txt": b"1,1,1,1,3,4\n"})),
                               "format": "mot", "default_class": "person"},
        "mot-zip-bomb": {"file": ("mot.zip", zip_bomb("cam/gt/gt.txt", 600 << 20)), "format": "mot",
                         "default_class": "person"},
        "mot-huge-file-of-bad-rows": {"file": ("gt.txt", b"1,1,x,1,1,1\n" * 300_000), "format": "mot",
                                      "sequence": "cam", "default_class": "person"},
        "mot-xss-class-map": {"file": ("gt.txt", b"1,1,1,1,3,4,1,1,1\n"), "format": "mot", "sequence": "cam",
                              "class_map": json.dumps({"1": XSS[1]})},
        "mot-class-map-not-json": {"file": ("gt.txt", b"1,1,1,1,3,4\n"), "format": "mot", "sequence": "cam",
                                   "class_map": "{'1': person"},
        "unknown-format": {"file": ("x.json", j(coco())), "format": "yolo"},
        "unknown-annotator": {"file": ("x.json", j(coco())), "format": "coco", "mode": "annotator",
                              "annotator": SQL[1]},
    }
