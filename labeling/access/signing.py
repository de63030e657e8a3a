"""Ed25519 signing of manifests (dataset versions, exports, model versions, audit seals, SBOMs).

What signs and what verifies is the keyring (labeling.access.keyring): the active key signs,
every signature records the id of the key that made it, and a check reports which key signed
and that key's state. Take one `signer()` for a document: its `key_id` and its signatures go
together even if the key is rotated meanwhile."""
from __future__ import annotations

import base64
import datetime as dt
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from labeling.access import keyring
from labeling.access.keyring import KeyringError, Signer, Verdict, _load_private_key  # noqa: F401 (re-exported)


def signer() -> Signer:
    """The active key (id and private key) as one snapshot."""
    return keyring.active()


def private_key() -> Ed25519PrivateKey:
    return signer().private


def public_key() -> Ed25519PublicKey:
    return private_key().public_key()


def public_key_bytes(key: Ed25519PublicKey | None = None) -> bytes:
    return keyring.raw_public(key or public_key())


def key_id(key: Ed25519PublicKey | None = None) -> str:
    """The id of `key`, or of the active key."""
    return keyring.key_id_of(key) if key is not None else signer().key_id


def public_key_b64(key_id: str) -> str | None:
    """The base64 raw public key of a keyring key (for whoever checks a signature elsewhere)."""
    key = keyring.find(key_id) if key_id else None
    return base64.b64encode(key.public_bytes).decode() if key else None


def sign(data: bytes) -> str:
    return signer().sign(data)


def check(data: bytes, signature_b64: str, *, key_id: str | None = None,
          signed_at: dt.datetime | None = None) -> Verdict:
    """Which key signed (the one named; the keyring's first key when none is named), its state,
    and whether the signature is trusted (see keyring.judge)."""
    return keyring.check(data, signature_b64 or "", key_id=key_id, signed_at=signed_at)


def ring() -> keyring.Ring:
    """The keyring read once, to check many signatures (Ring.check is `check` without a query)."""
    return keyring.snapshot()


def verify(data: bytes, signature_b64: str, key: Ed25519PublicKey | None = None, *, key_id: str | None = None,
           signed_at: dt.datetime | None = None) -> bool:
    """True when the signature is trusted: under `key` when given (another installation's
    public key), else under the keyring's key named by `key_id` (the first key when None)."""
    if key is not None:
        return keyring.raw_verify(key, data, signature_b64 or "")
    return check(data, signature_b64, key_id=key_id, signed_at=signed_at).ok


def canonical_json(obj) -> bytes:
    """Deterministic JSON bytes: the same content always signs to the same bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_time(text):
    """A signed document's own time (ISO 8601, e.g. an export manifest's `created_at`) as an aware
    datetime for `check(signed_at=…)`; naive is UTC; None when absent or unreadable."""
    import datetime as dt

    try:
        at = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
