"""Reading footage: decode videos as a stream, validate image uploads, and make the renditions
every frame gets at ingest (frame JPEG, thumbnail, blurred preview).

Nothing here holds more than one frame in memory. Pure functions over files and PIL images;
the database side is in ingest.py."""
from __future__ import annotations

import io
import re
import stat
import zipfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import PurePosixPath
from typing import Iterator

import av
from PIL import Image, ImageOps

IMAGE_FORMATS = {"JPEG", "PNG", "WEBP", "BMP", "TIFF"}
KEEP_AS_IS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}  # Pillow's modes of 16-bit single-channel images


class IngestError(Exception):
    """A problem with the uploaded footage, said so that the uploader can act on it."""


class DecodeStopped(Exception):
    """Decoding a video stopped part-way (truncated or corrupt data after a good prefix)."""


@dataclass
class VideoInfo:
    codec: str
    width: int
    height: int
    fps: float | None
    estimated_frames: int | None
    claimed_frames: int | None  # what the container header says, when it says it


@dataclass
class DecodedFrame:
    source_index: int
    timestamp: float | None
    image: Image.Image
    source_name: str = ""


def sniff_kind(source) -> str:
    """'zip', 'image' or 'video', by content, never by file name. `source`: a path, or a seekable
    binary file object (a decrypting one, labeling.footage.crypto)."""
    if isinstance(source, str):
        with open(source, "rb") as fh:
            return sniff_kind(fh)
    fh = source
    fh.seek(0)
    if not fh.read(16):
        raise IngestError("the upload is empty (0 bytes)")
    fh.seek(0)
    if zipfile.is_zipfile(fh):
        return "zip"
    fh.seek(0)
    try:
        with Image.open(fh) as img:
            if img.format in IMAGE_FORMATS:
                return "image"
    except Image.DecompressionBombError:
        return "image"  # an image, and too big: check_image_header says so
    except (OSError, ValueError, SyntaxError):
        pass
    finally:
        fh.seek(0)
    return "video"


# ---------------------------------------------------------------------------------- video

def probe_video(path: str) -> VideoInfo:
    try:
        container = av.open(path)
    except av.FFmpegError as exc:
        raise IngestError(f"not a readable video (corrupt, truncated, or not a video at all): {exc}") from None
    with container:
        if not container.streams.video:
            raise IngestError("the file has no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        estimate = stream.frames or None
        if not estimate and container.duration and fps:
            estimate = int(container.duration / 1_000_000 * fps)
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise IngestError("the video stream has no frame size")
        return VideoInfo(stream.codec_context.name, width, height, fps, estimate, stream.frames or None)


def iter_video_frames(path: str, *, stride: int = 1, target_fps: float | None = None,
                      stats: dict | None = None) -> Iterator[DecodedFrame]:
    """Decode a video one frame at a time, keeping every `stride`-th frame, or frames spaced
    1/target_fps seconds apart. Raises DecodeStopped if decoding breaks after the start.
    `stats["decoded"]` counts every source frame decoded, kept or not."""
    stats = stats if stats is not None else {}
    container = av.open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        step = Fraction(1) / Fraction(target_fps).limit_denominator(1000) if target_fps else None
        next_time = Fraction(0)
        index = -1
        try:
            for frame in container.decode(stream):
                index += 1
                stats["decoded"] = index + 1
                if frame.time is not None:
                    t = float(frame.time)
                elif rate:
                    t = index / float(rate)
                else:
                    t = None
                if step is not None:
                    if t is None:
                        raise IngestError("this video has no timestamps; use a frame stride instead of a target fps")
                    if Fraction(t).limit_denominator(100000) + Fraction(1, 100000) < next_time:
                        continue
                    next_time += step
                elif index % stride:
                    continue
                yield DecodedFrame(index, t, frame.to_image())
        except av.FFmpegError as exc:
            raise DecodeStopped(f"decoding stopped after source frame {index}: {exc}") from None
    finally:
        container.close()


# ---------------------------------------------------------------------------------- images

def check_image_header(fh, name: str, max_pixels: int) -> tuple[int, int]:
    """Open just the header of an image; refuse non-images and decompression bombs."""
    try:
        with Image.open(fh) as img:
            fmt, (w, h) = img.format, img.size
    except Image.DecompressionBombError:
        raise IngestError(f"{name}: image is over the pixel limit of {max_pixels:,} pixels") from None
    except (OSError, ValueError, SyntaxError):
        raise IngestError(f"{name}: not an image aerie can read") from None
    if fmt not in IMAGE_FORMATS:
        raise IngestError(f"{name}: image format {fmt} is not accepted (use {', '.join(sorted(IMAGE_FORMATS))})")
    if w * h > max_pixels:
        raise IngestError(f"{name}: {w}×{h} = {w * h:,} pixels is over the pixel limit of {max_pixels:,}")
    if w == 0 or h == 0:
        raise IngestError(f"{name}: image has no pixels")
    return w, h


def is_16bit(fh) -> bool:
    """Whether an image file (header only) is 16-bit single-channel: a thermal frame to keep as
    it is, not an 8-bit picture."""
    try:
        with Image.open(fh) as img:
            return img.format in {"PNG", "TIFF"} and img.mode in SIXTEEN_BIT_MODES
    except (OSError, ValueError, SyntaxError):
        return False


def _natural_key(name: str):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _safe_member(info: zipfile.ZipInfo) -> bool:
    """Refuse (IngestError) an unsafe member: an absolute path or '..', a link, encryption. False
    for what is skipped: folders, hidden files and macOS resource forks."""
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        raise IngestError(f"{name}: unsafe path in zip (absolute or with '..')")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise IngestError(f"{name}: links are not accepted in a zip")
    if info.flag_bits & 0x1:
        raise IngestError(f"{name}: encrypted zip entries are not accepted")
    return not (info.is_dir() or any(p.startswith(".") or p == "__MACOSX" for p in parts))


VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg"}


def zip_video_member(path: str) -> tuple[zipfile.ZipInfo, zipfile.ZipInfo | None] | None:
    """(video, its .SRT sidecar or None) when the zip holds one video file and at most its
    sidecar (a drone's card as it comes: `DJI_0012.MP4` + `DJI_0012.SRT`); None for any other
    zip (a zip of images). Unsafe members are refused as for images."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return None
    with archive:
        members = [info for info in archive.infolist() if _safe_member(info)]
    videos = [m for m in members if PurePosixPath(m.filename).suffix.lower() in VIDEO_SUFFIXES]
    if len(videos) != 1:
        return None
    rest = [m for m in members if m is not videos[0]]
    video_path = PurePosixPath(videos[0].filename)
    sidecar = [m for m in rest if PurePosixPath(m.filename).suffix.lower() == ".srt"
               and PurePosixPath(m.filename).stem.lower() == video_path.stem.lower()
               and PurePosixPath(m.filename).parent == video_path.parent]
    if len(rest) != len(sidecar) or len(sidecar) > 1:
        return None
    return videos[0], (sidecar[0] if sidecar else None)


def zip_image_members(path: str, *, max_pixels: int, max_members: int, max_total_bytes: int) -> list[zipfile.ZipInfo]:
    """Validate a zip of images before anything is ingested, and list its images in natural
    order. Refuses path traversal, absolute paths, links, encrypted members, zip bombs and
    non-image files, naming the member."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise IngestError(f"not a readable zip file: {exc}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > max_members:
            raise IngestError(f"the zip has {len(infos):,} entries; the limit is {max_members:,}")
        images, total = [], 0
        for info in infos:
            name = info.filename
            if not _safe_member(info):
                continue
            total += info.file_size
            if total > max_total_bytes:
                raise IngestError(f"the zip unpacks to more than {max_total_bytes:,} bytes")
            try:
                with archive.open(info) as fh:
                    check_image_header(io.BytesIO(fh.read(min(info.file_size, 8 * 1024 * 1024))), name, max_pixels)
            except zipfile.BadZipFile as exc:
                raise IngestError(f"{name}: corrupt zip entry ({exc})") from None
            images.append(info)
        if not images:
            raise IngestError("the zip contains no images")
        images.sort(key=lambda i: _natural_key(i.filename))
        return images


def load_image(data: bytes, name: str) -> tuple[Image.Image, bytes, str]:
    """Decode one image fully; return (RGB image, bytes to store, extension). Browser-friendly
    formats keep their original bytes; others (and rotated-by-EXIF images) become PNG."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Image.DecompressionBombError:
        raise IngestError(f"{name}: image is over the pixel limit") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise IngestError(f"{name}: corrupt or truncated image ({exc})") from None
    fmt = img.format
    rotated = img.getexif().get(0x0112, 1) not in (None, 1)
    upright = ImageOps.exif_transpose(img) if rotated else img
    rgb = upright.convert("RGB")
    if fmt in KEEP_AS_IS and not rotated:
        return rgb, data, KEEP_AS_IS[fmt]
    buf = io.BytesIO()
    rgb.save(buf, "PNG")
    return rgb, buf.getvalue(), "png"


# ---------------------------------------------------------------------------------- renditions

def encode_jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    w, h = size
    scale = min(1.0, longest / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def small_copy(img: Image.Image, longest: int) -> Image.Image:
    """A copy no smaller than `longest`, made with Pillow's fast integer reduce: the base for
    the thumbnail and the preview, so the full frame is resampled once."""
    factor = max(1, max(img.size) // longest)
    return img.reduce(factor) if factor > 1 else img


def thumbnail(base: Image.Image, longest: int) -> bytes:
    return encode_jpeg(base.resize(_fit(base.size, longest), Image.Resampling.BILINEAR), 80)


def blurred_preview(base: Image.Image, longest: int, radius: float) -> bytes:
    """A strongly blurred preview for graphic content. Shrinking to about one pixel per blur
    radius and scaling back up with a smooth filter is a wide blur at almost no cost; no detail
    smaller than the radius survives. The page scales it to the frame's size."""
    target = _fit(base.size, longest)
    step = max(1.0, radius)
    tiny = (max(2, round(target[0] / step)), max(2, round(target[1] / step)))
    small = base.resize(tiny, Image.Resampling.BOX)
    return encode_jpeg(small.resize(target, Image.Resampling.BICUBIC), 70)
