"""Derived dataset versions: a signed snapshot of the derived renditions of a raw dataset
version's frames, linked to it. Each frame's entry lists the derived file's sha256 and its
lineage (the raw sha256, the method, every region and what found it), with the frame's metadata
reduced to the dataset's `metadata_level`. Written and verified like the raw manifests
(labeling.footage.dataset_versions): streamed, one frame per line, and what is signed is a
domain-separated statement of the manifest's sha256 (another prefix than the raw one, so neither
signature can pass for the other)."""
from __future__ import annotations

import hashlib
import tempfile

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max

from labeling import audit
from labeling.access import signing
from labeling.footage.dataset_versions import ManifestError, VerifyReport, check_manifest
from labeling.models import Dataset, DatasetVersion, DerivedDatasetVersion, DerivedFrame, Frame
from labeling.models.footage import blob_path
from labeling.redaction.metadata import reduce_metadata, sequence_name

SIGNED_PREFIX = b"aerie-derived-manifest-v1:"
FORMAT = "aerie-derived-manifest/1"


def _statement(sha256_hex: str) -> bytes:
    return SIGNED_PREFIX + sha256_hex.encode()


def _frames(raw: DatasetVersion):
    return (Frame.objects.filter(sequence__in=raw.sequences.all()).order_by("sequence__name", "index")
            .values("pk", "sequence_id", "index", "source_index", "source_name", "timestamp", "sha256")
            .iterator(chunk_size=2000))


def _current(frame_ids: list[int]) -> dict[int, DerivedFrame]:
    return {d.frame_id: d for d in DerivedFrame.objects.filter(frame_id__in=frame_ids, current=True)}


def _names(raw: DatasetVersion, level: str) -> dict[int, str]:
    """Each sequence's name in the derived manifest (neutral below the full metadata level)."""
    return {s.pk: sequence_name(s, level) for s in raw.sequences.all()}


def _windows(raw: DatasetVersion, size: int = 2000):
    window = []
    for frame in _frames(raw):
        window.append(frame)
        if len(window) >= size:
            yield window
            window = []
    if window:
        yield window


@transaction.atomic
def create_derived_version(raw: DatasetVersion, *, user=None, note: str = "") -> DerivedDatasetVersion:
    """Snapshot the current derived rendition of every frame of `raw`. Refused (ManifestError)
    while a frame has none or a rendition is of other raw bytes than the version's (run the
    redaction job first)."""
    dataset = Dataset.objects.select_for_update(no_key=True).get(pk=raw.dataset_id)
    level, method = dataset.metadata_level, dataset.redaction_method
    number = (DerivedDatasetVersion.objects.filter(dataset=dataset).aggregate(n=Max("number"))["n"] or 0) + 1
    signer = signing.signer()
    sequences = list(raw.sequences.order_by("name"))
    header = {
        "format": FORMAT, "dataset": dataset.name, "version": number, "key_id": signer.key_id,
        "raw_version": raw.number, "raw_manifest_sha256": raw.manifest_sha256, "method": method,
        "metadata_level": level,
        "sequences": [reduce_metadata({"name": sequence_name(s, level), "kind": s.kind, "source_name": s.source_name,
                                       "frame_count": s.frame_count, "fps": s.fps, "stride": s.stride}, level)
                      for s in sequences],
    }
    names = _names(raw, level)
    digest, count, missing = hashlib.sha256(), 0, 0
    with tempfile.TemporaryFile() as tmp:
        def write(chunk: bytes) -> None:
            digest.update(chunk)
            tmp.write(chunk)

        write(signing.canonical_json(header)[:-1] + b',"frames":[\n')
        for window in _windows(raw):
            current = _current([f["pk"] for f in window])
            for frame in window:
                rendition = current.get(frame["pk"])
                if rendition is None or rendition.raw_sha256 != frame["sha256"]:
                    missing += 1
                    continue
                entry = reduce_metadata({
                    "sequence": names[frame["sequence_id"]], "index": frame["index"],
                    "source_index": frame["source_index"], "source_name": frame["source_name"],
                    "timestamp": frame["timestamp"], "sha256": rendition.sha256,
                    "file": blob_path("derived", rendition.sha256, "jpg"), "raw_sha256": rendition.raw_sha256,
                    "method": rendition.method, "regions": [_public(r, level) for r in rendition.regions]}, level)
                write((b",\n" if count else b"") + signing.canonical_json(entry))
                count += 1
        if missing:
            raise ManifestError(f"{missing} frame(s) of {raw} have no derived rendition yet: run redaction first")
        write(b"\n]}\n")
        sha = digest.hexdigest()
        tmp.seek(0)
        name = default_storage.save(f"manifests/dataset-{dataset.pk}/derived-v{number}-{sha[:12]}.json", File(tmp))
    version = DerivedDatasetVersion.objects.create(
        dataset=dataset, raw_version=raw, number=number, frame_count=count, method=method, metadata_level=level,
        manifest_name=name, manifest_sha256=sha, signature=signer.sign(_statement(sha)), key_id=signer.key_id,
        created_by=user, note=note)
    audit.record(user, "dataset.derived_version", version, {
        "frames": count, "manifest_sha256": sha, "raw_version": raw.pk, "method": method, "metadata_level": level},
        dataset=dataset.pk)
    return version


def _public(region: dict, level: str) -> dict:
    """A region's lineage as the manifest says it: who drew it only at the full metadata level."""
    if level == "full":
        return region
    return {k: v for k, v in region.items() if k not in ("user",)}


def verify_derived(version: DerivedDatasetVersion) -> VerifyReport:
    """Check a derived version: the signature, the manifest file, every derived file's bytes, that
    each listed rendition is in the database for the frame (with the raw sha256 the manifest
    says), and frames of the raw version that the manifest leaves out."""
    report = VerifyReport(str(version))
    listed = check_manifest(report, version.manifest_name, version.manifest_sha256, version.signature, _statement,
                            key_id=version.key_id, signed_at=version.created_at)
    if listed is None:
        return report
    in_db, names = {}, _names(version.raw_version, version.metadata_level)
    for window in _windows(version.raw_version):
        known = {}
        for d in DerivedFrame.objects.filter(frame_id__in=[f["pk"] for f in window]).values(
                "frame_id", "sha256", "raw_sha256"):
            known.setdefault(d["frame_id"], set()).add((d["sha256"], d["raw_sha256"]))
        for f in window:
            in_db[(names[f["sequence_id"]], f["index"])] = (f["sha256"], known.get(f["pk"], set()))
    for key in sorted(set(in_db) - set(listed)):
        report.extra.append(f"{key[0]}#{key[1]} (in the raw version, not in the derived manifest)")
    for key in sorted(set(listed) - set(in_db)):
        report.missing.append(f"{key[0]}#{key[1]} (in the manifest, not in the raw version)")
    for key in sorted(set(listed) & set(in_db)):
        raw_sha, renditions = in_db[key]
        if listed[key]["raw_sha256"] != raw_sha:
            report.changed.append(f"{key[0]}#{key[1]} (the manifest's raw sha256 is not the frame's)")
        elif (listed[key]["sha256"], listed[key]["raw_sha256"]) not in renditions:
            report.changed.append(f"{key[0]}#{key[1]} (no such derived rendition of the frame in the database)")
    return report
