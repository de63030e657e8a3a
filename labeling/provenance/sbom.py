"""What the running installation is made of, as a CycloneDX SBOM (JSON, spec 1.6), written with
cyclonedx-python-lib.

Components: every installed Python distribution (name, version, purl; the archive's hashes when
pip recorded them in direct_url.json; the sha256 of its RECORD file, which lists every installed
file with its own sha256, as the property `aerie:record-sha256`), CPython, and the PostgreSQL
server. The described component is aerie itself: its version and, in a git checkout, the commit.

`facts()` gathers the inputs (cheap: metadata files only); `document()` renders them. The same
facts always render the same bytes for the same time, so one SBOM per software state is enough
(labeling.provenance.bills keys them by `fingerprint`)."""
from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata as metadata
import json
import platform
import re
import subprocess
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

ALGORITHMS = {"md5": HashAlgorithm.MD5, "sha1": HashAlgorithm.SHA_1, "sha256": HashAlgorithm.SHA_256,
              "sha384": HashAlgorithm.SHA_384, "sha512": HashAlgorithm.SHA_512}
SERIAL_NAMESPACE = uuid.UUID("5b1f7c0e-3a52-4c1e-9a55-6f0d1c2b7e41")


@dataclass(frozen=True)
class Package:
    name: str  # normalised (PEP 503)
    version: str
    hashes: tuple = ()  # ((algorithm, hex), ...) of the archive it was installed from
    record_sha256: str = ""
    source: str = ""  # the URL pip installed it from, when it recorded one


@dataclass(frozen=True)
class Facts:
    aerie_version: str
    git_commit: str
    git_dirty: bool
    python_version: str
    postgres_version: str
    packages: tuple = field(default_factory=tuple)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _direct_url(dist) -> tuple[tuple, str]:
    try:
        info = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return (), ""
    archive = info.get("archive_info") or {}
    hashes = dict(archive.get("hashes") or {})
    if not hashes and "=" in (archive.get("hash") or ""):
        alg, _, value = archive["hash"].partition("=")
        hashes[alg] = value
    return tuple(sorted((a, v) for a, v in hashes.items() if a in ALGORITHMS)), str(info.get("url") or "")


def installed_packages() -> tuple[Package, ...]:
    """Every distribution importable now, first on sys.path winning (as imports do)."""
    found: dict[str, Package] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name or normalise(name) in found:
            continue
        record = dist.read_text("RECORD")
        hashes, source = _direct_url(dist)
        found[normalise(name)] = Package(
            normalise(name), dist.version, hashes,
            hashlib.sha256(record.encode()).hexdigest() if record is not None else "", source)
    return tuple(sorted(found.values(), key=lambda p: p.name))


def git_state(root: Path) -> tuple[str, bool]:
    """(commit, whether tracked files differ from it) of a checkout; ("", False) elsewhere."""
    def git(*args) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit or not re.fullmatch(r"[0-9a-f]{40}", commit):
        return "", False
    return commit, bool(git("status", "--porcelain", "--untracked-files=no"))


def facts(*, aerie_version: str, root: Path, postgres_version: str) -> Facts:
    commit, dirty = git_state(root)
    return Facts(aerie_version, commit, dirty, platform.python_version(), postgres_version, installed_packages())


def fingerprint(f: Facts) -> str:
    """sha256 of what the SBOM says (not of its bytes, which carry a time)."""
    return hashlib.sha256(json.dumps(asdict(f), sort_keys=True).encode()).hexdigest()


def _component(p: Package) -> Component:
    purl = PackageURL(type="pypi", name=p.name, version=p.version)
    properties = [Property(name="aerie:record-sha256", value=p.record_sha256)] if p.record_sha256 else []
    if p.source:
        properties.append(Property(name="aerie:installed-from", value=p.source))
    return Component(type=ComponentType.LIBRARY, name=p.name, version=p.version, purl=purl, bom_ref=purl.to_string(),
                     hashes=[HashType(alg=ALGORITHMS[a], content=v) for a, v in p.hashes], properties=properties)


def document(f: Facts, made_at: dt.datetime) -> bytes:
    """The CycloneDX JSON of these facts; its serial number follows from the fingerprint."""
    root = Component(type=ComponentType.APPLICATION, name="aerie", version=f.aerie_version, bom_ref="aerie",
                     properties=[Property(name="aerie:git-commit", value=f.git_commit or "(not a git checkout)"),
                                 Property(name="aerie:git-dirty", value=str(f.git_dirty).lower())])
    bom = Bom(serial_number=uuid.uuid5(SERIAL_NAMESPACE, fingerprint(f)))
    bom.metadata.timestamp = made_at
    bom.metadata.component = root
    bom.metadata.tools.components.add(Component(type=ComponentType.LIBRARY, name="cyclonedx-python-lib",
                                                version=metadata.version("cyclonedx-python-lib")))
    parts = [_component(p) for p in f.packages]
    parts.append(Component(type=ComponentType.PLATFORM, name="cpython", version=f.python_version,
                           bom_ref="platform:cpython"))
    if f.postgres_version:
        parts.append(Component(type=ComponentType.PLATFORM, name="postgresql", version=f.postgres_version,
                               bom_ref="platform:postgresql"))
    for part in parts:
        bom.components.add(part)
    bom.register_dependency(root, parts)
    return JsonV1Dot6(bom).output_as_string(indent=1).encode() + b"\n"
