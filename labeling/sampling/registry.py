"""The model registry: which weights may score a project's frames.

A model version is a weights file (a PyTorch state dict) for an architecture from the allow-list,
with a class map onto the project's ontology version, its sha256, and an Ed25519 signature by a
trusted key over a statement of all three (`statement`). Nothing is loaded before the hash and
the signature check out, and then only with `torch.load(..., weights_only=True)` (no pickled
code runs) into a freshly built model with `strict=True`: an unsigned, tampered, foreign-signed,
mis-shaped or non-weights file is refused with a clear error, and nothing is stored.

Trusted keys are the keyring's (labeling.access.keyring): a new registration must be signed by
the active key (the training task signs with it) or a trusted external key (another
installation's: AERIE_TRUSTED_MODEL_KEYS, base64 of the raw 32-byte Ed25519 keys, comma-separated,
is imported into the keyring, or `manage.py trust_signing_key`). A stored version is re-checked
against the key that signed it as of its registration: a key retired since still verifies, a
key revoked since still verifies with a warning, a key revoked before the registration does not.
No weights are ever downloaded: architectures are built with
`weights=None, weights_backbone=None`.
"""
from __future__ import annotations

import hashlib
import io

from django.db import transaction

from labeling import audit, jobs
from labeling.access import cache, keyring, signing
from labeling.footage import blobstore
from labeling.models import ModelVersion, Project
from labeling.provenance import bills

#: architecture -> kind. Detectors get one output per class plus background.
ARCHITECTURES = {
    "fasterrcnn_mobilenet_v3_large_320_fpn": ModelVersion.DETECTOR,
    "ssdlite320_mobilenet_v3_large": ModelVersion.DETECTOR,
    "mobilenet_v3_small": ModelVersion.CLASSIFIER,
}
MAX_WEIGHTS_BYTES = 500 * 1024 * 1024


class RegistryError(ValueError):
    """The model was refused; nothing was stored and nothing became current."""


def statement(sha256: str, architecture: str, class_map: list[str]) -> bytes:
    """What a signature covers: the weights' hash, the architecture and the class order."""
    return b"aerie-model-v1:" + signing.canonical_json(
        {"sha256": sha256, "architecture": architecture, "class_map": list(class_map)})


def sign(data: bytes, architecture: str, class_map: list[str]) -> str:
    """Sign weights with this installation's active key (the training task does this)."""
    return signing.sign(statement(hashlib.sha256(data).hexdigest(), architecture, class_map))


def build(architecture: str, n_classes: int):
    """A fresh, untrained model of an allowed architecture (never downloads weights)."""
    import torchvision

    kind = ARCHITECTURES.get(architecture)
    if kind is None:
        raise RegistryError(f"architecture '{architecture}' is not allowed; use one of {sorted(ARCHITECTURES)}")
    if kind == ModelVersion.DETECTOR:
        return torchvision.models.get_model(architecture, weights=None, weights_backbone=None,
                                            num_classes=n_classes + 1)
    return torchvision.models.get_model(architecture, weights=None, num_classes=n_classes)


def _checked_class_map(project: Project, kind: str, class_map) -> list[str]:
    from labeling.work.payloads import classes_of

    if not isinstance(class_map, list) or not class_map or not all(isinstance(k, str) for k in class_map):
        raise RegistryError("class_map: a non-empty list of ontology class keys, in the model's output order")
    if len(set(class_map)) != len(class_map):
        raise RegistryError("class_map: a class appears twice")
    classes = classes_of(project.ontology_version_id)
    for key in class_map:
        label = classes.get(key)
        if label is None:
            raise RegistryError(f"class_map: '{key}' is not a class of the project's ontology version")
        if (label.kind == "tag") != (kind == ModelVersion.CLASSIFIER):
            raise RegistryError(f"class_map: '{key}' is a {label.kind} class; a {kind} maps "
                                f"{'frame tags' if kind == ModelVersion.CLASSIFIER else 'box classes'}")
    return class_map


def check_signature(data: bytes, architecture: str, class_map: list[str], signature: str, *,
                    key_id: str | None = None, signed_at=None) -> keyring.Verdict:
    """Which key signed these weights, its state, and whether it is trusted: `key_id` and
    `signed_at` for a stored version; without them, a new registration (active or trusted
    external key, not revoked)."""
    signed = statement(hashlib.sha256(data).hexdigest(), architecture, class_map)
    if key_id is None:
        try:
            return keyring.check_new(signed, signature or "")
        except keyring.KeyringError as exc:
            raise RegistryError(str(exc)) from None
    return signing.check(signed, signature or "", key_id=key_id, signed_at=signed_at)


def verify_and_load(data: bytes, architecture: str, class_map: list[str], signature: str, *,
                    key_id: str | None = None, signed_at=None):
    """Check hash and signature (see check_signature), then load the weights safely into a fresh
    model. Returns (model, sha256, key id)."""
    import torch

    build(architecture, 1)  # refuses an architecture outside the allow-list before anything else
    if not data:
        raise RegistryError("the weights file is empty")
    if len(data) > MAX_WEIGHTS_BYTES:
        raise RegistryError(f"the weights file is larger than {MAX_WEIGHTS_BYTES // 2**20} MiB")
    sha = hashlib.sha256(data).hexdigest()
    verdict = check_signature(data, architecture, class_map, signature, key_id=key_id, signed_at=signed_at)
    if not verdict.ok:
        if verdict.key is None:
            raise RegistryError("the signature does not match these weights, architecture and class map under any "
                                "trusted key (unsigned, tampered, or signed by an unknown key)")
        raise RegistryError(f"the signature is not trusted: {verdict.describe()}")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a refusal
        raise RegistryError(f"not a PyTorch weights file that loads safely (weights_only): {exc}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise RegistryError("the file must hold a state dict (parameter name -> tensor)")
    model = build(architecture, len(class_map))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "shapes or names differ"
        raise RegistryError(f"the weights do not fit {architecture} with {len(class_map)} classes: {first}") from None
    return model.eval(), sha, verdict.key_id


def register(project: Project, data: bytes, *, architecture: str, class_map, signature: str, user=None,
             metrics: dict | None = None, lineage: dict | None = None) -> ModelVersion:
    """Verify and store a model version (not current: see `make_current`)."""
    kind = ARCHITECTURES.get(architecture)
    if kind is None:
        raise RegistryError(f"architecture '{architecture}' is not allowed; use one of {sorted(ARCHITECTURES)}")
    class_map = _checked_class_map(project, kind, class_map)
    _, sha, key = verify_and_load(data, architecture, class_map, signature)
    lineage = dict(lineage or {})
    if "sbom_sha256" not in lineage:  # weights made elsewhere: the software that registered them
        lineage["registered_with_sbom_sha256"] = bills.current(user).sha256
    name = f"models/{sha[:2]}/{sha}.pt"
    blobstore.put(name, data)
    with transaction.atomic():
        version = ModelVersion.objects.create(
            project=project, kind=kind, architecture=architecture, ontology_version_id=project.ontology_version_id,
            class_map=class_map, blob_name=name, sha256=sha, signature=signature, key_id=key,
            metrics=metrics or {}, lineage=lineage or {}, created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        audit.record(user, "model.register", version, {"project": project.pk, "architecture": architecture,
                                                       "sha256": sha, "key": key})
    return version


def make_current(version: ModelVersion, user=None) -> ModelVersion:
    """This version scores the project's frames from now on (the previous current one stops)."""
    with transaction.atomic():
        ModelVersion.objects.select_for_update().filter(project_id=version.project_id, kind=version.kind,
                                                        is_current=True).update(is_current=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_current=True)
        audit.record(user, "model.current", version, {"project": version.project_id, "sha256": version.sha256})
        # a new current model re-ranks the queue (the queue serves the old scores meanwhile)
        jobs.enqueue("start_scoring", version.project_id, "new current model")
        transaction.on_commit(lambda: cache.forget("detector", version.project_id))  # suggestions use it
    version.is_current = True
    return version


def load(version: ModelVersion):
    """The model of a stored version, re-checked (hash and signature) before it is loaded."""
    with blobstore.open_blob(version.blob_name) as fh:
        data = fh.read()
    model, _, _ = verify_and_load(data, version.architecture, version.class_map, version.signature,
                                  key_id=version.key_id or None, signed_at=version.created_at)
    return model


def verify_version(version: ModelVersion) -> keyring.Verdict:
    """A stored version's weights against its signature: the hash (a changed or missing file
    fails) and the key that signed, with its state as of the registration."""
    try:
        with blobstore.open_blob(version.blob_name) as fh:
            data = fh.read()
    except (FileNotFoundError, OSError):
        return keyring.Verdict(False, keyring.find(version.key_id), version.key_id,
                               problem=f"the weights file {version.blob_name} is missing")
    if hashlib.sha256(data).hexdigest() != version.sha256:
        return keyring.Verdict(False, keyring.find(version.key_id), version.key_id,
                               problem="the weights file's sha256 is not the recorded one")
    return check_signature(data, version.architecture, version.class_map, version.signature,
                           key_id=version.key_id or None, signed_at=version.created_at)
