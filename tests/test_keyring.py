"""The signing keyring: rotation keeps everything signed before verifying (manifests, exports,
models, audit seals), revocation splits a key's signatures at the revocation time, other
installations' keys are keyring keys too, and every change is audited and sealed by the new key."""
import base64
import datetime as dt
import hashlib
import io
import os

import pytest
import torch
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from labeling.access import key_custody, keyring, signing
from labeling.audit import chain
from labeling.exchange import exports
from labeling.footage import blobstore, dataset_versions
from labeling.models import AuditEvent, AuditLink, AuditSeal, Export, Frame, SigningKey
from labeling.sampling import registry
from tests.conftest import api_client
from tests.labels import export_bytes, labeled_project

ARCH = "mobilenet_v3_small"


def weights(seed=0) -> bytes:
    torch.manual_seed(seed)
    buffer = io.BytesIO()
    torch.save(registry.build(ARCH, 1).state_dict(), buffer)
    return buffer.getvalue()


def model(project, seed=0, signature=None):
    data = weights(seed)
    return registry.register(project, data, architecture=ARCH, class_map=["crowd"],
                             signature=signature or registry.sign(data, ARCH, ["crowd"]))


def export(project, user) -> Export:
    return exports.run(exports.create(project, user, format="mot").pk)


def export_file(tmp_path, made: Export):
    path = tmp_path / f"export-{made.pk}.zip"
    path.write_bytes(export_bytes(made))
    return str(path)


def out(capsys, command, *args) -> str:
    call_command(command, *args)
    return capsys.readouterr().out


def failing(capsys, command, *args, match="") -> str:
    with pytest.raises(CommandError, match=match):
        call_command(command, *args)
    return capsys.readouterr().out


@pytest.fixture
def labeled(project):
    """The labeled project of tests/labels.py, its frames given files whose sha256 they hold (so
    that a dataset version of them verifies)."""
    found = labeled_project(project)
    for frame in Frame.objects.filter(sequence__dataset=project.dataset):
        data = f"frame {frame.pk}".encode()
        Frame.objects.filter(pk=frame.pk).update(sha256=hashlib.sha256(data).hexdigest())
        frame.refresh_from_db()
        blobstore.put(frame.image_name, data)
    return found


def test_the_key_file_is_the_first_key(project):
    assert not SigningKey.objects.exists()
    first = signing.signer()
    row = SigningKey.objects.get()
    assert (row.key_id, row.state, row.origin, row.source) == (first.key_id, "active", "own", "key file")
    assert row.key_id == keyring.key_id_of(keyring.file_key().public_key()) and row.activated_at is not None
    assert keyring.first().key_id == row.key_id


def test_rotation_keeps_manifests_exports_models_and_seals_verifying(project, users, labeled, tmp_path, capsys):
    version = dataset_versions.create_version(project.dataset, user=users["trainer"])
    made = export(project, users["trainer"])
    old_model = model(project)
    old_seal = chain.seal()
    first = keyring.first().key_id
    assert {version.key_id, made.key_id, old_model.key_id, old_seal.key_id} == {first}

    said = out(capsys, "rotate_signing_key", "--note", "yearly rotation")
    new = SigningKey.objects.get(state="active")
    old = SigningKey.objects.get(key_id=first)
    assert new.key_id != first and f"active key {new.key_id}" in said and f"retired key {first}" in said
    assert old.state == "retired" and old.retired_at == new.activated_at == new.created_at and old.activated_at
    pem = keyring.key_path(new.key_id)
    assert pem.exists() and (os.stat(pem).st_mode & 0o777) == 0o600
    # the change is an audit event, sealed by the new key
    event = AuditEvent.objects.get(verb="signing_key.rotate")
    assert event.data == {"key_id": new.key_id, "retired": first, "note": "yearly rotation"}
    last = AuditSeal.objects.order_by("-id").first()
    assert last.key_id == new.key_id and last.seq >= AuditLink.objects.get(event=event).seq
    # from now on the new key signs
    assert signing.key_id() == new.key_id
    assert dataset_versions.create_version(project.dataset).key_id == new.key_id
    assert model(project, seed=1).key_id == new.key_id

    text = out(capsys, "verify_manifest")
    assert text.count(": OK (") == 2 and "FAILED" not in text
    assert f"signed by key {first} (retired " in text and f"signed by key {new.key_id} (active " in text
    text = out(capsys, "verify_export", export_file(tmp_path, made))
    assert ": OK (" in text and f"signed by key {first} (retired " in text
    assert registry.verify_version(old_model).ok and registry.verify_version(old_model).state == "retired"
    assert registry.load(old_model) is not None
    text = out(capsys, "verify_models")
    assert text.count(": OK") == 2 and f"key {first} (retired" in text and f"key {new.key_id} (active" in text
    text = out(capsys, "verify_audit")
    assert text.rstrip().endswith("OK") and f"seals signed by key {first} (retired" in text
    assert f"seals signed by key {new.key_id} (active" in text and "WARNING" not in text


def test_revocation_splits_a_keys_signatures_at_its_time(project, users, labeled, tmp_path, capsys):
    before_version = dataset_versions.create_version(project.dataset)
    before_export = export(project, users["trainer"])
    before_model = model(project)
    before_seal = chain.seal()
    revoked_at = timezone.now()
    after_version = dataset_versions.create_version(project.dataset)
    after_export = export(project, users["trainer"])
    after_model = model(project, seed=1)
    after_seal = chain.seal(force=True)
    old = keyring.first().key_id
    assert {before_version.key_id, after_version.key_id, after_export.key_id, after_seal.key_id} == {old}

    failing(capsys, "revoke_signing_key", old, "--at", revoked_at.isoformat(), "--reason", "stolen",
            match="the active key: rotate first")
    assert SigningKey.objects.get(key_id=old).state == "active"
    call_command("rotate_signing_key")
    said = out(capsys, "revoke_signing_key", old[:8], "--at", revoked_at.isoformat(), "--reason", "laptop stolen")
    row = SigningKey.objects.get(key_id=old)
    assert (row.state, row.revoked_at, row.revoked_reason) == ("revoked", revoked_at, "laptop stolen")
    assert f"revoked key {old}" in said
    event = AuditEvent.objects.get(verb="signing_key.revoke")
    assert event.data["reason"] == "laptop stolen" and event.data["was"] == "retired"
    assert AuditSeal.objects.order_by("-id").first().key_id == SigningKey.objects.get(state="active").key_id

    # made before the revocation: valid, with the warning
    text = out(capsys, "verify_manifest", str(before_version.pk))
    assert ": OK (" in text and "WARNING: signed by a key revoked later" in text and "laptop stolen" in text
    text = out(capsys, "verify_export", export_file(tmp_path, before_export))
    assert ": OK (" in text and "WARNING: signed by a key revoked later" in text
    verdict = registry.verify_version(before_model)
    assert verdict.ok and verdict.state == "revoked" and "revoked later" in verdict.warning
    # made after it: untrusted
    text = failing(capsys, "verify_manifest", str(after_version.pk), match="1 dataset version")
    assert ": FAILED (" in text and "untrusted: made at" in text and "after the key was revoked" in text
    text = failing(capsys, "verify_export", export_file(tmp_path, after_export), match="1 export archive")
    assert "FAILED" in text and "after the key was revoked" in text
    assert not registry.verify_version(after_model).ok
    with pytest.raises(registry.RegistryError, match="after the key was revoked"):
        registry.load(after_model)
    text = failing(capsys, "verify_audit", match="failed verification")
    broken = [line for line in text.splitlines() if line.startswith("BROKEN")]
    assert len(broken) == 1 and f"seal {after_seal.pk} (link {after_seal.seq}" in broken[0]
    assert "after the key was revoked" in broken[0]
    assert f"WARNING: seal {before_seal.pk} (link {before_seal.seq}" in text
    # the revoked key signs nothing new, even with its private key in hand
    data = weights(seed=2)
    stolen = keyring.file_key()
    signature = base64.b64encode(stolen.sign(registry.statement(hashlib.sha256(data).hexdigest(), ARCH,
                                                                ["crowd"]))).decode()
    with pytest.raises(registry.RegistryError, match="revoked"):
        registry.register(project, data, architecture=ARCH, class_map=["crowd"], signature=signature)


def test_revocation_refuses_bad_requests_and_is_never_undone(project, capsys):
    signing.signer()
    first = keyring.first().key_id
    call_command("rotate_signing_key")
    before = list(SigningKey.objects.values_list("key_id", "state", "revoked_at"))
    failing(capsys, "revoke_signing_key", first, "--at", "next tuesday", "--reason", "x", match="not an ISO time")
    failing(capsys, "revoke_signing_key", first, "--at", (timezone.now() + dt.timedelta(days=1)).isoformat(),
            "--reason", "x", match="in the future")
    failing(capsys, "revoke_signing_key", first, "--reason", "  ", match="say why")
    failing(capsys, "revoke_signing_key", "ffffffffffff", "--reason", "x", match="no single key")
    failing(capsys, "revoke_signing_key", first[:3], "--reason", "x", match="no single key")
    assert list(SigningKey.objects.values_list("key_id", "state", "revoked_at")) == before
    assert not AuditEvent.objects.filter(verb="signing_key.revoke").exists()
    call_command("revoke_signing_key", first, "--at", "2020-01-01T00:00:00", "--reason", "old")
    assert SigningKey.objects.get(key_id=first).revoked_at == dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    failing(capsys, "revoke_signing_key", first, "--reason", "again", match="already revoked")
    for sql in ("UPDATE labeling_signingkey SET state = 'retired', revoked_at = NULL WHERE key_id = %s",
                "UPDATE labeling_signingkey SET public_key = 'x' WHERE key_id = %s",
                "DELETE FROM labeling_signingkey WHERE key_id = %s"):
        with pytest.raises(DatabaseError, match="never"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [first])


def test_signatures_without_a_key_id_are_checked_against_the_first_key(project):
    statement = b"aerie-test:legacy"
    legacy = signing.sign(statement)  # made by the first key, stored without its id (as before the keyring)
    seq, hash_ = chain.seal().seq, chain.head()[1]
    at = timezone.now()
    AuditSeal.objects.create(seq=seq, hash=hash_, at=at, key_id="", signature=base64.b64encode(
        keyring.file_key().sign(chain.seal_payload(seq, hash_, at))).decode())
    key_custody.rotate()
    assert signing.verify(statement, legacy)  # the first key, though retired
    assert not signing.verify(statement, signing.sign(statement))  # the active key is not the first one
    assert signing.verify(statement, signing.sign(statement), key_id=signing.key_id())
    report = chain.verify()
    assert report.ok, report.problems
    assert report.seals == 3


def test_a_machine_without_the_active_private_key_says_so(project, settings, tmp_path):
    new, _, _ = key_custody.rotate()
    settings.AERIE_SIGNING_KEY_DIR = tmp_path / "elsewhere"
    with pytest.raises(keyring.KeyringError, match=f"{new.key_id}.pem .*AERIE_SIGNING_KEY_DIR"):
        signing.sign(b"x")
    settings.AERIE_SIGNING_KEY_DIR.mkdir()
    keyring.write_private_key(settings.AERIE_SIGNING_KEY_DIR / f"{new.key_id}.pem", Ed25519PrivateKey.generate())
    with pytest.raises(keyring.KeyringError, match="holds another key"):
        signing.sign(b"x")


def test_a_rotation_can_take_a_key_made_beforehand(project, tmp_path, capsys):
    made = Ed25519PrivateKey.generate()
    pem = tmp_path / "prepared.pem"
    keyring.write_private_key(pem, made)
    said = out(capsys, "rotate_signing_key", "--private-key", str(pem))
    kid = keyring.key_id_of(made.public_key())
    assert f"active key {kid}" in said and signing.key_id() == kid
    assert SigningKey.objects.get(key_id=kid).source == "key file given"
    failing(capsys, "rotate_signing_key", "--private-key", str(pem), match="already in the keyring")
    (tmp_path / "junk.pem").write_text("not a key")
    failing(capsys, "rotate_signing_key", "--private-key", str(tmp_path / "junk.pem"),
            match="not an unencrypted PEM private key")
    failing(capsys, "rotate_signing_key", "--private-key", str(tmp_path / "absent.pem"), match="No such file")
    assert signing.key_id() == kid and SigningKey.objects.count() == 2


def test_other_installations_keys_are_keyring_keys(project, settings, capsys):
    outside = Ed25519PrivateKey.generate()
    raw = base64.b64encode(outside.public_key().public_bytes_raw()).decode()
    kid = keyring.key_id_of(outside.public_key())

    def signed(seed):
        data = weights(seed)
        sig = base64.b64encode(outside.sign(registry.statement(hashlib.sha256(data).hexdigest(), ARCH,
                                                               ["crowd"]))).decode()
        return data, sig

    data, sig = signed(0)
    with pytest.raises(registry.RegistryError, match="signature"):
        registry.register(project, data, architecture=ARCH, class_map=["crowd"], signature=sig)
    settings.AERIE_TRUSTED_MODEL_KEYS = [raw]  # the setting keeps working: imported into the keyring
    first = registry.register(project, data, architecture=ARCH, class_map=["crowd"], signature=sig)
    row = SigningKey.objects.get(key_id=kid)
    assert (first.key_id, row.state, row.origin, row.source) == (kid, "trusted-external", "external", "settings")
    assert AuditEvent.objects.filter(verb="signing_key.trust", data__key_id=kid).count() == 1
    assert f"{kid}  trusted-external" in out(capsys, "signing_keys")

    said = out(capsys, "retire_signing_key", kid)
    assert f"retired key {kid}" in said and SigningKey.objects.get(key_id=kid).state == "retired"
    data2, sig2 = signed(1)
    with pytest.raises(registry.RegistryError, match="retired: it signs nothing new"):
        registry.register(project, data2, architecture=ARCH, class_map=["crowd"], signature=sig2)
    assert registry.verify_version(first).ok and registry.verify_version(first).state == "retired"
    keyring.ensure()  # the setting does not bring a retired key back
    assert SigningKey.objects.get(key_id=kid).state == "retired"
    call_command("revoke_signing_key", kid, "--at", (first.created_at - dt.timedelta(seconds=1)).isoformat(),
                 "--reason", "their key leaked")
    verdict = registry.verify_version(first)
    assert not verdict.ok and "their key leaked" in verdict.describe()

    another = Ed25519PrivateKey.generate()
    said = out(capsys, "trust_signing_key", base64.b64encode(another.public_key().public_bytes_raw()).decode(),
               "--note", "partner lab")
    assert "trusted-external" in said
    data3 = weights(3)
    sig3 = base64.b64encode(another.sign(registry.statement(hashlib.sha256(data3).hexdigest(), ARCH,
                                                            ["crowd"]))).decode()
    assert registry.register(project, data3, architecture=ARCH, class_map=["crowd"], signature=sig3).key_id == \
        keyring.key_id_of(another.public_key())
    failing(capsys, "trust_signing_key", "bm90IGEga2V5", match="not a raw Ed25519")
    failing(capsys, "retire_signing_key", signing.key_id(), match="rotate_signing_key")
    report = chain.verify()
    assert report.ok, report.problems


def test_the_admin_lists_the_configured_key_before_it_first_signs(project, users):
    assert not SigningKey.objects.exists()  # nothing signed yet in this installation
    page = api_client(users["admin"]).get("/admin/labeling/signingkey/")
    assert page.status_code == 200
    row = SigningKey.objects.get()
    assert row.state == "active" and row.key_id == signing.key_id() and row.key_id in page.content.decode()


def test_the_admin_lists_the_keyring_read_only(project, users):
    signing.signer()
    key_custody.rotate()
    client = api_client(users["admin"])
    page = client.get("/admin/labeling/signingkey/")
    assert page.status_code == 200
    for row in SigningKey.objects.all():
        assert row.key_id in page.content.decode()
    assert b"retired" in page.content and b"active" in page.content
    assert client.get("/admin/labeling/signingkey/add/").status_code == 403
    row = SigningKey.objects.get(state="retired")
    assert client.post(f"/admin/labeling/signingkey/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert SigningKey.objects.filter(pk=row.pk).exists()
