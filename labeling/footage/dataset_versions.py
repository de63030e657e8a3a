"""Dataset versions: an immutable snapshot of a dataset's ready sequences, with a manifest of
every frame (sha256, sequence, index, timestamp, source file hash) signed with Ed25519.

The manifest is written as a stream (one frame per line inside a JSON document), so a
million-frame dataset never sits in memory. What is signed is a domain-separated statement of
the manifest's sha256, so signing and verifying stream too."""
from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max

from labeling import audit
from labeling.access import signing
from labeling.custody import state
from labeling.footage import blobstore, crypto
from labeling.models import Dataset, DatasetVersion, Frame, Sequence

SIGNED_PREFIX = b"aerie-manifest-v1:"


class ManifestError(ValueError):
    pass


def _statement(sha256_hex: str) -> bytes:
    return SIGNED_PREFIX + sha256_hex.encode()


def _frame_entry(f: dict) -> dict:
    frame = Frame(sha256=f["sha256"], ext=f["ext"])
    entry = {
        "sequence": f["sequence__name"], "index": f["index"], "source_index": f["source_index"],
        "timestamp": f["timestamp"], "sha256": f["sha256"], "file": frame.image_name,
        "width": f["width"], "height": f["height"],
    }
    if f["sequence__bits"] == 16:  # the raw values, whose sha256 is the frame's
        entry.update(file=frame.raw16_name, bits=16)
    return entry


def _frames(sequence_ids):
    return (
        Frame.objects.filter(sequence_id__in=sequence_ids)
        .order_by("sequence__name", "index")
        .values("sequence__name", "sequence__bits", "index", "source_index", "timestamp", "sha256", "ext", "width",
                "height")
        .iterator(chunk_size=5000)
    )


@transaction.atomic
def create_version(dataset: Dataset, *, user=None, note: str = "") -> DatasetVersion:
    dataset = Dataset.objects.select_for_update(no_key=True).get(pk=dataset.pk)
    if dataset.sequences.filter(status__in=[Sequence.PENDING, Sequence.INGESTING]).exists():
        raise ManifestError("an ingest is still running in this dataset; snapshot it when it has finished")
    sequences = list(dataset.sequences.filter(status__in=[Sequence.READY, Sequence.PARTIAL]).order_by("name"))
    if not sequences:
        raise ManifestError("the dataset has no ingested sequences to snapshot")
    number = (dataset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    signer = signing.signer()
    header = {
        "format": "aerie-dataset-manifest/1",
        "dataset": dataset.name,
        "version": number,
        "key_id": signer.key_id,
        "sequences": [
            {"name": s.name, "kind": s.kind, "source_name": s.source_name, "source_sha256": s.source_sha256,
             "frame_count": s.frame_count, "fps": s.fps, "stride": s.stride, "target_fps": s.target_fps}
            for s in sequences
        ],
    }
    digest = hashlib.sha256()
    count = 0
    with tempfile.TemporaryFile() as tmp:
        def write(chunk: bytes) -> None:
            digest.update(chunk)
            tmp.write(chunk)

        write(signing.canonical_json(header)[:-1] + b',"frames":[\n')
        for i, frame in enumerate(_frames([s.pk for s in sequences])):
            write((b",\n" if i else b"") + signing.canonical_json(_frame_entry(frame)))
            count += 1
        write(b"\n]}\n")
        sha = digest.hexdigest()
        tmp.seek(0)
        name = default_storage.save(f"manifests/dataset-{dataset.pk}/v{number}-{sha[:12]}.json", File(tmp))
    version = DatasetVersion.objects.create(
        dataset=dataset, number=number, frame_count=count, manifest_name=name, manifest_sha256=sha,
        signature=signer.sign(_statement(sha)), key_id=signer.key_id, created_by=user, note=note,
    )
    version.sequences.set(sequences)
    audit.record(user, "dataset.version", version, {"frames": count, "manifest_sha256": sha})
    return version


@dataclass
class VerifyReport:
    version: str
    signature_ok: bool = False
    manifest_ok: bool = False
    frames_checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # missing with a tombstone: deleted under retention
    extra: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    signed_by: str = ""  # which key signed and its state (signing.Verdict.describe)

    @property
    def ok(self) -> bool:
        return self.signature_ok and self.manifest_ok and not (self.changed or self.missing or self.extra
                                                               or self.problems)

    def lines(self) -> list[str]:
        gone = f", {len(self.deleted)} deleted under retention" if self.deleted else ""
        out = [f"{self.version}: {'OK' if self.ok else 'FAILED'} ({self.frames_checked} frames checked{gone})"]
        if self.signed_by:
            out.append(f"  {self.signed_by}")
        if not self.signature_ok and not self.signed_by:
            out.append("  signature: INVALID (manifest or signature altered, or signed by another key)")
        if not self.manifest_ok:
            out.append("  manifest file: sha256 does not match the recorded one")
        out += [f"  problem: {p}" for p in self.problems]
        out += [f"  changed: {c}" for c in self.changed]
        out += [f"  missing: {m}" for m in self.missing]
        out += [f"  deleted: {d}" for d in self.deleted]
        out += [f"  extra: {e}" for e in self.extra]
        return out


def _hash_blob(name: str) -> str | None:
    """sha256 of a blob's content (decrypted when encrypted at rest); a blob that cannot be
    read hashes to a reason, which cannot match."""
    if not blobstore.exists(name):
        return None
    digest = hashlib.sha256()
    try:
        with blobstore.open_blob(name) as fh:
            for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                digest.update(chunk)
    except (crypto.BlobIntegrityError, crypto.DataKeyError) as exc:
        return f"unreadable: {exc}"
    return digest.hexdigest()


def _hash_values(name: str) -> str | None:
    """sha256 of a 16-bit frame file's raw values (labeling.footage.thermal.raw_sha256); a file
    that is not a 16-bit image hashes to what it is, which cannot match."""
    from labeling.footage import thermal

    if not blobstore.exists(name):
        return None
    try:
        with blobstore.open_blob(name) as fh:
            data = fh.read()
    except (crypto.BlobIntegrityError, crypto.DataKeyError) as exc:
        return f"unreadable: {exc}"
    try:
        return thermal.raw_sha256(thermal.read_16bit(data))
    except ValueError:
        return hashlib.sha256(data).hexdigest()


def _manifest_frames(name: str):
    """Stream the frame entries of a manifest written by create_version: one per line."""
    with default_storage.open(name, "rb") as fh:
        for number, line in enumerate(fh):
            line = line.strip()
            if number == 0 or line in (b"", b"]}"):
                continue
            yield json.loads(line.rstrip(b","))


def check_manifest(report: VerifyReport, manifest_name: str, manifest_sha256: str, signature: str,
                   statement, *, key_id: str | None = None, signed_at=None) -> dict | None:
    """The part of verifying a signed manifest that raw and derived versions share: the manifest
    file is there, its sha256 is the recorded one, the signature over `statement(sha)` holds, and
    every file it lists has the listed bytes. The signature is checked against the key it names
    (`key_id`, the keyring's first key when empty) as of `signed_at`. Returns its entries by (sequence, index), or None
    when the manifest is missing or not in the aerie format (the report says which)."""
    if not default_storage.exists(manifest_name):
        report.problems.append(f"manifest file {manifest_name} is missing")
        return None
    sha = _hash_blob(manifest_name)
    report.manifest_ok = sha == manifest_sha256
    verdict = signing.check(statement(sha), signature, key_id=key_id or None, signed_at=signed_at)
    report.signature_ok, report.signed_by = verdict.ok, verdict.describe()
    listed, absent = {}, {}
    try:
        for entry in _manifest_frames(manifest_name):
            label = f"{entry['sequence']}#{entry['index']} ({entry['file']})"
            listed[(entry["sequence"], entry["index"])] = entry
            actual = _hash_values(entry["file"]) if entry.get("bits") == 16 else _hash_blob(entry["file"])
            report.frames_checked += 1
            if actual is None:
                absent[label] = entry["file"]
            elif actual != entry["sha256"]:
                report.changed.append(label)
    except (ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"manifest is not in the aerie format: {exc}")
        return None
    _missing_or_deleted(report, absent)
    return listed


def _missing_or_deleted(report: VerifyReport, absent: dict[str, str]) -> None:
    """A listed file that is not there is `deleted` when a retention run left a tombstone for
    it (what, when, under which policy), else `missing`."""
    stones = {}
    names = list(dict.fromkeys(absent.values()))
    for i in range(0, len(names), 5000):
        stones.update(state.tombstones(names[i:i + 5000]))
    for label, name in absent.items():
        stone = stones.get(name)
        if stone is None:
            report.missing.append(label)
        else:
            report.deleted.append(f"{label}: {stone.describe()}")


def verify_version(version: DatasetVersion) -> VerifyReport:
    """Check a dataset version against its signed manifest: the signature, the manifest file,
    every frame file's bytes, and frames that are in the database but not in the manifest."""
    report = VerifyReport(str(version))
    listed = check_manifest(report, version.manifest_name, version.manifest_sha256, version.signature, _statement,
                            key_id=version.key_id, signed_at=version.created_at)
    if listed is None:
        return report
    in_db = {}
    for f in _frames(version.sequences.values_list("pk", flat=True)):
        in_db[(f["sequence__name"], f["index"])] = f
    for key in sorted(set(in_db) - set(listed)):
        report.extra.append(f"{key[0]}#{key[1]} (in the database, not in the manifest)")
    for key in sorted(set(listed) - set(in_db)):
        report.missing.append(f"{key[0]}#{key[1]} (in the manifest, not in the database)")
    for key in sorted(set(listed) & set(in_db)):
        if in_db[key]["sha256"] != listed[key]["sha256"]:
            report.changed.append(f"{key[0]}#{key[1]} (the database points to another file than the manifest)")
    return report
