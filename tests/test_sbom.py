"""The SBOM of the running installation: what it lists is what is installed, it is kept and
signed, and exports and models name the one of the software that made them."""
import hashlib
import importlib.metadata as metadata
import io
import json
import re
import subprocess

import pytest
import torch
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from labeling.access import key_custody, signing
from labeling.exchange import exports
from labeling.footage import blobstore
from labeling.models import AuditEvent, SoftwareBill
from labeling.provenance import bills
from labeling.sampling import registry
from tests.labels import export_bytes, labeled_project, members


def components(doc: dict) -> dict:
    return {c["name"]: c for c in doc["components"]}


def test_the_sbom_lists_what_is_installed_and_is_signed(project, tmp_path, capsys):
    out = tmp_path / "aerie.cdx.json"
    call_command("sbom", "--out", str(out))
    said = capsys.readouterr().out
    data = out.read_bytes()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(data.decode()) is None
    doc = json.loads(data)
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    found = components(doc)
    for name in ("Django", "cryptography", "cyclonedx-python-lib", "numpy"):
        entry = found[name.lower()]
        assert entry["version"] == metadata.version(name), name
        assert entry["purl"] == f"pkg:pypi/{name.lower()}@{metadata.version(name)}"
    record = metadata.distribution("Django").read_text("RECORD")
    assert {"name": "aerie:record-sha256", "value": hashlib.sha256(record.encode()).hexdigest()} in \
        found["django"]["properties"]
    assert len([c for c in doc["components"] if c["type"] == "library"]) == \
        len({re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in metadata.distributions()})
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        assert found["postgresql"]["version"] == cur.fetchone()[0]
    aerie = doc["metadata"]["component"]
    assert (aerie["name"], aerie["version"]) == ("aerie", settings.AERIE_VERSION)
    head = subprocess.run(["git", "-C", str(settings.BASE_DIR), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        assert {"name": "aerie:git-commit", "value": head.stdout.strip()} in aerie["properties"]

    sha = hashlib.sha256(data).hexdigest()
    row = SoftwareBill.objects.get()
    assert row.sha256 == sha and f"SBOM {sha}" in said and row.packages == len(found) - 2
    with blobstore.open_blob(row.blob_name) as fh:  # kept content-addressed
        assert fh.read() == data and row.blob_name.endswith(f"{sha}.cdx.json")
    assert AuditEvent.objects.filter(verb="sbom.record", data__sha256=sha).count() == 1
    sig = json.loads((tmp_path / "aerie.cdx.json.sig").read_text())
    assert sig["sbom_sha256"] == sha and sig["key_id"] == signing.key_id() == row.key_id
    assert signing.verify(bills.statement(sha), sig["signature"], key_id=sig["key_id"])

    call_command("sbom", "--out", str(tmp_path / "again.json"))  # the same software: the same SBOM, reused
    assert (tmp_path / "again.json").read_bytes() == data and SoftwareBill.objects.count() == 1
    call_command("sbom", "--verify", str(out))
    assert ": OK (sha256 " in capsys.readouterr().out
    key_custody.rotate()  # still verifies when its key is retired
    call_command("sbom", "--verify", str(out))
    assert f"signed by key {row.key_id} (retired" in capsys.readouterr().out
    out.write_bytes(data.replace(b'"version": "' + metadata.version("Django").encode(), b'"version": "9.9.9'))
    with pytest.raises(CommandError, match="failed verification"):
        call_command("sbom", "--verify", str(out))
    assert "the SBOM was changed" in capsys.readouterr().out
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE labeling_softwarebill SET git_commit = 'x'")


def test_an_export_and_a_model_name_the_sbom_of_the_software_that_made_them(project, users, tmp_path, capsys):
    labeled_project(project)
    export = exports.run(exports.create(project, users["trainer"], format="coco").pk)
    manifest = json.loads(members(export_bytes(export))["manifest.json"])
    row = SoftwareBill.objects.get(sha256=manifest["sbom_sha256"])
    with blobstore.open_blob(row.blob_name) as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == manifest["sbom_sha256"]
    call_command("sbom", "--sha256", row.sha256, "--out", str(tmp_path / "its.cdx.json"))
    assert hashlib.sha256((tmp_path / "its.cdx.json").read_bytes()).hexdigest() == row.sha256
    with pytest.raises(CommandError, match="keeps no SBOM with sha256 'abc'"):
        call_command("sbom", "--sha256", "abc", "--out", str(tmp_path / "none.json"))
    path = tmp_path / "export.zip"
    path.write_bytes(export_bytes(export))
    call_command("verify_export", str(path))
    said = capsys.readouterr().out
    assert f"made by the software of SBOM {row.sha256} (aerie {settings.AERIE_VERSION}" in said and "stored; OK" in said

    buffer = io.BytesIO()
    torch.save(registry.build("mobilenet_v3_small", 1).state_dict(), buffer)
    data = buffer.getvalue()
    version = registry.register(project, data, architecture="mobilenet_v3_small", class_map=["crowd"],
                                signature=registry.sign(data, "mobilenet_v3_small", ["crowd"]))
    assert version.lineage["registered_with_sbom_sha256"] == row.sha256 and SoftwareBill.objects.count() == 1
    trained = registry.register(project, data, architecture="mobilenet_v3_small", class_map=["crowd"],
                                signature=registry.sign(data, "mobilenet_v3_small", ["crowd"]),
                                lineage={"training_run": 1, "sbom_sha256": row.sha256})
    assert "registered_with_sbom_sha256" not in trained.lineage
    call_command("verify_models", str(version.pk))
    assert f"registered with the software of SBOM {row.sha256}" in capsys.readouterr().out


def test_the_sbom_is_made_once_per_process(project, django_assert_max_num_queries):
    first = bills.current()
    with django_assert_max_num_queries(1):
        assert bills.current().pk == first.pk
