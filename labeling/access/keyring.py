"""The signing keyring: which Ed25519 key signs now, and which keys a signature may be checked
against, with the state of each (labeling.models.SigningKey).

- The database holds every public key with its state and dates, and names the active key.
  Its private key is the PEM file `<key id>.pem` in AERIE_SIGNING_KEY_DIR (mode 0600), which
  every web server and worker reads; AERIE_SIGNING_KEY_FILE is the keyring's first key (the
  key installations used before the keyring: it is recorded as the first key the first time
  anything signs, and made if absent, as before).
- A signature names its key id; one without (made before the keyring, or a bare signature
  string) is checked against the first key.
- A signature by a revoked key made at or after the revocation time is untrusted; one made
  before it still verifies, with a warning (`Verdict.warning`).
- Other installations' keys (AERIE_TRUSTED_MODEL_KEYS) are recorded as `trusted-external`.

Changing the keyring (rotate, revoke, retire, trust) is labeling.access.key_custody's; this
module reads it, and records only what was already configured (the first key, settings' keys)."""
from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from labeling import audit, jobs
from labeling.access.ed25519 import (  # noqa: F401 (the keyring's vocabulary, used through it)
    KeyringError,
    key_id_of,
    public_from_b64,
    raw_public,
    raw_verify,
    read_private_key,
    write_private_key,
)
from labeling.models import SigningKey

KEYRING_LOCK = 7_262_021_735_441_870_437  # advisory lock: one writer of the keyring at a time


@lru_cache(maxsize=4)
def _load_private_key(path: str) -> Ed25519PrivateKey:
    """AERIE_SIGNING_KEY_FILE's key, made (mode 0600) when the file is absent."""
    key_path = Path(path)
    if not key_path.exists():
        try:
            write_private_key(key_path, Ed25519PrivateKey.generate())
        except FileExistsError:
            pass  # another process made it meanwhile
    return read_private_key(key_path)


@lru_cache(maxsize=16)
def _dir_key(path: str, mtime_ns: int) -> Ed25519PrivateKey:
    return read_private_key(Path(path))


def file_key() -> Ed25519PrivateKey:
    return _load_private_key(str(settings.AERIE_SIGNING_KEY_FILE))


def key_path(key_id: str) -> Path:
    return Path(settings.AERIE_SIGNING_KEY_DIR) / f"{key_id}.pem"


def private_key_for(key_id: str) -> Ed25519PrivateKey | None:
    """The private key of one of this installation's keys, from the key directory (or the key
    file, for the first key); None when this machine does not hold it."""
    path = key_path(key_id)
    if path.exists():
        key = _dir_key(str(path), path.stat().st_mtime_ns)
        if key_id_of(key.public_key()) != key_id:
            raise KeyringError(f"{path} holds another key (id {key_id_of(key.public_key())}), not {key_id}")
        return key
    legacy = Path(settings.AERIE_SIGNING_KEY_FILE)
    if legacy.exists() and key_id_of(file_key().public_key()) == key_id:
        return file_key()
    return None


# --- reading the keyring -----------------------------------------------------------------------

@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    public: Ed25519PublicKey
    state: str
    origin: str
    created_at: dt.datetime | None = None
    activated_at: dt.datetime | None = None
    retired_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    revoked_reason: str = ""

    @classmethod
    def of(cls, row: SigningKey) -> "KeyInfo":
        return cls(row.key_id, public_from_b64(row.public_key), row.state, row.origin, row.created_at,
                   row.activated_at, row.retired_at, row.revoked_at, row.revoked_reason)

    @property
    def public_bytes(self) -> bytes:
        return raw_public(self.public)

    def describe(self) -> str:
        """'key 1f2e… (retired 2026-03-01)': which key and its state, for command output."""
        when = {SigningKey.RETIRED: self.retired_at, SigningKey.REVOKED: self.revoked_at,
                SigningKey.ACTIVE: self.activated_at}.get(self.state)
        state = self.state + (f" {_when(when)}" if when else "")
        if self.state == SigningKey.REVOKED and self.revoked_reason:
            state += f": {self.revoked_reason}"
        return f"key {self.key_id} ({state})"


def _when(at: dt.datetime) -> str:
    return at.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _exact(at: dt.datetime) -> str:
    """To the microsecond: a signature and a revocation may fall in the same second."""
    return at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def _virtual_first() -> KeyInfo | None:
    """Before anything was recorded, the key file is the (only) key: read, never written."""
    if not Path(settings.AERIE_SIGNING_KEY_FILE).exists():
        return None
    public = file_key().public_key()
    return KeyInfo(key_id_of(public), public, SigningKey.ACTIVE, SigningKey.OWN)


def keys() -> list[KeyInfo]:
    """Every key of the keyring, first key first."""
    found = [KeyInfo.of(row) for row in SigningKey.objects.order_by("created_at", "id")]
    if not any(k.origin == SigningKey.OWN for k in found):
        virtual = _virtual_first()
        found = ([virtual] if virtual else []) + found
    return found


def find(key_id: str) -> KeyInfo | None:
    row = SigningKey.objects.filter(key_id=key_id).first()
    if row is not None:
        return KeyInfo.of(row)
    first_key = first()
    return first_key if first_key is not None and first_key.key_id == key_id else None


def first() -> KeyInfo | None:
    """The keyring's first own key: the one signatures without a key id were made with."""
    row = SigningKey.objects.filter(origin=SigningKey.OWN).order_by("created_at", "id").first()
    return KeyInfo.of(row) if row is not None else _virtual_first()


# --- signing -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Signer:
    """The active key, as one snapshot: its id goes with every signature it makes."""

    key_id: str
    private: Ed25519PrivateKey

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.private.sign(data)).decode()

    @property
    def public_bytes(self) -> bytes:
        return raw_public(self.private.public_key())


def active() -> Signer:
    """The key that signs now (the keyring's first key is recorded the first time)."""
    row = SigningKey.objects.filter(state=SigningKey.ACTIVE).first() or ensure()
    private = private_key_for(row.key_id)
    if private is None:
        raise KeyringError(
            f"the active signing key {row.key_id} has no private key on this machine: copy {row.key_id}.pem "
            f"from the machine that made it into AERIE_SIGNING_KEY_DIR ({settings.AERIE_SIGNING_KEY_DIR})")
    if key_id_of(private.public_key()) != row.key_id or raw_public(private.public_key()) != \
            base64.b64decode(row.public_key):
        raise KeyringError(f"the private key found for {row.key_id} does not match the keyring's public key")
    return Signer(row.key_id, private)


def lock() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [KEYRING_LOCK])


def ensure() -> SigningKey:
    """Record the key file's key as the first (active) key if the keyring has no own key yet,
    and import AERIE_TRUSTED_MODEL_KEYS; returns the active key's row. Recording the first key
    writes down configuration (the key already signed everything before the keyring) and is not
    an audit event; every change after it is."""
    current = SigningKey.objects.filter(state=SigningKey.ACTIVE).first()
    if current is None:
        with transaction.atomic():
            lock()
            current = SigningKey.objects.filter(state=SigningKey.ACTIVE).first()
            if current is None and SigningKey.objects.filter(origin=SigningKey.OWN).exists():
                raise KeyringError("the keyring has no active key (every own key is retired or revoked): "
                                   "make one with `manage.py rotate_signing_key`")
            if current is None:
                public = file_key().public_key()
                path = Path(settings.AERIE_SIGNING_KEY_FILE)
                made = min(timezone.now(), dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.timezone.utc))
                current = SigningKey.objects.create(
                    key_id=key_id_of(public), public_key=base64.b64encode(raw_public(public)).decode(),
                    origin=SigningKey.OWN, state=SigningKey.ACTIVE, source="key file", note=str(path),
                    created_at=made, activated_at=made)
    import_settings_keys()
    return current


def import_settings_keys() -> list[SigningKey]:
    """Record AERIE_TRUSTED_MODEL_KEYS that the keyring does not hold yet (trusted-external).
    A key already there keeps its state: a key retired or revoked here stays so."""
    texts = [t.strip() for t in settings.AERIE_TRUSTED_MODEL_KEYS if t and t.strip()]
    publics = {}
    for text in texts:
        try:
            public = public_from_b64(text)
        except KeyringError as exc:
            raise KeyringError(f"AERIE_TRUSTED_MODEL_KEYS holds a key that is not a raw Ed25519 key: {exc}") from None
        publics[key_id_of(public)] = public
    missing = set(publics) - set(SigningKey.objects.filter(key_id__in=publics).values_list("key_id", flat=True))
    made = []
    if missing:
        with transaction.atomic():
            lock()
            for kid in sorted(missing - set(SigningKey.objects.filter(key_id__in=missing)
                                            .values_list("key_id", flat=True))):
                row = SigningKey.objects.create(
                    key_id=kid, public_key=base64.b64encode(raw_public(publics[kid])).decode(),
                    origin=SigningKey.EXTERNAL, state=SigningKey.TRUSTED_EXTERNAL, source="settings",
                    note="AERIE_TRUSTED_MODEL_KEYS", created_at=timezone.now())
                audit.record(None, "signing_key.trust", row, {"key_id": kid, "source": "settings"})
                made.append(row)
            if made:
                jobs.enqueue("seal_audit")
    return made


# --- verifying ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """What a signature check found: ok (trusted), which key and its state, a warning for a
    signature that holds but deserves a look, or the problem."""

    ok: bool
    key: KeyInfo | None = None
    key_id: str = ""
    warning: str = ""
    problem: str = ""

    @property
    def state(self) -> str:
        return self.key.state if self.key else ""

    def describe(self) -> str:
        who = self.key.describe() if self.key else (f"key {self.key_id} (not in the keyring)" if self.key_id
                                                     else "no known key")
        text = f"signed by {who}"
        if self.warning:
            text += f"; WARNING: {self.warning}"
        if self.problem:
            text += f"; FAILED: {self.problem}"
        return text


def judge(key: KeyInfo, data: bytes, signature_b64: str, signed_at: dt.datetime | None) -> Verdict:
    """A signature against one known key, with the key's state and the time it was made."""
    if not raw_verify(key.public, data, signature_b64):
        return Verdict(False, key, key.key_id, problem="the signature does not verify under this key "
                                                       "(data or signature altered, or another key signed)")
    revoked, retired = key.revoked_at, key.retired_at
    if revoked is not None and signed_at is None:
        return Verdict(False, key, key.key_id,
                       problem=f"untrusted: the key was revoked at {_exact(revoked)} and the signature's time "
                               "is unknown")
    if revoked is not None and signed_at >= revoked:
        return Verdict(False, key, key.key_id,
                       problem=f"untrusted: made at {_exact(signed_at)}, after the key was revoked ({_exact(revoked)})")
    if revoked is not None:
        return Verdict(True, key, key.key_id, warning=f"signed by a key revoked later (made at {_exact(signed_at)}, "
                                                      f"the key revoked at {_exact(revoked)})")
    if retired is not None and signed_at is not None and signed_at > retired:
        return Verdict(True, key, key.key_id,
                       warning=f"made at {_exact(signed_at)}, after the key was retired ({_exact(retired)})")
    return Verdict(True, key, key.key_id)


def _checked(key: KeyInfo | None, key_id: str | None, data: bytes, signature_b64: str,
             signed_at: dt.datetime | None) -> Verdict:
    if key is None:
        return Verdict(False, None, key_id or "", problem=f"key {key_id or '(first)'} is not in this keyring")
    return judge(key, data, signature_b64, signed_at)


def check(data: bytes, signature_b64: str, *, key_id: str | None = None,
          signed_at: dt.datetime | None = None) -> Verdict:
    """Check a signature against the key it names (the first key when it names none)."""
    return _checked(find(key_id) if key_id else first(), key_id, data, signature_b64, signed_at)


class Ring:
    """The keyring read once, for checking many signatures (audit seals) without a query each."""

    def __init__(self, infos: list[KeyInfo]):
        self.by_id = {k.key_id: k for k in infos}
        self.first = next((k for k in infos if k.origin == SigningKey.OWN), None)

    def check(self, data: bytes, signature_b64: str, *, key_id: str | None = None,
              signed_at: dt.datetime | None = None) -> Verdict:
        return _checked(self.by_id.get(key_id) if key_id else self.first, key_id, data, signature_b64, signed_at)


def snapshot() -> Ring:
    return Ring(keys())


def check_new(data: bytes, signature_b64: str) -> Verdict:
    """A signature made just now, naming no key (model weights signed elsewhere): it must hold
    under the active key or a trusted external one, neither revoked."""
    now = timezone.now()
    ensure()
    candidates = SigningKey.objects.filter(state__in=[SigningKey.ACTIVE, SigningKey.TRUSTED_EXTERNAL])
    for row in candidates.order_by("created_at", "id"):
        key = KeyInfo.of(row)
        if raw_verify(key.public, data, signature_b64):
            return judge(key, data, signature_b64, now)
    for row in SigningKey.objects.exclude(state__in=[SigningKey.ACTIVE, SigningKey.TRUSTED_EXTERNAL]):
        key = KeyInfo.of(row)
        if raw_verify(key.public, data, signature_b64):
            return Verdict(False, key, key.key_id, problem=f"the key is {row.state}: it signs nothing new")
    return Verdict(False, problem="no active or trusted key made this signature")
