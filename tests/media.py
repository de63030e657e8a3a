"""Test footage: the real demo clip (bikes.mp4, fetched at setup) and small files made here."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import av
import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from fixtures import footage


def bikes_path() -> Path:
    return footage.path("bikes")


def upload(path_or_bytes, name: str | None = None) -> SimpleUploadedFile:
    if isinstance(path_or_bytes, (str, Path)):
        path = Path(path_or_bytes)
        return SimpleUploadedFile(name or path.name, path.read_bytes())
    return SimpleUploadedFile(name or "upload.bin", path_or_bytes)


def png_bytes(width=64, height=48, color=(200, 30, 30), fmt="PNG") -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", (width, height), color)
    img.save(buf, fmt)
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, target)
    return buf.getvalue()


def synthetic_video(path: Path, frames: int = 40, fps: int = 10, size=(96, 64), container="mpegts",
                    codec="mpeg4") -> Path:
    """A small real video encoded with PyAV: a square moving across a gradient."""
    w, h = size
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        base = np.tile(np.linspace(0, 255, w, dtype=np.uint8), (h, 1))
        for i in range(frames):
            rgb = np.stack([base, np.roll(base, i, axis=1), np.full_like(base, 80)], axis=-1)
            x = (i * 3) % (w - 16)
            rgb[20:36, x:x + 16] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
