"""The service's Ed25519 key, which signs the audit trail's checkpoints.

The key comes from the `audit_signing_key` setting (a PEM, or the base64 of the 32-byte seed)
or from `<data_dir>/audit-signing-key.pem`, which is made on first need, readable by its owner
only. The public half travels with every checkpoint, so anyone can verify one offline; see
docs/audit-checkpoints.md.
"""

import base64
import hashlib
import os
import secrets
import stat
import threading
from pathlib import Path

import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import SecretStr

KEY_FILE = "audit-signing-key.pem"
log = structlog.get_logger("app.audit")


class SigningKeyUnusable(Exception):
    pass


def key_id(public_key: str) -> str:
    """A short name for a public key (base64 of its 32 raw bytes): its SHA-256, 16 hex digits."""
    try:
        raw = base64.b64decode(public_key, validate=True)
    except ValueError:
        return "unreadable"
    return hashlib.sha256(raw).hexdigest()[:16]


def signature_valid(public_key: str, message: bytes, signature: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):  # binascii.Error is a ValueError
        return False
    return True


def _parse(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except ValueError as exc:
        raise SigningKeyUnusable(f"not an Ed25519 private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyUnusable("the audit signing key must be an Ed25519 key")
    return key


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Written whole under a name of its own, then linked into place: a reader never sees half a
    # key, and when two processes start at once the first link wins and both use that key.
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if hasattr(os, "fchmod"):  # the mode given to open() is narrowed by the umask only
            os.fchmod(fd, 0o600)
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(draft, path)
        log.info("audit_signing_key_created", path=str(path))
    except FileExistsError:
        pass
    except OSError:  # a file system without hard links: the last writer wins, once
        if not path.exists():
            os.replace(draft, path)
            log.info("audit_signing_key_created", path=str(path))
    finally:
        draft.unlink(missing_ok=True)


def _load(path: Path) -> Ed25519PrivateKey:
    if not path.exists():
        _create(path)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("audit_signing_key_exposed", path=str(path), hint=f"chmod 600 {path}")
    return _parse(path.read_text())


class Signer:
    """Signs with the configured key; loads (or makes) it on first use, once per process."""

    def __init__(self, *, key: SecretStr | None, path: Path) -> None:
        self._given, self._path = key, path
        self._key: Ed25519PrivateKey | None = None
        self._lock = threading.Lock()

    def _private(self) -> Ed25519PrivateKey:
        with self._lock:
            if self._key is None:
                given = self._given.get_secret_value() if self._given is not None else None
                self._key = _parse(given) if given else _load(self._path)
            return self._key

    @property
    def public_key(self) -> str:
        raw = self._private().public_key().public_bytes_raw()
        return base64.b64encode(raw).decode()

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._private().sign(message)).decode()
