"""Encryption at rest: raw frames and uploads stored as AES-256-GCM envelopes, read back
decrypted as they stream, wrong keys and damaged ciphertext refused clearly, the key-encryption
key rotated (interrupted, then resumed) without re-encrypting the frames."""
from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.core import checks
from django.core.management import call_command
from django.utils import timezone
from PIL import Image

from labeling.access import raw
from labeling.footage import blobstore, crypto, ingest, rekey, staging
from labeling.models import AuditEvent, IngestJob
from labeling.models.footage import blob_path
from tests import media
from tests.conftest import api_client

pytestmark = pytest.mark.django_db

IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG")


def make_key(tmp_path, name="kek") -> tuple[Path, bytes]:
    path = tmp_path / "keys" / name
    return path, crypto.generate_key_file(path)


@pytest.fixture
def data_key(settings, tmp_path):
    path, kid = make_key(tmp_path)
    settings.AERIE_DATA_KEY_FILE, settings.AERIE_DATA_KEY, settings.AERIE_DATA_OLD_KEY_FILES = path, "", []
    settings.AERIE_ENCRYPT_DERIVED = False
    return kid


def stored(media_root: Path, name: str) -> bytes:
    return (media_root / name).read_bytes()


def plain(name: str) -> bytes:
    with blobstore.open_blob(name) as fh:
        return fh.read()


def noise_png(width, height, seed) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def test_a_video_ingested_with_a_key_is_stored_encrypted_and_served_decrypted(
        data_key, project, users, isolated_media, tmp_path):
    video = media.synthetic_video(tmp_path / "clip.ts", frames=12)
    source = video.read_bytes()
    job = ingest.create_job(project.dataset, media.upload(source, "clip.ts"), stride=4, user=users["admin"],
                            enqueue=False)
    kept = (staging.upload_dir() / job.upload_name).read_bytes()
    assert crypto.is_encrypted(kept) and source[:4096] not in kept  # the upload waits encrypted
    job = ingest.run_job(job.pk)
    assert job.status == IngestJob.DONE, job.message
    assert job.sequence.source_sha256 == hashlib.sha256(source).hexdigest()  # of the plaintext
    frames = list(job.sequence.frames.order_by("index"))
    assert len(frames) == 3
    for frame in frames:
        on_disk = stored(isolated_media, frame.image_name)
        data = plain(frame.image_name)
        assert crypto.is_encrypted(on_disk) and data.startswith(b"\xff\xd8\xff")
        assert data[200:264] not in on_disk  # no stretch of the JPEG is stored as it is
        assert hashlib.sha256(data).hexdigest() == frame.sha256  # the content address is the plaintext's
        assert Image.open(io.BytesIO(data)).size == (96, 64)
        # derived renditions stay in the clear by default (AERIE_ENCRYPT_DERIVED off)
        assert stored(isolated_media, frame.thumbnail_name).startswith(b"\xff\xd8\xff")
        assert stored(isolated_media, frame.preview_name).startswith(b"\xff\xd8\xff")
    # nothing in plaintext was left on disk on the way: only derived renditions hold image bytes
    for path in tmp_path.rglob("*"):
        if not path.is_file() or path == video or "keys" in path.parts:
            continue
        if path.is_relative_to(isolated_media) and path.relative_to(isolated_media).parts[0] in ("thumbs", "blurred"):
            continue
        assert not path.read_bytes()[:4].startswith(IMAGE_MAGIC + (b"\x47",)), path  # no JPEG, PNG, MPEG-TS
    assert not any(staging.upload_dir().iterdir())  # the upload is gone after ingest

    # the normal page path: someone with raw access gets the original, decrypted
    admin = users["admin"]
    raw.grant(project.dataset, admin, admin, "checks encryption", timezone.now() + timedelta(days=1))
    response = api_client(admin).get(f"/frames/{frames[1].pk}/original")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body == plain(frames[1].image_name)
    assert int(response["Content-Length"]) == len(body)  # the plaintext's length, not the envelope's


def test_a_zip_of_images_with_a_key_and_derived_encryption(data_key, project, settings, isolated_media):
    settings.AERIE_ENCRYPT_DERIVED = True
    pngs = {f"f{i}.png": noise_png(80, 60, i) for i in range(3)}
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(media.zip_bytes(pngs), "set.zip"),
                                           enqueue=False).pk)
    assert job.status == IngestJob.DONE, job.message
    for frame, original in zip(job.sequence.frames.order_by("index"), pngs.values()):
        assert plain(frame.image_name) == original  # PNGs are kept byte for byte
        assert frame.sha256 == hashlib.sha256(original).hexdigest()
        for name in (frame.image_name, frame.thumbnail_name, frame.preview_name):
            assert crypto.is_encrypted(stored(isolated_media, name)), name
        assert original[100:164] not in stored(isolated_media, frame.image_name)


def test_a_video_in_a_zip_and_a_16bit_image_ingest_with_a_key(data_key, project, tmp_path, isolated_media):
    """The video is copied out of the zip encrypted (decoded through a decrypting reader); a
    16-bit frame keeps its raw values, encrypted."""
    from labeling.footage import thermal

    video = media.synthetic_video(tmp_path / "clip.ts", frames=6).read_bytes()
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(media.zip_bytes({"DJI_0001.ts": video}),
                                                                        "card.zip"), enqueue=False).pk)
    assert job.status == IngestJob.DONE and job.sequence.frame_count == 6, job.message
    first = job.sequence.frames.order_by("index").first()
    assert crypto.is_encrypted(stored(isolated_media, first.image_name))
    assert plain(first.image_name).startswith(b"\xff\xd8\xff")
    values = (np.arange(48 * 64, dtype=np.uint16).reshape(48, 64) * 13)
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(thermal.encode_png16(values), "t.png"),
                                           sequence_name="thermal", enqueue=False).pk)
    assert job.status == IngestJob.DONE, job.message
    frame = job.sequence.frames.get()
    assert crypto.is_encrypted(stored(isolated_media, frame.raw16_name))
    assert np.array_equal(thermal.read_16bit(plain(frame.raw16_name)), values)
    assert frame.sha256 == thermal.raw_sha256(values)
    assert not list(staging.upload_dir().iterdir())  # the upload and the copied-out video are gone


def test_a_large_upload_through_the_page_never_touches_disk_in_the_clear(
        data_key, project, users, settings, tmp_path, monkeypatch):
    """Above FILE_UPLOAD_MAX_MEMORY_SIZE Django would spool the request to a plaintext temp file;
    with a key the encrypting handler writes it to the upload folder encrypted instead."""
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "django-tmp")
    (tmp_path / "django-tmp").mkdir()
    archive = media.zip_bytes({"big.png": noise_png(200, 150, 7)})
    assert len(archive) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    seen = {}
    real = ingest.create_job

    def spy(dataset, upload, **kwargs):
        seen["kind"] = type(upload).__name__
        seen["spooled"] = [p.name for p in (tmp_path / "django-tmp").iterdir()]
        job = real(dataset, upload, **{**kwargs, "enqueue": False})
        seen["kept"] = (staging.upload_dir() / job.upload_name).read_bytes()
        return job

    monkeypatch.setattr(ingest, "create_job", spy)
    client = api_client(users["admin"])
    response = client.post(f"/datasets/{project.dataset_id}/upload/",
                           {"file": io.BytesIO(archive), "sequence_name": "big"}, format="multipart")
    assert response.status_code == 302
    assert seen["kind"] == "EncryptedUpload" and seen["spooled"] == []
    assert crypto.is_encrypted(seen["kept"]) and archive[200:264] not in seen["kept"]
    job = ingest.run_job(IngestJob.objects.get(sequence_name="big").pk)
    assert job.status == IngestJob.DONE, job.message
    assert [p for p in staging.upload_dir().iterdir()] == []  # nothing left: adopted, then removed


def put_frames(count: int, size=(64, 48)) -> dict[str, bytes]:
    frames = {}
    for i in range(count):
        data = noise_png(*size, seed=100 + i)
        name = blob_path("frames", hashlib.sha256(data).hexdigest(), "png")
        blobstore.put(name, data)
        frames[name] = data
    return frames


def test_a_wrong_key_is_a_clear_error_not_garbage(data_key, settings, tmp_path):
    name, data = next(iter(put_frames(1).items()))
    other, other_id = make_key(tmp_path, "other")
    settings.AERIE_DATA_KEY_FILE = other
    with pytest.raises(crypto.DataKeyError, match=f"data key {data_key.hex()}, which is not configured"):
        blobstore.open_blob(name)
    settings.AERIE_DATA_KEY_FILE = None
    with pytest.raises(crypto.DataKeyError, match="not configured"):
        blobstore.open_blob(name)
    # a key that claims the right id but is not the key (a tampered header or a forged key id)
    settings.AERIE_DATA_KEY_FILE = other
    path = Path(settings.MEDIA_ROOT) / name
    envelope = path.read_bytes()
    path.write_bytes(envelope[:9] + other_id + envelope[17:])
    with pytest.raises(crypto.DataKeyError, match="does not unwrap"):
        blobstore.open_blob(name)
    settings.AERIE_DATA_KEY_FILE, settings.AERIE_DATA_OLD_KEY_FILES = other, [tmp_path / "keys" / "kek"]
    path.write_bytes(envelope)
    assert plain(name) == data  # an old key still reads what it wrapped


@pytest.mark.parametrize("damage", ["flip", "truncate-byte", "truncate-segment", "swap-segments", "append"])
def test_damaged_ciphertext_is_an_integrity_error(data_key, settings, damage):
    data = noise_png(256, 200, seed=3)  # three 64 KiB segments
    name = blob_path("frames", hashlib.sha256(data).hexdigest(), "png")
    blobstore.put(name, data)
    path = Path(settings.MEDIA_ROOT) / name
    envelope = path.read_bytes()
    head, body = envelope[:crypto.HEADER_SIZE], envelope[crypto.HEADER_SIZE:]
    stride = crypto.SEGMENT + crypto.TAG
    assert len(body) > 2 * stride
    damaged = {
        "flip": head + body[:100] + bytes([body[100] ^ 1]) + body[101:],
        "truncate-byte": envelope[:-1],
        "truncate-segment": head + body[:2 * stride],  # cut exactly at a segment boundary
        "swap-segments": head + body[stride:2 * stride] + body[:stride] + body[2 * stride:],
        "append": envelope + b"\0" * 40,
    }[damage]
    path.write_bytes(damaged)
    with pytest.raises(crypto.BlobIntegrityError, match=name):
        plain(name)


def test_a_blob_moved_to_another_name_fails_authentication(data_key, settings):
    (a, _), (b, _) = put_frames(2).items()
    root = Path(settings.MEDIA_ROOT)
    (root / b).write_bytes((root / a).read_bytes())
    with pytest.raises(crypto.BlobIntegrityError):
        plain(b)


def test_plaintext_blobs_from_before_still_read_and_the_rotation_encrypts_them(settings, tmp_path):
    settings.AERIE_DATA_KEY_FILE = None
    old = put_frames(2)
    assert all(stored(Path(settings.MEDIA_ROOT), n) == d for n, d in old.items())
    settings.AERIE_DATA_KEY_FILE, kid = make_key(tmp_path)
    new = put_frames(1, size=(30, 20))
    assert all(plain(n) == d for n, d in {**old, **new}.items())  # mixed mode
    out = io.StringIO()
    call_command("rotate_data_key", "--encrypt-plaintext", stdout=out)
    assert "2 encrypted" in out.getvalue()
    for name, data in {**old, **new}.items():
        assert crypto.parse_header(stored(Path(settings.MEDIA_ROOT), name), name).kek_id == kid
        assert plain(name) == data


def test_rotation_interrupted_then_resumed_rewraps_without_reencrypting(data_key, settings, tmp_path, project):
    root = Path(settings.MEDIA_ROOT)
    old_file = settings.AERIE_DATA_KEY_FILE
    frames = put_frames(8)
    derived = blob_path("thumbs", "ab" * 32, "jpg")
    blobstore.put(derived, media.png_bytes(10, 10, fmt="JPEG"))  # in the clear: untouched
    pending = ingest.create_job(project.dataset, media.upload(media.png_bytes(), "one.png"), enqueue=False)
    before = {n: stored(root, n) for n in frames}
    new_file, new_id = make_key(tmp_path, "new")
    # the live procedure: every process gets the new key as current and the old one to read with
    settings.AERIE_DATA_KEY_FILE, settings.AERIE_DATA_OLD_KEY_FILES = new_file, [old_file]

    class Stop(Exception):
        pass

    def stop_after_three(progress, name):
        if progress.rewrapped == 3:
            raise Stop(name)

    with pytest.raises(Stop):
        rekey.rotate(new_id, on_blob=stop_after_three)
    on_key = {n: crypto.parse_header(stored(root, n), n).kek_id for n in frames}
    assert sorted(on_key.values()).count(new_id) == 3 and sorted(on_key.values()).count(data_key) == 5
    assert all(plain(n) == d for n, d in frames.items())  # half way, everything reads
    assert not AuditEvent.objects.filter(verb="data_key.rotation_finished").exists()

    out = io.StringIO()
    call_command("rotate_data_key", stdout=out)
    # the five frames left and the waiting upload; the thumbnail stays in the clear
    assert "10 blobs: 6 re-wrapped, 0 encrypted, 3 already on the key, 1 in the clear" in out.getvalue()
    assert f"the old key(s) {data_key.hex()} are no longer needed" in out.getvalue()
    for name, envelope in before.items():
        after = stored(root, name)
        assert crypto.parse_header(after, name).kek_id == new_id
        assert after[crypto.HEADER_SIZE:] == envelope[crypto.HEADER_SIZE:]  # the frames were not re-encrypted
    assert stored(root, derived).startswith(b"\xff\xd8\xff")
    upload = (staging.upload_dir() / pending.upload_name).read_bytes()
    assert crypto.parse_header(upload, "upload").kek_id == new_id  # a waiting upload moves too

    # the old key is retired: the new one alone reads everything, the old one alone nothing
    settings.AERIE_DATA_OLD_KEY_FILES = []
    assert all(plain(n) == d for n, d in frames.items())
    assert ingest.run_job(pending.pk).status == IngestJob.DONE
    settings.AERIE_DATA_KEY_FILE = old_file
    for name in frames:
        with pytest.raises(crypto.DataKeyError):
            blobstore.open_blob(name)
    events = list(AuditEvent.objects.filter(verb__startswith="data_key.").order_by("pk").values_list("verb", "data"))
    assert [v for v, _ in events] == ["data_key.rotation_started", "data_key.rotation_started",
                                      "data_key.rotation_finished"]
    assert events[0][1]["resumed"] is False and events[1][1]["resumed"] is True
    assert events[2][1]["retired"] == [data_key.hex()] and events[2][1]["rewrapped"] == 6


def test_rotation_to_a_new_key_file_and_key_generation(data_key, settings, tmp_path):
    frames = put_frames(3)
    new_path = tmp_path / "keys" / "made"
    out = io.StringIO()
    call_command("rotate_data_key", "--generate", str(new_path), stdout=out)
    assert oct(new_path.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(Exception, match="exists already"):
        call_command("rotate_data_key", "--generate", str(new_path))
    call_command("rotate_data_key", "--new-key-file", str(new_path), stdout=out)
    assert f"set AERIE_DATA_KEY_FILE={new_path}" in out.getvalue()
    settings.AERIE_DATA_KEY_FILE = new_path
    assert all(plain(n) == d for n, d in frames.items())


def test_rotation_with_a_blob_under_an_unknown_key_does_not_finish(data_key, settings, tmp_path):
    frames = put_frames(2)
    stray, _ = make_key(tmp_path, "stray")
    settings.AERIE_DATA_KEY_FILE = stray
    put_frames(1, size=(20, 20))  # wrapped with a key the rotation below does not have
    settings.AERIE_DATA_KEY_FILE = tmp_path / "keys" / "kek"
    with pytest.raises(Exception, match="1 blob"):
        call_command("rotate_data_key", stdout=io.StringIO())
    assert AuditEvent.objects.filter(verb="data_key.rotation_incomplete").exists()
    assert all(plain(n) == d for n, d in frames.items())


def test_start_up_check_warns_without_a_key_and_errors_on_a_bad_one(settings, tmp_path, caplog):
    settings.AERIE_DATA_KEY_FILE, settings.AERIE_DATA_KEY = None, ""
    found = {m.id for m in checks.run_checks()}
    assert "labeling.W101" in found
    from labeling.footage import checks as data_checks

    with caplog.at_level("WARNING"):
        data_checks.log_at_start()
    assert "stored unencrypted" in caplog.text
    settings.AERIE_DATA_KEY_FILE, _ = make_key(tmp_path)
    assert not {"labeling.W101", "labeling.E101"} & {m.id for m in checks.run_checks()}
    bad = tmp_path / "short"
    bad.write_text("not a key")
    settings.AERIE_DATA_KEY_FILE = bad
    errors = [m for m in checks.run_checks() if m.id == "labeling.E101"]
    assert errors and "32 random bytes" in errors[0].msg
    settings.AERIE_DATA_KEY_FILE = None
    settings.AERIE_DATA_KEY = crypto.base64.b64encode(b"k" * 32).decode()
    assert crypto.keyring().enabled and crypto.keyring().current_id == crypto.key_id(b"k" * 32)


@pytest.fixture
def s3_storage(settings):
    """A real S3-protocol server (moto standalone, in a thread) as the default storage."""
    import socket

    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}
    client = boto3.client("s3", endpoint_url=endpoint, **credentials)
    client.create_bucket(Bucket="aerie")
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": "aerie", "endpoint_url": endpoint, "region_name": "us-east-1", "access_key": "test",
        "secret_key": "test", "default_acl": None, "file_overwrite": False}}}
    try:
        yield client
    finally:  # moto keeps its buckets in this process: the next test starts on an empty one
        for obj in client.list_objects_v2(Bucket="aerie").get("Contents", []):
            client.delete_object(Bucket="aerie", Key=obj["Key"])
        server.stop()


def test_on_s3_the_envelope_is_the_object_and_the_rotation_rewraps_it(data_key, s3_storage, settings, tmp_path):
    frames = put_frames(3)
    for name, data in frames.items():
        body = s3_storage.get_object(Bucket="aerie", Key=name)["Body"].read()
        assert crypto.is_encrypted(body) and data[100:164] not in body
        assert plain(name) == data
    new_file, new_id = make_key(tmp_path, "new")
    settings.AERIE_DATA_KEY_FILE, settings.AERIE_DATA_OLD_KEY_FILES = new_file, [tmp_path / "keys" / "kek"]
    progress = rekey.rotate(new_id)
    assert (progress.rewrapped, progress.failed) == (3, [])
    settings.AERIE_DATA_OLD_KEY_FILES = []
    for name, data in frames.items():
        body = s3_storage.get_object(Bucket="aerie", Key=name)["Body"].read()
        assert crypto.parse_header(body, name).kek_id == new_id
        assert plain(name) == data


def test_on_s3_an_upload_waits_in_the_bucket_and_any_machine_ingests_it(data_key, s3_storage, settings, tmp_path,
                                                                         project, users):
    """With object storage the web server and the worker share no disk: the upload waits in the
    bucket (encrypted), the rotation re-wraps it there, and the ingest copies it to the worker's
    own scratch folder and removes both copies once done."""
    video = media.synthetic_video(tmp_path / "clip.ts", frames=8)
    sidecar = media.upload(b"1\n00:00:00,000 --> 00:00:00,033\n[latitude: 51.5] [longitude: -0.1] [rel_alt: 50.0]\n",
                           "clip.SRT")
    settings.AERIE_UPLOAD_DIR = tmp_path / "web-server"
    job = ingest.create_job(project.dataset, media.upload(video.read_bytes(), "clip.ts"), stride=4,
                            user=users["admin"], enqueue=False, sidecar=sidecar)
    waiting = {o["Key"] for o in s3_storage.list_objects_v2(Bucket="aerie", Prefix="uploads/").get("Contents", [])}
    assert waiting == {f"uploads/{job.upload_name}", f"uploads/{job.upload_name}.srt"}
    assert not list((tmp_path / "web-server").iterdir())  # nothing left on the web server's disk
    body = s3_storage.get_object(Bucket="aerie", Key=f"uploads/{job.upload_name}")["Body"].read()
    assert crypto.is_encrypted(body) and video.read_bytes()[:4096] not in body

    new_file, new_id = make_key(tmp_path, "new")
    settings.AERIE_DATA_KEY_FILE, settings.AERIE_DATA_OLD_KEY_FILES = new_file, [tmp_path / "keys" / "kek"]
    progress = rekey.rotate(new_id)
    assert progress.failed == [] and progress.rewrapped == 2  # the upload and its sidecar
    body = s3_storage.get_object(Bucket="aerie", Key=f"uploads/{job.upload_name}")["Body"].read()
    assert crypto.parse_header(body, job.upload_name).kek_id == new_id
    settings.AERIE_DATA_OLD_KEY_FILES = []

    settings.AERIE_UPLOAD_DIR = tmp_path / "worker"  # another machine
    job = ingest.run_job(job.pk)
    assert job.status == IngestJob.DONE, job.message
    assert job.sequence.frames.count() == 2
    assert s3_storage.list_objects_v2(Bucket="aerie", Prefix="uploads/").get("KeyCount") == 0
    assert not [p for p in (tmp_path / "worker").iterdir()]
