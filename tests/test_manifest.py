"""Dataset versions: signed manifests, and verify_manifest catching every kind of tampering."""
import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from labeling.footage import ingest, dataset_versions
from labeling.access import keyring, signing
from labeling.models import DatasetVersion, Frame
from tests import media


@pytest.fixture
def version(project, users):
    archive = media.zip_bytes({f"{i}.png": media.png_bytes(color=(i * 40, 0, 0)) for i in range(5)})
    ingest.run_job(ingest.create_job(project.dataset, media.upload(archive, "five.zip"), sequence_name="five").pk)
    ingest.run_job(ingest.create_job(project.dataset, media.upload(media.bikes_path()), stride=50).pk)
    return dataset_versions.create_version(project.dataset, user=users["trainer"], note="first cut")


def verify(version):
    return dataset_versions.verify_version(DatasetVersion.objects.get(pk=version.pk))


def test_manifest_lists_every_frame_and_is_signed(version):
    with default_storage.open(version.manifest_name, "rb") as fh:
        raw = fh.read()
    doc = json.loads(raw)
    assert doc["format"] == "aerie-dataset-manifest/1" and doc["version"] == 1
    assert [s["name"] for s in doc["sequences"]] == ["bikes", "five"]
    assert doc["sequences"][0]["source_sha256"] == "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5"
    assert len(doc["frames"]) == version.frame_count == 5 + 5
    first = doc["frames"][0]
    assert set(first) == {"sequence", "index", "source_index", "timestamp", "sha256", "file", "width", "height"}
    assert signing.verify(dataset_versions.SIGNED_PREFIX + version.manifest_sha256.encode(), version.signature)
    report = verify(version)
    assert report.ok, report.lines()
    assert report.frames_checked == 10


def test_the_same_frames_give_the_same_manifest_bytes(version, project):
    again = dataset_versions.create_version(project.dataset)
    with default_storage.open(version.manifest_name, "rb") as a, default_storage.open(again.manifest_name, "rb") as b:
        first, second = json.loads(a.read()), json.loads(b.read())
    assert first["frames"] == second["frames"]
    assert again.number == 2


def test_a_changed_frame_file_is_detected(version):
    frame = Frame.objects.filter(sequence__name="five").order_by("index")[2]
    path = default_storage.path(frame.image_name)
    with open(path, "r+b") as fh:
        fh.seek(40)
        fh.write(b"\x00\x01\x02")
    report = verify(version)
    assert not report.ok
    assert report.changed == [f"five#2 ({frame.image_name})"]


def test_a_missing_frame_file_is_detected(version):
    frame = Frame.objects.filter(sequence__name="bikes").order_by("index")[0]
    default_storage.delete(frame.image_name)
    report = verify(version)
    assert report.missing == [f"bikes#0 ({frame.image_name})"]


def test_an_extra_frame_is_detected(version):
    seq_frame = Frame.objects.filter(sequence__name="five").order_by("index").last()
    Frame.objects.create(sequence=seq_frame.sequence, index=99, source_index=99, sha256=seq_frame.sha256,
                         width=64, height=48)
    report = verify(version)
    assert report.extra == ["five#99 (in the database, not in the manifest)"]


def test_a_tampered_manifest_fails_its_signature(version):
    with default_storage.open(version.manifest_name, "rb") as fh:
        doc = json.loads(fh.read())
    doc["frames"] = doc["frames"][1:]
    default_storage.delete(version.manifest_name)
    default_storage.save(version.manifest_name, ContentFile(json.dumps(doc).encode()))
    report = verify(version)
    assert not report.signature_ok and not report.manifest_ok and not report.ok


def test_another_key_does_not_verify(version):
    """A signature by a key outside the keyring fails, whether it claims the version's key id or
    names its own (the keyring, not the key file, says which keys count: tests/test_keyring.py)."""
    other = Ed25519PrivateKey.generate()
    version = DatasetVersion.objects.get(pk=version.pk)
    version.signature = base64.b64encode(other.sign(dataset_versions.SIGNED_PREFIX
                                                    + version.manifest_sha256.encode())).decode()
    report = dataset_versions.verify_version(version)
    assert not report.signature_ok and "does not verify under this key" in report.signed_by
    version.key_id = keyring.key_id_of(other.public_key())
    report = dataset_versions.verify_version(version)
    assert not report.signature_ok and f"key {version.key_id} (not in the keyring)" in report.signed_by


def test_verify_manifest_command(version, capsys):
    call_command("verify_manifest", str(version.pk))
    assert "OK (10 frames checked)" in capsys.readouterr().out
    frame = Frame.objects.filter(sequence__name="five").first()
    default_storage.delete(frame.image_name)
    with pytest.raises(CommandError, match="1 dataset version"):
        call_command("verify_manifest")
    assert "missing: five#" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no dataset version with id 9999"):
        call_command("verify_manifest", "9999")


def test_dataset_versions_are_immutable_in_the_database(version):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("UPDATE labeling_datasetversion SET frame_count = 1 WHERE id = %s", [version.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("DELETE FROM labeling_datasetversion_sequences WHERE datasetversion_id = %s", [version.pk])


def test_no_snapshot_of_an_empty_dataset(project):
    with pytest.raises(dataset_versions.ManifestError, match="no ingested sequences"):
        dataset_versions.create_version(project.dataset)
    assert DatasetVersion.objects.count() == 0
