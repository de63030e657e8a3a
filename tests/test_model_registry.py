"""The model registry refuses anything it cannot trust: unsigned, tampered, foreign-signed,
mis-shaped or non-weights files and unknown architectures. Nothing is stored when it refuses."""
import base64
import io

import pytest
import torch
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from labeling.access import signing
from labeling.models import AuditEvent, ModelVersion
from labeling.sampling import registry

ARCH = "mobilenet_v3_small"


def weights(n_classes=1, seed=0) -> bytes:
    torch.manual_seed(seed)
    buffer = io.BytesIO()
    torch.save(registry.build(ARCH, n_classes).state_dict(), buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def good():
    return weights()


def test_a_signed_model_registers_loads_and_becomes_current(project, users, good):
    signature = registry.sign(good, ARCH, ["crowd"])
    version = registry.register(project, good, architecture=ARCH, class_map=["crowd"], signature=signature,
                                user=users["trainer"], metrics={"accuracy": 0.5}, lineage={"dataset_version": None})
    assert version.kind == ModelVersion.CLASSIFIER and version.key_id == signing.key_id() and not version.is_current
    model = registry.load(version)
    with torch.inference_mode():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 1)
    registry.make_current(version, users["trainer"])
    second = registry.register(project, weights(seed=1), architecture=ARCH, class_map=["crowd"],
                               signature=registry.sign(weights(seed=1), ARCH, ["crowd"]))
    registry.make_current(second)
    assert list(ModelVersion.objects.filter(is_current=True)) == [second]
    assert AuditEvent.objects.filter(verb="model.current").count() == 2


def test_weights_signed_by_a_trusted_outside_key(project, settings, good):
    outside = Ed25519PrivateKey.generate()
    raw = outside.public_key().public_bytes_raw()
    signature = base64.b64encode(outside.sign(registry.statement(
        __import__("hashlib").sha256(good).hexdigest(), ARCH, ["crowd"]))).decode()
    with pytest.raises(registry.RegistryError, match="signature"):
        registry.register(project, good, architecture=ARCH, class_map=["crowd"], signature=signature)
    settings.AERIE_TRUSTED_MODEL_KEYS = [base64.b64encode(raw).decode()]
    assert registry.register(project, good, architecture=ARCH, class_map=["crowd"], signature=signature).pk


class NotWeights:
    pass


@pytest.mark.parametrize("case, message", [
    ("unsigned", "signature"),
    ("tampered", "signature"),
    ("signed for another architecture", "signature"),
    ("unknown architecture", "not allowed"),
    ("mis-shaped", "do not fit"),
    ("pickled code", "weights_only"),
    ("empty", "empty"),
    ("unknown class", "not a class"),
    ("box class for a classifier", "box"),
])
def test_refusals_store_nothing(project, good, case, message):
    data, arch, class_map = good, ARCH, ["crowd"]
    signature = registry.sign(good, ARCH, ["crowd"])
    if case == "unsigned":
        signature = ""
    elif case == "tampered":
        data = good[:-10] + bytes(10)
    elif case == "signed for another architecture":
        signature = registry.sign(good, "ssdlite320_mobilenet_v3_large", ["crowd"])
    elif case == "unknown architecture":
        arch = "resnet152"
    elif case == "mis-shaped":  # signed correctly, but trained for two classes, declared with one
        data = weights(n_classes=2)
        signature = registry.sign(data, ARCH, ["crowd"])
    elif case == "pickled code":
        buffer = io.BytesIO()
        torch.save({"evil": NotWeights()}, buffer)
        data = buffer.getvalue()
        signature = registry.sign(data, ARCH, ["crowd"])
    elif case == "empty":
        data = b""
        signature = registry.sign(data, ARCH, ["crowd"])
    elif case == "unknown class":
        class_map = ["dragon"]
    elif case == "box class for a classifier":
        class_map = ["person"]
    with pytest.raises(registry.RegistryError, match=message):
        registry.register(project, data, architecture=arch, class_map=class_map, signature=signature)
    assert not ModelVersion.objects.exists()


def test_a_stored_file_changed_on_disk_is_refused_at_load(project, good):
    from pathlib import Path

    from django.core.files.storage import storages

    version = registry.register(project, good, architecture=ARCH, class_map=["crowd"],
                                signature=registry.sign(good, ARCH, ["crowd"]))
    path = Path(storages["default"].path(version.blob_name))
    original = path.read_bytes()
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))  # flip the last byte
    with pytest.raises(registry.RegistryError, match="signature"):
        registry.load(version)


def test_detectors_are_built_offline_for_the_ontology():
    model = registry.build("fasterrcnn_mobilenet_v3_large_320_fpn", 3)
    assert model.roi_heads.box_predictor.cls_score.out_features == 4  # three classes and background


def test_the_api_takes_signed_uploads_from_trainers_only(project, users, good):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import api_client

    url = f"/api/projects/{project.pk}/models/"

    def form(signature):
        return {"file": SimpleUploadedFile("tags.pt", good), "architecture": ARCH, "class_map": '["crowd"]',
                "signature": signature, "metrics": '{"accuracy": 0.9}'}

    signature = registry.sign(good, ARCH, ["crowd"])
    assert api_client(users["annotator"]).post(url, form(signature), format="multipart").status_code == 403
    assert api_client(users["outsider"]).get(url).status_code == 404
    trainer = api_client(users["trainer"])
    refused = trainer.post(url, form("bm90IGEgc2lnbmF0dXJl"), format="multipart")
    assert refused.status_code == 400 and "signature" in refused.json()["detail"]
    bad_json = trainer.post(url, {**form(signature), "class_map": "crowd"}, format="multipart")
    assert bad_json.status_code == 400 and not ModelVersion.objects.exists()
    made = trainer.post(url, form(signature), format="multipart")
    assert made.status_code == 201 and made.json()["metrics"] == {"accuracy": 0.9}
    current = trainer.post(f"{url}{made.json()['id']}/current/")
    assert current.status_code == 200 and current.json()["is_current"]
    assert [m["id"] for m in trainer.get(url).json()] == [made.json()["id"]]
