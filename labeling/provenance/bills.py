"""The SBOMs this installation keeps: one per software state (packages, aerie commit, PostgreSQL
version), stored content-addressed (`sbom/<sha[:2]>/<sha256>.cdx.json`), recorded in a row with
its sha256 and signed with the active key. Exports and trained models name the SBOM of the
software that made them (`current()`: generated once per process, then one query per use).

A detached signature (`signature_document`) is JSON: the SBOM's sha256, the key id, the public
key and the base64 Ed25519 signature over `aerie-sbom-v1:` + the sha256."""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from labeling import audit
from labeling.access import keyring, signing
from labeling.footage import blobstore
from labeling.models import SoftwareBill
from labeling.provenance import sbom

SIGNED_PREFIX = b"aerie-sbom-v1:"
SIGNATURE_FORMAT = "aerie-sbom-signature/1"
_facts: dict[str, tuple[sbom.Facts, str]] = {}  # this process's software: {"": (facts, fingerprint)}


class SbomError(ValueError):
    pass


def statement(sha256_hex: str) -> bytes:
    return SIGNED_PREFIX + sha256_hex.encode()


def blob_name(sha256_hex: str) -> str:
    return f"sbom/{sha256_hex[:2]}/{sha256_hex}.cdx.json"


def postgres_version() -> str:
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        return cur.fetchone()[0]


def this_process() -> tuple[sbom.Facts, str]:
    """(facts, fingerprint) of the software this process runs, gathered once."""
    if "" not in _facts:
        found = sbom.facts(aerie_version=settings.AERIE_VERSION, root=Path(settings.BASE_DIR),
                           postgres_version=postgres_version())
        _facts[""] = (found, sbom.fingerprint(found))
    return _facts[""]


def current(user=None) -> SoftwareBill:
    """The SBOM of the running software: the stored one, or made, stored and signed now."""
    found, print_ = this_process()
    row = SoftwareBill.objects.filter(fingerprint=print_).first()
    if row is not None:
        return row
    data = sbom.document(found, timezone.now())
    sha = hashlib.sha256(data).hexdigest()
    blobstore.put(blob_name(sha), data)
    signer = signing.signer()
    try:
        with transaction.atomic():
            row = SoftwareBill.objects.create(
                sha256=sha, fingerprint=print_, blob_name=blob_name(sha), aerie_version=found.aerie_version,
                git_commit=found.git_commit, postgres_version=found.postgres_version, packages=len(found.packages),
                signature=signer.sign(statement(sha)), key_id=signer.key_id)
            audit.record(user, "sbom.record", row, {"sha256": sha, "aerie_version": found.aerie_version,
                                                    "git_commit": found.git_commit, "packages": len(found.packages)})
    except IntegrityError:  # another process recorded the same software meanwhile
        row = SoftwareBill.objects.get(fingerprint=print_)
    return row


def kept(sha256_hex: str) -> SoftwareBill:
    row = SoftwareBill.objects.filter(sha256=(sha256_hex or "").strip().lower()).first()
    if row is None:
        raise SbomError(f"this installation keeps no SBOM with sha256 {sha256_hex!r}")
    return row


def read(row: SoftwareBill) -> bytes:
    with blobstore.open_blob(row.blob_name) as fh:
        return fh.read()


def signature_document(row: SoftwareBill) -> dict:
    """The detached signature written beside an SBOM file."""
    key = keyring.find(row.key_id)
    return {"format": SIGNATURE_FORMAT, "sbom_sha256": row.sha256, "key_id": row.key_id,
            "public_key": base64.b64encode(key.public_bytes).decode() if key else None,
            "signed_at": row.created_at.isoformat(), "statement": statement(row.sha256).decode(),
            "signature": row.signature}


@dataclass(frozen=True)
class Check:
    ok: bool
    sha256: str
    signed_by: str
    problems: tuple = ()
    stored: bool = False


def check(data: bytes, signature_doc: dict) -> Check:
    """An SBOM's bytes against its detached signature: the sha256 it names and the signature by
    the key it names (as of when it was recorded here, else as of the time it states)."""
    sha = hashlib.sha256(data).hexdigest()
    problems = []
    if not isinstance(signature_doc, dict) or signature_doc.get("format") != SIGNATURE_FORMAT:
        return Check(False, sha, "", (f"the signature file is not an {SIGNATURE_FORMAT} document",))
    if signature_doc.get("sbom_sha256") != sha:
        problems.append("the SBOM's sha256 is not the one the signature names (the SBOM was changed)")
    row = SoftwareBill.objects.filter(sha256=sha).first()
    signed_at = row.created_at if row else signing.signed_time(signature_doc.get("signed_at"))
    key_id = signature_doc.get("key_id")
    verdict = signing.check(statement(sha), str(signature_doc.get("signature") or ""),
                            key_id=key_id if isinstance(key_id, str) and key_id else None, signed_at=signed_at)
    if not verdict.ok:
        problems.append(verdict.problem or "the signature does not verify")
    return Check(not problems, sha, verdict.describe(), tuple(problems), row is not None)


def describe(sha256_hex: str | None) -> str:
    """One line on the SBOM an export or model names, for verification output."""
    if not sha256_hex:
        return "no SBOM named (made before SBOMs were kept)"
    row = SoftwareBill.objects.filter(sha256=sha256_hex).first()
    if row is None:
        return f"made by the software of SBOM {sha256_hex}: not stored in this installation"
    verdict = signing.check(statement(row.sha256), row.signature, key_id=row.key_id, signed_at=row.created_at)
    stored = blobstore.exists(row.blob_name)
    return (f"made by the software of SBOM {row.sha256} (aerie {row.aerie_version}"
            f"{' commit ' + row.git_commit[:12] if row.git_commit else ''}, {row.packages} packages; "
            f"{'stored' if stored else 'FILE MISSING'}; {'OK' if verdict.ok else 'SIGNATURE FAILED'}: "
            f"{verdict.describe()})")




def write(row: SoftwareBill, out: Path) -> Path:
    """The SBOM to `out` and its detached signature to `out` + '.sig'; returns the signature's path."""
    out.write_bytes(read(row))
    sig = out.with_name(out.name + ".sig")
    sig.write_text(json.dumps(signature_document(row), indent=1) + "\n")
    return sig
