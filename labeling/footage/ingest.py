"""Footage in: store an upload, then (in a Celery task) turn it into a sequence of frames.

Decisions, documented in the README:
- Images (one file or a zip) are all-or-nothing: the whole upload is validated before the
  first frame is made, and any bad member fails the job with nothing kept.
- A video that breaks part-way (truncated recording, corrupt tail) keeps the frames decoded
  before the break: the job ends 'partial' and says where decoding stopped. A video of which
  nothing decodes fails with nothing kept.
- A retried job reuses its sequence and skips frames already stored (unique sequence+index,
  content-addressed files), so a retry never duplicates frames.
"""
from __future__ import annotations

import functools
import hashlib
import io
import logging
import uuid
import zipfile
from collections import deque
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from PIL import Image

from labeling import audit, jobs
from labeling.footage import blobstore, conditions, crypto, staging, thermal
from labeling.footage.telemetry import attach
from labeling.footage.decode import (
    DecodedFrame,
    DecodeStopped,
    IngestError,
    blurred_preview,
    check_image_header,
    encode_jpeg,
    is_16bit,
    iter_video_frames,
    load_image,
    probe_video,
    small_copy,
    sniff_kind,
    thumbnail,
    zip_image_members,
    zip_video_member,
)
from labeling.models import Dataset, Frame, FrameCondition, IngestJob, Sequence
from labeling.models.footage import blob_path
from labeling.protection import flags
from labeling.work import queue

log = logging.getLogger(__name__)
BATCH = 64
STORE_THREADS = 2
IN_FLIGHT = 4
MAX_SIDECAR_BYTES = 64 * 1024 * 1024  # a DJI .SRT of a long flight is a few MB
TRUNCATION_SLACK = 0.98  # containers' frame counts can be a little off; a real cut is far off


class UploadError(ValueError):
    pass


def create_job(dataset: Dataset, upload, *, sequence_name: str = "", stride: int = 1,
               target_fps: float | None = None, sensitive: bool = False, user=None,
               enqueue: bool = True, sidecar=None) -> IngestJob:
    """Store an uploaded file (streamed in chunks to where uploads wait: labeling.footage.staging)
    and queue its ingest once the transaction commits. Validation that needs no decoding happens here, so a bad request changes
    nothing. `enqueue=False`: the caller runs the job in its own process (`run_job`; benches,
    `load_demo`). `sidecar`: a DJI `.SRT` file uploaded with a video (its telemetry per frame)."""
    filename = Path(getattr(upload, "name", "") or "upload").name[:255]
    if not getattr(upload, "size", 0):
        raise UploadError("the upload is empty (0 bytes)")
    if upload.size > settings.AERIE_MAX_UPLOAD_BYTES:
        raise UploadError(f"the upload is larger than {settings.AERIE_MAX_UPLOAD_BYTES:,} bytes")
    if stride < 1:
        raise UploadError("stride must be 1 or more")
    if target_fps is not None and not (0 < target_fps <= 240):
        raise UploadError("target_fps must be above 0 and at most 240")
    if target_fps is not None and stride != 1:
        raise UploadError("give either a stride or a target_fps, not both")
    if sidecar is not None:
        if not str(getattr(sidecar, "name", "")).lower().endswith(".srt"):
            raise UploadError("telemetry: a DJI .SRT file")
        if not getattr(sidecar, "size", 0) or sidecar.size > MAX_SIDECAR_BYTES:
            raise UploadError(f"telemetry: the .SRT file must hold 1 to {MAX_SIDECAR_BYTES:,} bytes")
    name = (sequence_name or Path(filename).stem or "sequence").strip()[:200]
    if Sequence.objects.filter(dataset=dataset, name=name).exists() or IngestJob.objects.filter(
        dataset=dataset, sequence_name=name, status__in=[IngestJob.QUEUED, IngestJob.RUNNING]
    ).exists():
        raise UploadError(f"dataset '{dataset.name}' already has a sequence named '{name}'")
    stored = f"{uuid.uuid4().hex}.upload"
    staging.keep(upload, stored)
    if sidecar is not None:
        staging.keep(sidecar, staging.sidecar_name(stored))
    job = IngestJob.objects.create(
        dataset=dataset, sequence_name=name, upload_name=stored, original_filename=filename, upload_size=upload.size,
        stride=stride, target_fps=target_fps, sensitive=sensitive, created_by=user,
    )
    audit.record(user, "ingest.queued", job, {"file": filename, "size": upload.size, "sequence": name,
                                               "sidecar": getattr(sidecar, "name", None)})
    if enqueue:
        send(job)
    return job


@contextmanager
def _opened(path: Path):
    """The stored upload as the decoders read it: its path when it is plaintext (no key), a
    decrypting file object when it is encrypted (nothing decrypted is written to disk)."""
    with open(path, "rb") as fh:
        encrypted = crypto.is_encrypted(fh.read(len(crypto.MAGIC)))
    if not encrypted:
        yield str(path)
        return
    with crypto.open_local(path) as fh:
        yield fh


def send(job: IngestJob) -> None:
    """Send the job to a worker once the transaction commits (a new job, or one that stopped)."""
    jobs.enqueue("ingest_job", job.pk)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with crypto.open_local(path) as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _claim(job_id: int) -> IngestJob | None:
    """Mark a job running; None if it already finished (a duplicate delivery)."""
    with transaction.atomic():
        job = IngestJob.objects.select_for_update(no_key=True).get(pk=job_id)
        if job.status in IngestJob.FINISHED:
            return None
        job.status = IngestJob.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or timezone.now()
        job.message = ""
        job.save(update_fields=["status", "attempts", "started_at", "message"])
        return job


def _sequence_for(job: IngestJob, kind: str, source_sha: str) -> Sequence:
    if job.sequence_id:
        return job.sequence
    with transaction.atomic():
        sequence = Sequence.objects.create(
            dataset=job.dataset, name=job.sequence_name, kind=kind, status=Sequence.INGESTING,
            source_name=job.original_filename, source_sha256=source_sha, source_size=job.upload_size,
            stride=job.stride, target_fps=job.target_fps,
            sensitive=job.sensitive or job.dataset.sensitive,
        )
        IngestJob.objects.filter(pk=job.pk).update(sequence=sequence)
    job.sequence = sequence
    return sequence


def store_frame(img, data: bytes | None, ext: str) -> tuple[str, dict]:
    """Encode (when needed), hash and store one frame with its thumbnail and blurred preview, and
    describe its conditions (labeling.footage.conditions); return (sha256, conditions). Pure of
    the database, and safe to run in worker threads: Pillow, OpenCV and file writes release the
    GIL, so this overlaps with decoding the next frames."""
    if data is None:
        data = encode_jpeg(img, settings.AERIE_FRAME_JPEG_QUALITY)
    sha = hashlib.sha256(data).hexdigest()
    blobstore.put(blob_path("frames", sha, ext), data)
    base = small_copy(img, max(settings.AERIE_THUMBNAIL_SIZE, settings.AERIE_PREVIEW_SIZE))
    if not blobstore.exists(blob_path("blurred", sha, "jpg")):
        blobstore.put(blob_path("thumbs", sha, "jpg"), thumbnail(base, settings.AERIE_THUMBNAIL_SIZE))
        blobstore.put(blob_path("blurred", sha, "jpg"),
                      blurred_preview(base, settings.AERIE_PREVIEW_SIZE, settings.AERIE_PREVIEW_BLUR_RADIUS))
    return sha, conditions.describe(np.asarray(img.convert("L")))


_pool: ThreadPoolExecutor | None = None


def _store_pool() -> ThreadPoolExecutor:
    """One pool per process, made on first use (so after a Celery worker forks)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=STORE_THREADS, thread_name_prefix="ingest-store")
    return _pool


class _FrameWriter:
    """Turns decoded frames into stored files and Frame rows, in batches, with progress.

    Storing runs on a small thread pool while the caller decodes the next frame. At most
    IN_FLIGHT frames are being stored at once, so memory stays flat however long the video."""

    def __init__(self, job: IngestJob, sequence: Sequence):
        self.job, self.sequence = job, sequence
        self.existing = set(Frame.objects.filter(sequence=sequence).values_list("index", flat=True))
        self.pending: list[tuple[Frame, Future]] = []
        self.count = 0
        self.size: tuple[int, int] | None = None
        self.limit = settings.AERIE_MAX_FRAMES_PER_SEQUENCE
        self.in_flight: deque[Future] = deque()
        self.times: dict[int, tuple[int, float | None]] = {}  # index: (source index, seconds), for telemetry
        self.note = ""  # what the job says beside the frame count (telemetry found)

    def add(self, decoded: DecodedFrame, data: bytes | None = None, ext: str = "jpg", store=None) -> None:
        """Store one frame on the pool: `store()` when given (it returns (sha256, conditions)),
        else store_frame of the decoded image."""
        index = self.count
        self.count += 1
        if self.count > self.limit:
            raise IngestError(
                f"more than {self.limit:,} frames: use a larger stride or a lower target fps "
                "(limit AERIE_MAX_FRAMES_PER_SEQUENCE)"
            )
        img = decoded.image
        self.size = self.size or img.size
        self.times[index] = (decoded.source_index, decoded.timestamp)
        if index in self.existing:
            return
        while len(self.in_flight) >= IN_FLIGHT:
            self.in_flight.popleft().result()
        future = _store_pool().submit(store) if store else _store_pool().submit(store_frame, img, data, ext)
        self.in_flight.append(future)
        self.pending.append((Frame(
            sequence=self.sequence, index=index, source_index=decoded.source_index, source_name=decoded.source_name,
            timestamp=decoded.timestamp, ext=ext, width=img.width, height=img.height,
            sensitive=self.sequence.sensitive,
        ), future))
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Wait for the pending frames' files, then write their rows, their conditions and the
        progress."""
        if self.pending:
            rows, described = [], {}
            for frame, future in self.pending:
                frame.sha256, described[frame.index] = future.result()
                rows.append(frame)
            Frame.objects.bulk_create(rows, ignore_conflicts=True)
            ids = Frame.objects.filter(sequence=self.sequence, index__in=list(described)).values_list("index", "pk")
            FrameCondition.objects.bulk_create(
                [FrameCondition(frame_id=pk, **condition_columns(described[index])) for index, pk in ids],
                ignore_conflicts=True)
            self.pending = []
        IngestJob.objects.filter(pk=self.job.pk).update(frames_done=self.count)


def condition_columns(described: dict) -> dict:
    """FrameCondition's columns of what conditions.describe says (bands come with telemetry)."""
    return {key: described[key] for key in ("brightness", "sharpness", "blur_effect", "night", "blurred", "thermal")}


def _ingest_video(job: IngestJob, path: Path, source_sha: str,
                  sidecar: attach.Found | None = None) -> tuple[Sequence, _FrameWriter, str]:
    """Decode and store the frames, then the telemetry: the SRT `sidecar` when one came with the
    video, else the KLV inside the file (a file without either has none)."""
    with _opened(path) as source:
        info = probe_video(source)
    estimate = None
    if info.estimated_frames:
        if job.target_fps and info.fps:
            estimate = int(info.estimated_frames * min(1.0, job.target_fps / info.fps)) + 1
        else:
            estimate = -(-info.estimated_frames // job.stride)
    IngestJob.objects.filter(pk=job.pk).update(frames_total=min(estimate or 0, 2**31 - 1) or None)
    sequence = _sequence_for(job, Sequence.VIDEO, source_sha)
    Sequence.objects.filter(pk=sequence.pk).update(codec=info.codec, fps=info.fps, width=info.width,
                                                   height=info.height)
    writer = _FrameWriter(job, sequence)
    warning = ""
    stats = {"decoded": 0}
    try:
        with _opened(path) as source:
            for decoded in iter_video_frames(source, stride=job.stride, target_fps=job.target_fps, stats=stats):
                writer.add(decoded)
    except DecodeStopped as exc:
        if writer.count == 0:
            raise IngestError(f"no frame could be decoded: {exc}") from None
        warning = f"{exc}. The {writer.count} frames decoded before it were kept."
    if writer.count == 0:
        raise IngestError("the video has no decodable frames")
    if not warning and info.claimed_frames and stats["decoded"] < info.claimed_frames * TRUNCATION_SLACK:
        warning = (f"the file says it has {info.claimed_frames} frames but only {stats['decoded']} could be decoded: "
                   f"it is probably truncated. The {writer.count} frames decoded were kept.")
    writer.flush()
    if sidecar is not None:
        found = sidecar
    else:
        with _opened(path) as source:
            found = attach.from_video(source)
    writer.note = attach.summary(writer.count, found, attach.store(sequence, found, writer.times, info.fps))
    return sequence, writer, warning


def _ingest_images(job: IngestJob, path: Path, source_sha: str, kind: str) -> tuple[Sequence, _FrameWriter, str]:
    if job.target_fps:
        raise IngestError("target_fps applies to videos; use a stride for image sets")
    max_pixels = settings.AERIE_MAX_IMAGE_PIXELS
    sequence = None
    if kind == "image":
        with crypto.open_local(path) as fh:
            check_image_header(fh, job.original_filename, max_pixels)
            fh.seek(0)
            sixteen = is_16bit(fh)
        IngestJob.objects.filter(pk=job.pk).update(frames_total=1)
        sequence = _sequence_for(job, Sequence.IMAGES, source_sha)
        writer = _FrameWriter(job, sequence)
        if sixteen:
            with zipfile.ZipFile(io.BytesIO(_zip_of(path, job.original_filename))) as archive:
                _thermal_frames(archive, archive.infolist(), sequence, writer)
            return sequence, writer, ""
        with crypto.open_local(path) as fh:
            img, data, ext = load_image(fh.read(), job.original_filename)
        writer.add(DecodedFrame(0, None, img, job.original_filename), data, ext)
        return sequence, writer, ""
    with _opened(path) as source:
        members = zip_image_members(
            source, max_pixels=max_pixels, max_members=settings.AERIE_MAX_ZIP_MEMBERS,
            max_total_bytes=settings.AERIE_MAX_UPLOAD_BYTES * 4,
        )[:: job.stride]
    IngestJob.objects.filter(pk=job.pk).update(frames_total=len(members))
    sequence = _sequence_for(job, Sequence.IMAGES, source_sha)
    writer = _FrameWriter(job, sequence)
    with _opened(path) as source, zipfile.ZipFile(source) as archive:
        with archive.open(members[0]) as fh:
            sixteen = is_16bit(io.BytesIO(fh.read(64 * 1024)))
        if sixteen:
            _thermal_frames(archive, members, sequence, writer)
            return sequence, writer, ""
        for order, info in enumerate(members):
            img, data, ext = load_image(archive.read(info), info.filename)
            writer.add(DecodedFrame(order, None, img, info.filename[:255]), data, ext)
    return sequence, writer, ""


def _zip_of(path: Path, name: str) -> bytes:
    """One 16-bit image as a one-member zip, so that it takes the same path as a sequence."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive, crypto.open_local(path) as fh:
        archive.writestr(Path(name).name or "frame.png", fh.read())
    return buf.getvalue()


def _read_16bit(data: bytes, name: str):
    try:
        return thermal.read_16bit(data)
    except ValueError as exc:
        raise IngestError(f"{name}: {exc} (a zip of 16-bit frames must hold only 16-bit frames)") from None


def _thermal_frames(archive: zipfile.ZipFile, members: list, sequence: Sequence, writer: _FrameWriter) -> None:
    """16-bit single-channel frames (thermal, radiometric): each kept losslessly (`raw16_name`, the
    sha256 over its values) with an 8-bit display image (`image_name`) made with the sequence's
    gain: each frame's 1st..99th percentile window, smoothed over its neighbours so that playing
    the sequence does not flicker (labeling.footage.thermal). Two passes over the zip: the
    windows first, then the frames."""
    windows = [thermal.percentile_window(_read_16bit(archive.read(info), info.filename)) for info in members]
    smoothed = thermal.smoothed_windows(windows)
    Sequence.objects.filter(pk=sequence.pk).update(bits=16)
    for order, info in enumerate(members):
        values = _read_16bit(archive.read(info), info.filename)
        grey = thermal.to_8bit(values, *smoothed[order])
        image = Image.fromarray(grey, mode="L")
        writer.add(DecodedFrame(order, None, image, info.filename[:255]), ext="png",
                   store=functools.partial(store_thermal_frame, values, image))


def store_thermal_frame(values, display) -> tuple[str, dict]:
    """store_frame for a 16-bit frame: the raw values as a 16-bit PNG, the display image (8-bit
    grey PNG, lossless so that palettes do not amplify JPEG noise) and its thumbnail and preview."""
    sha = thermal.raw_sha256(values)
    blobstore.put(blob_path("raw16", sha, "png"), thermal.encode_png16(values))
    buf = io.BytesIO()
    display.save(buf, "PNG")
    blobstore.put(blob_path("frames", sha, "png"), buf.getvalue())
    base = small_copy(display.convert("RGB"), max(settings.AERIE_THUMBNAIL_SIZE, settings.AERIE_PREVIEW_SIZE))
    blobstore.put(blob_path("thumbs", sha, "jpg"), thumbnail(base, settings.AERIE_THUMBNAIL_SIZE))
    blobstore.put(blob_path("blurred", sha, "jpg"),
                  blurred_preview(base, settings.AERIE_PREVIEW_SIZE, settings.AERIE_PREVIEW_BLUR_RADIUS))
    return sha, conditions.describe(values, thermal=True)


def _uploaded_sidecar(path: Path) -> attach.Found | None:
    sidecar = staging.sidecar_path(path)
    if not sidecar.exists():
        return None
    with crypto.open_local(sidecar) as fh:
        return attach.from_srt(fh.read(), "the SRT sidecar")


def _video_from_zip(job: IngestJob, path: Path) -> tuple[Path, attach.Found | None] | None:
    """A zip holding one video (and its DJI SRT sidecar) is ingested as that video: the video is
    copied out next to the upload (within the upload size limit; encrypted like the upload), the
    sidecar parsed."""
    with _opened(path) as source:
        members = zip_video_member(source)
    if members is None:
        return None
    video_info, srt_info = members
    if video_info.file_size > settings.AERIE_MAX_UPLOAD_BYTES * 4:
        raise IngestError(f"{video_info.filename}: unpacks to more than {settings.AERIE_MAX_UPLOAD_BYTES * 4:,} bytes")
    if srt_info is not None and srt_info.file_size > MAX_SIDECAR_BYTES:
        raise IngestError(f"{srt_info.filename}: larger than {MAX_SIDECAR_BYTES:,} bytes")
    out = path.with_name(path.name + ".video")
    with _opened(path) as source, zipfile.ZipFile(source) as archive:
        try:
            with archive.open(video_info) as src, crypto.LocalWriter(out) as dst:
                for chunk in iter(lambda: src.read(1024 * 1024), b""):
                    dst.write(chunk)
            sidecar = attach.from_srt(archive.read(srt_info), srt_info.filename) if srt_info else None
        except (zipfile.BadZipFile, OSError) as exc:
            out.unlink(missing_ok=True)
            raise IngestError(f"corrupt zip entry: {exc}") from None
    return out, sidecar


def _fail(job: IngestJob, message: str) -> None:
    """End a job with nothing kept: its frames (never visible: the sequence was not ready) go,
    the sequence stays as a failed record with no frames."""
    with transaction.atomic():
        if job.sequence_id:
            Frame.objects.filter(sequence_id=job.sequence_id).delete()
            Sequence.objects.filter(pk=job.sequence_id).update(status=Sequence.FAILED, frame_count=0)
        IngestJob.objects.filter(pk=job.pk).update(
            status=IngestJob.FAILED, message=message, finished_at=timezone.now(), frames_done=0
        )
        audit.record(job.created_by, "ingest.failed", job, {"message": message})


def run_job(job_id: int) -> IngestJob:
    """Run (or resume) one ingest job. Idempotent: a finished job is left as it is."""
    job = _claim(job_id)
    if job is None:
        return IngestJob.objects.get(pk=job_id)
    previous_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = settings.AERIE_MAX_IMAGE_PIXELS
    try:
        with staging.fetched(job.upload_name) as path:
            if path is None:
                raise IngestError("the uploaded file is gone; upload it again")
            sequence, writer, warning = _ingest_file(job, path)
    except IngestError as exc:
        _fail(job, str(exc))
        staging.discard(job.upload_name)
        return IngestJob.objects.get(pk=job_id)
    finally:
        Image.MAX_IMAGE_PIXELS = previous_limit
    width, height = writer.size
    with transaction.atomic():
        Sequence.objects.filter(pk=sequence.pk).update(
            status=Sequence.PARTIAL if warning else Sequence.READY, frame_count=writer.count,
            width=width, height=height,
        )
        status = IngestJob.PARTIAL if warning else IngestJob.DONE
        IngestJob.objects.filter(pk=job.pk).update(
            status=status, frames_done=writer.count, frames_total=writer.count, finished_at=timezone.now(),
            message="; ".join(filter(None, [warning or f"{writer.count} frames ingested", writer.note])),
        )
        audit.record(job.created_by, f"ingest.{status}", job,
                     {"sequence": sequence.pk, "frames": writer.count, "source_sha256": sequence.source_sha256})
        if Dataset.objects.filter(pk=job.dataset_id, redact_at_ingest=True).exists():
            jobs.enqueue("start_redaction", job.dataset_id, "ingest")  # faces found and hidden before anyone looks
    flags.on_ingested(sequence, job.created_by)  # graphic upload or sensitive dataset: all frames sensitive
    queue.sync_dataset(job.dataset_id)  # the new frames join the queues of the dataset's projects
    staging.discard(job.upload_name)
    return IngestJob.objects.get(pk=job_id)


def _ingest_file(job: IngestJob, path: Path) -> tuple[Sequence, _FrameWriter, str]:
    """Decode and store the frames of the upload at `path` (a file on this machine)."""
    source_sha = _sha256_file(path)
    with _opened(path) as source:
        kind = sniff_kind(source)
    carried = _video_from_zip(job, path) if kind == "zip" else None
    if carried is not None:
        video, sidecar = carried
        try:
            sequence, writer, warning = _ingest_video(job, video, source_sha, sidecar)
        finally:
            video.unlink(missing_ok=True)
    elif kind == "video":
        sequence, writer, warning = _ingest_video(job, path, source_sha, _uploaded_sidecar(path))
    else:
        sequence, writer, warning = _ingest_images(job, path, source_sha, kind)
    writer.flush()
    return sequence, writer, warning
