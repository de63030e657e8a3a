"""Ed25519 keys as aerie stores them: raw public keys in base64, key ids (the first 16 hex digits
of the sha256 of the raw public key), PEM private key files readable by their owner only."""
from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class KeyringError(ValueError):
    """A key that is not one, or a keyring that cannot do what was asked; nothing was changed."""


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def public_from_b64(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text.strip(), validate=True))
    except ValueError as exc:
        raise KeyringError(f"not a raw Ed25519 public key in base64 ({exc})") from None


def raw_verify(key: Ed25519PublicKey, data: bytes, signature_b64: str) -> bool:
    try:
        key.verify(base64.b64decode(signature_b64 or "", validate=True), data)
        return True
    except (InvalidSignature, ValueError):
        return False


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """A new PEM file readable by its owner only (in a directory made for its owner only when
    new); never overwrites."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def read_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyringError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyringError(f"{path} is not an Ed25519 private key")
    return key
