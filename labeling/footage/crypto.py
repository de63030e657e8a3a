"""Encryption at rest of raw footage: the blob format, the keys, and streaming reads and writes.

A blob written with a key configured is an *envelope*: a random 256-bit data key per blob
encrypts the bytes with AES-256-GCM, and the key-encryption key (KEK, from AERIE_DATA_KEY_FILE
or AERIE_DATA_KEY) wraps that data key (AES key wrap, RFC 3394). The wrapped key and the KEK's id
sit in the blob's fixed-size header, so a blob on S3 is as self-contained as one on disk, and
rotating the KEK replaces the 68-byte header of each blob and copies its ciphertext as it is: the
frames are never decrypted or re-encrypted (labeling.footage.rekey).

Layout: header (68 bytes) then segments. Each segment is at most SEGMENT bytes of plaintext
sealed with the nonce prefix ‖ segment index ‖ final flag, and with the header's fixed part and
the blob's name as associated data: a reordered, dropped, appended or swapped segment, a cut at
any byte, or a blob moved to another name, each fail authentication (BlobIntegrityError).

Reading decrypts one segment at a time (`Opened`, a seekable file object): nothing in plaintext
is written anywhere on the way. A blob without the magic is plaintext (written before encryption
was switched on) and reads as it is. Content addresses (sha256) are always of the plaintext."""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MAGIC = b"AERIEenc"
VERSION = 1
SEGMENT = 64 * 1024
TAG = 16
# magic, version, kek id, wrapped data key, nonce prefix, segment size
_HEADER = struct.Struct(">8sB8s40s7sI")
HEADER_SIZE = _HEADER.size  # 68
_WRAPPED_AT = 8 + 1 + 8  # where the (kek id, wrapped key) pair ends: bytes 9..57 are rewritten by rotation
RAW_KINDS = {"frames", "raw16"}  # the footage as it came: encrypted whenever a key is configured
DERIVED_PREFIXES = ("thumbs", "blurred", "derived", "palette-")  # encrypted only with AERIE_ENCRYPT_DERIVED


class DataKeyError(Exception):
    """The blob cannot be decrypted with the configured keys (wrong key, missing key)."""


class BlobIntegrityError(Exception):
    """The blob's ciphertext fails authentication: tampered with, truncated, reordered."""


@dataclass(frozen=True)
class Keyring:
    current_id: bytes | None  # new blobs are wrapped with this KEK
    keys: dict  # kek id → 32-byte KEK: the current one and those still being rotated away from

    @property
    def enabled(self) -> bool:
        return self.current_id is not None


def key_id(kek: bytes) -> bytes:
    """A KEK's 8-byte id: names it in headers and audit events, reveals nothing of it."""
    return hashlib.sha256(b"aerie data kek\x00" + kek).digest()[:8]


def parse_key(text: bytes, where: str) -> bytes:
    """A KEK from a key file's bytes or the environment: 32 raw bytes, or their base64."""
    if len(text) == 32:
        return bytes(text)
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ImproperlyConfigured(f"{where}: a data key is 32 random bytes, raw or base64 (make one with "
                                   "`manage.py rotate_data_key --generate PATH`)")
    return key


def read_key_file(path) -> bytes:
    try:
        return parse_key(Path(path).read_bytes(), str(path))
    except OSError as exc:
        raise ImproperlyConfigured(f"data key file {path}: {exc.strerror or exc}") from None


def generate_key_file(path) -> bytes:
    """Write a new random KEK (base64, mode 0600) to a file that must not exist yet; return its id."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kek = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64encode(kek) + b"\n")
    return key_id(kek)


_cache: dict = {}
_cache_lock = threading.Lock()


def _stamp(path) -> tuple:
    try:
        st = os.stat(path)
        return (str(path), st.st_mtime_ns, st.st_size)
    except OSError:
        return (str(path), None, None)


def keyring() -> Keyring:
    """The configured keys (cached until a setting or a key file changes)."""
    file, env = getattr(settings, "AERIE_DATA_KEY_FILE", None), getattr(settings, "AERIE_DATA_KEY", "")
    old = tuple(getattr(settings, "AERIE_DATA_OLD_KEY_FILES", ()) or ())
    stamp = (_stamp(file) if file else None, env, tuple(_stamp(p) for p in old))
    with _cache_lock:
        found = _cache.get(stamp)
    if found is not None:
        return found
    if file and env:
        raise ImproperlyConfigured("set AERIE_DATA_KEY_FILE or AERIE_DATA_KEY, not both")
    current = read_key_file(file) if file else (parse_key(env.encode(), "AERIE_DATA_KEY") if env else None)
    keys = {key_id(k): k for k in (read_key_file(p) for p in old)}
    if current is not None:
        keys[key_id(current)] = current
    ring = Keyring(key_id(current) if current is not None else None, keys)
    with _cache_lock:
        _cache.clear()
        _cache[stamp] = ring
    return ring


def is_raw(name: str) -> bool:
    return name.split("/", 1)[0] in RAW_KINDS


def should_encrypt(name: str, raw: bool | None = None) -> bool:
    """Whether a blob written now under `name` is encrypted: raw footage whenever a key is set,
    derived renditions only with AERIE_ENCRYPT_DERIVED, anything else (models, exports) never.
    `raw` overrides what the name says (a rendition named by hash that copies a raw frame)."""
    return keyring().enabled and encrypted_kind(name, raw)


def encrypted_kind(name: str, raw: bool | None = None) -> bool:
    """Whether blobs of this name's kind are to be encrypted (when a key is configured)."""
    if raw if raw is not None else is_raw(name):
        return True
    return bool(settings.AERIE_ENCRYPT_DERIVED) and name.split("/", 1)[0].startswith(DERIVED_PREFIXES)


# ---------------------------------------------------------------------------------- format

@dataclass(frozen=True)
class Header:
    kek_id: bytes
    wrapped: bytes
    prefix: bytes
    segment: int

    def pack(self) -> bytes:
        return _HEADER.pack(MAGIC, VERSION, self.kek_id, self.wrapped, self.prefix, self.segment)

    def aad(self, context: str) -> bytes:
        """What every segment authenticates besides its index and final flag: the header's fixed
        part (never the wrapped key, which rotation rewrites) and the blob's name."""
        return MAGIC + bytes([VERSION]) + self.prefix + struct.pack(">I", self.segment) + context.encode()


def parse_header(head: bytes, context: str) -> Header:
    if len(head) < HEADER_SIZE:
        raise BlobIntegrityError(f"{context}: encrypted blob cut short inside its header")
    magic, version, kek_id, wrapped, prefix, segment = _HEADER.unpack(head[:HEADER_SIZE])
    if magic != MAGIC:
        raise BlobIntegrityError(f"{context}: not an encrypted blob")
    if version != VERSION or not 0 < segment <= 16 * 1024 * 1024:
        raise BlobIntegrityError(f"{context}: unknown encrypted blob version {version} (segment {segment})")
    return Header(kek_id, wrapped, prefix, segment)


def is_encrypted(head: bytes) -> bool:
    return head[: len(MAGIC)] == MAGIC


def _nonce(prefix: bytes, index: int, final: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if final else 0)


def unwrap(header: Header, ring: Keyring, context: str) -> bytes:
    kek = ring.keys.get(header.kek_id)
    if kek is None:
        have = ", ".join(k.hex() for k in ring.keys) or "none: no AERIE_DATA_KEY_FILE or AERIE_DATA_KEY is set"
        raise DataKeyError(f"{context}: encrypted with data key {header.kek_id.hex()}, which is not configured "
                           f"(configured: {have})")
    try:
        return aes_key_unwrap(kek, header.wrapped)
    except InvalidUnwrap:
        raise DataKeyError(f"{context}: the data key {header.kek_id.hex()} does not unwrap this blob's key "
                           "(wrong key file, or the header was tampered with)") from None


def rewrap(head: bytes, ring: Keyring, target: bytes, context: str) -> bytes:
    """The header re-wrapped under KEK `target` (an id in `ring`): the data key and the
    ciphertext stay as they are."""
    header = parse_header(head, context)
    dek = unwrap(header, ring, context)
    return Header(target, aes_key_wrap(ring.keys[target], dek), header.prefix, header.segment).pack()


class Sealer:
    """Streaming encryption: write() plaintext, close() seals the final segment. Writes only
    ciphertext to `out`."""

    def __init__(self, out, context: str, ring: Keyring | None = None, segment: int = SEGMENT):
        ring = ring or keyring()
        if not ring.enabled:
            raise DataKeyError("no data key configured (AERIE_DATA_KEY_FILE or AERIE_DATA_KEY)")
        self._dek = os.urandom(32)
        self.header = Header(ring.current_id, aes_key_wrap(ring.keys[ring.current_id], self._dek),
                             os.urandom(7), segment)
        self._gcm, self._aad = AESGCM(self._dek), self.header.aad(context)
        self._out, self._buf, self._index, self.closed = out, bytearray(), 0, False
        out.write(self.header.pack())

    def _seal(self, data: bytes, final: bool) -> None:
        self._out.write(self._gcm.encrypt(_nonce(self.header.prefix, self._index, final), data, self._aad))
        self._index += 1

    def write(self, data) -> int:
        self._buf += data
        seg = self.header.segment
        full = (len(self._buf) - 1) // seg  # keep at least one byte back: the last segment is sealed as final
        if full > 0:
            with memoryview(self._buf) as view:
                for i in range(full):
                    self._seal(bytes(view[i * seg:(i + 1) * seg]), False)
            del self._buf[:full * seg]
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buf), True)
            self._buf = bytearray()
            self.closed = True


def seal(data: bytes, context: str, ring: Keyring | None = None) -> bytes:
    out = io.BytesIO()
    sealer = Sealer(out, context, ring)
    sealer.write(data)
    sealer.close()
    return out.getvalue()


class Opened(io.RawIOBase):
    """A seekable, read-only file object over an encrypted blob that decrypts one segment at a
    time (only the current segment is held in memory)."""

    def __init__(self, raw, context: str, ring: Keyring | None = None):
        super().__init__()
        self._raw, self.name = raw, context
        try:
            raw.seek(0)
            self.header = parse_header(raw.read(HEADER_SIZE), context)
            self._gcm = AESGCM(unwrap(self.header, ring or keyring(), context))
            raw.seek(0, io.SEEK_END)  # some storages' files return None from seek: ask tell
            body = raw.tell() - HEADER_SIZE
        except BaseException:
            raw.close()
            raise
        stride = self.header.segment + TAG
        self._segments = max(1, -(-body // stride))
        self.size = body - TAG * self._segments
        if self.size < 0 or body % stride and body % stride < TAG:
            raw.close()
            raise BlobIntegrityError(f"{context}: encrypted blob cut short (truncated)")
        self._aad, self._pos, self._cached = self.header.aad(context), 0, (-1, b"")
        try:
            self._segment(self._segments - 1)  # the final segment, authenticated now: a cut blob fails at open
        except BaseException:
            raw.close()
            raise

    def _segment(self, index: int) -> bytes:
        if self._cached[0] == index:
            return self._cached[1]
        stride = self.header.segment + TAG
        self._raw.seek(HEADER_SIZE + index * stride)
        sealed = self._raw.read(stride)
        try:
            data = self._gcm.decrypt(_nonce(self.header.prefix, index, index == self._segments - 1), sealed, self._aad)
        except InvalidTag:
            raise BlobIntegrityError(f"{self.name}: segment {index} of {self._segments} fails authentication "
                                     "(the blob was tampered with, truncated or reordered)") from None
        self._cached = (index, data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:
        if self._pos >= self.size:
            return 0
        index, offset = divmod(self._pos, self.header.segment)
        data = self._segment(index)
        n = min(len(buffer), len(data) - offset)
        buffer[:n] = data[offset:offset + n]
        self._pos += n
        return n

    def readall(self) -> bytes:
        parts = []
        while self._pos < self.size:
            index, offset = divmod(self._pos, self.header.segment)
            data = self._segment(index)
            parts.append(data[offset:] if offset else data)
            self._pos += len(data) - offset
        return b"".join(parts)

    def read(self, size: int = -1) -> bytes:
        """Exactly `size` bytes unless the end comes first (zipfile and Pillow count on it)."""
        if size is None or size < 0:
            return self.readall()
        out = bytearray()
        while len(out) < size and self._pos < self.size:
            index, offset = divmod(self._pos, self.header.segment)
            piece = self._segment(index)[offset:offset + size - len(out)]
            out += piece
            self._pos += len(piece)
        return bytes(out)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
            self._cached = (-1, b"")
        super().close()


def open_reader(raw, context: str):
    """`raw` (a seekable binary file object at 0) as it should be read: decrypted when it is an
    envelope, as it is when it is plaintext."""
    head = raw.read(len(MAGIC))
    raw.seek(0)
    return Opened(raw, context) if is_encrypted(head) else raw


# ---------------------------------------------------------------------------------- local files

UPLOAD_CONTEXT = "aerie-upload"  # what uploads authenticate as their name (they are renamed once stored)


def open_local(path) -> io.RawIOBase:
    """A local file (an upload on its way to ingest) opened for reading, decrypted if encrypted."""
    return open_reader(open(path, "rb"), UPLOAD_CONTEXT)


class LocalWriter:
    """Writes a local file encrypted when a key is configured (else in the clear), as a context
    manager: `with LocalWriter(path) as out: out.write(chunk)`. The file appears under its name
    only once complete (a hidden temp file, renamed on close; removed on an error), so the key
    rotation, which skips hidden files, never copies half of one."""

    def __init__(self, path):
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.urandom(4).hex()}.part")
        self._fh = open(self._tmp, "wb")
        self._sealer = Sealer(self._fh, UPLOAD_CONTEXT) if keyring().enabled else None

    def write(self, data) -> int:
        return (self._sealer or self._fh).write(data)

    def close(self, keep: bool = True) -> None:
        if self._fh.closed:
            return
        try:
            if self._sealer is not None and keep:
                self._sealer.close()
        finally:
            self._fh.close()
        if keep:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, kind, *exc):
        self.close(keep=kind is None)
