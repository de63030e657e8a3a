"""The export archive: a zip written entry by entry (never a whole file in memory), with the same
bytes for the same content (fixed entry times and modes, entries in the order they are written),
a manifest listing the sha256 and size of every file, and an Ed25519 signature over it.

Layout of what is signed: `manifest.json` holds the hashes; `manifest.sig` holds the base64
signature of `aerie-export-manifest-v1:` + the sha256 of `manifest.json`'s bytes. Checking an
archive needs only the zip and the public key (`verify_archive`)."""
from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field

from labeling.access import signing

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SIGNED_PREFIX = b"aerie-export-manifest-v1:"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip's epoch: no clock in the data


def statement(manifest_sha256: str) -> bytes:
    return SIGNED_PREFIX + manifest_sha256.encode()


class _Entry:
    """A file being written into the zip: hashes and counts what goes through, in pieces of about
    BUFFER bytes (one deflate call per piece, not per line)."""

    BUFFER = 1 << 20

    def __init__(self, archive: "ArchiveWriter", name: str, stream):
        self.archive, self.name, self.stream = archive, name, stream
        self.digest, self.size = hashlib.sha256(), 0
        self._pending: list[str | bytes] = []
        self._pending_size = 0

    def write(self, data: bytes | str) -> None:
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= self.BUFFER:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(p.encode() if isinstance(p, str) else p for p in self._pending)
        self._pending, self._pending_size = [], 0
        self.digest.update(data)
        self.size += len(data)
        self.stream.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.flush()
        self.stream.close()
        if exc[0] is None:
            self.archive.files.append({"path": self.name, "sha256": self.digest.hexdigest(), "size": self.size})


class ArchiveWriter:
    def __init__(self, fileobj):
        self.zip = zipfile.ZipFile(fileobj, "w", allowZip64=True)
        self.files: list[dict] = []
        self._names: set[str] = set()
        self.key_id = ""

    def open(self, name: str, *, compress: bool = True) -> _Entry:
        if name in self._names or name in (MANIFEST, SIGNATURE):
            raise ValueError(f"{name} is already in the archive")
        self._names.add(name)
        info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        return _Entry(self, name, self.zip.open(info, "w", force_zip64=True))

    def add_bytes(self, name: str, data: bytes, *, compress: bool = True) -> None:
        with self.open(name, compress=compress) as entry:
            entry.write(data)

    def add_file(self, name: str, fh, *, compress: bool = False) -> None:
        with self.open(name, compress=compress) as entry:
            for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                entry.write(chunk)

    def discard(self) -> None:
        """Give up on a half-written archive (its file is thrown away): no central directory."""
        self.zip.fp = None

    def finish(self, header: dict) -> tuple[str, str]:
        """Write the manifest (header + every file's hash) and its signature; close the zip.
        Returns (manifest sha256, signature); `key_id` says which key signed."""
        signer = signing.signer()
        manifest = signing.canonical_json({**header, "key_id": signer.key_id,
                                           "public_key": _b64(signer.public_bytes), "files": self.files})
        sha = hashlib.sha256(manifest).hexdigest()
        signature = signer.sign(statement(sha))
        self.key_id = signer.key_id
        for name, data in ((MANIFEST, manifest), (SIGNATURE, signature.encode() + b"\n")):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            self.zip.writestr(info, data)
        self.zip.close()
        return sha, signature


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


@dataclass
class ArchiveReport:
    signature_ok: bool = False
    files_checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)
    signed_by: str = ""  # which key signed and its state (signing.Verdict.describe)
    notes: list[str] = field(default_factory=list)  # e.g. the SBOM of the software that made it

    @property
    def ok(self) -> bool:
        return self.signature_ok and not (self.changed or self.missing or self.extra or self.problems)

    def lines(self) -> list[str]:
        out = [f"{'OK' if self.ok else 'FAILED'} ({self.files_checked} files checked)"]
        if self.signed_by:
            out.append(f"  {self.signed_by}")
        out += [f"  {n}" for n in self.notes]
        if not self.signature_ok and not self.signed_by.startswith("signed by"):
            out.append("  signature: INVALID (manifest or signature altered, or signed by another key)")
        out += [f"  problem: {p}" for p in self.problems]
        out += [f"  changed: {c}" for c in self.changed]
        out += [f"  missing: {m}" for m in self.missing]
        out += [f"  extra: {e}" for e in self.extra]
        return out


def verify_archive(fileobj, key=None, *, recorded_time=None) -> ArchiveReport:
    """Check an export zip: the manifest's signature (by the keyring's key the manifest names,
    as of the manifest's time; by `key` when given, another installation's public key), then
    every listed file's sha256 and size, and files that are not listed. `recorded_time(manifest
    sha256)` may give when this installation recorded the signature (its export row), which
    then counts instead of the time the manifest states."""
    import json

    report = ArchiveReport()
    try:
        archive = zipfile.ZipFile(fileobj)
    except zipfile.BadZipFile as exc:
        report.problems.append(f"not a zip archive: {exc}")
        return report
    with archive:
        names = set(archive.namelist())
        if MANIFEST not in names or SIGNATURE not in names:
            report.problems.append(f"{MANIFEST} or {SIGNATURE} is missing: not an aerie export")
            return report
        manifest_bytes = archive.read(MANIFEST)
        signature = archive.read(SIGNATURE).decode(errors="replace").strip()
        try:
            report.manifest = json.loads(manifest_bytes)
            listed = {f["path"]: f for f in report.manifest["files"]}
        except (ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"manifest is not in the aerie format: {exc}")
            return report
        manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
        signed = statement(manifest_sha)
        if key is not None:
            report.signature_ok = signing.verify(signed, signature, key)
            report.signed_by = f"checked against the given public key {signing.key_id(key)}"
        else:
            named = report.manifest.get("key_id")
            verdict = signing.check(signed, signature, key_id=named if isinstance(named, str) and named else None,
                                    signed_at=(recorded_time and recorded_time(manifest_sha))
                                    or signing.signed_time(report.manifest.get("created_at")))
            report.signature_ok, report.signed_by = verdict.ok, verdict.describe()
        for path, entry in listed.items():
            if path not in names:
                report.missing.append(path)
                continue
            digest, size = hashlib.sha256(), 0
            with archive.open(path) as fh:
                for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                    digest.update(chunk)
                    size += len(chunk)
            report.files_checked += 1
            if digest.hexdigest() != entry.get("sha256") or size != entry.get("size"):
                report.changed.append(path)
        report.extra = sorted(names - set(listed) - {MANIFEST, SIGNATURE})
    return report
