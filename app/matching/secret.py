"""The server secret the match digests are keyed with.

It comes from the `match_key` setting (any string of at least 32 characters), or from
`<data_dir>/match-key`, 32 random bytes made on first need, readable by its owner only: kept as
the audit signing key is. The database never holds it (a migration cannot know it), so a copy
of the database alone cannot test a guessed account number against the match table. Changing
the secret orphans every digest: rebuild them with `moneytrail convergence reindex`.
"""

import hashlib
import hmac
import os
import secrets
import stat
import tempfile
import threading
from pathlib import Path

import structlog
from pydantic import SecretStr

MATCH_KEY_FILE = "match-key"
MIN_LENGTH = 32
log = structlog.get_logger("app.matching")


class MatchKeyUnusable(Exception):
    pass


def _create(path: Path) -> None:
    """Make the secret file whole or not at all: written to a temporary file beside it, then
    renamed into place, so that another process never reads it half-written. When two
    processes make one at once, the first rename wins and the other keeps the file it finds."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        try:
            if hasattr(os, "fchmod"):  # mkstemp makes it 0600; the umask cannot widen that
                os.fchmod(fd, 0o600)
            os.write(fd, secrets.token_hex(32).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        # link() fails when the file exists, where replace() would overwrite a secret already
        # used to key digests; both make the whole file appear at once.
        try:
            os.link(temporary, path)
        except FileExistsError:
            return
        except OSError:  # a file system without hard links: an exclusive create instead
            _create_exclusive(path, Path(temporary).read_bytes())
    finally:
        os.unlink(temporary)
    _sync_directory(path.parent)  # the new name survives a crash: digests depend on it
    log.info("match_key_created", path=str(path))


def _create_exclusive(path: Path, secret: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.write(fd, secret)
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not openable as a file here (Windows): nothing to sync
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _load(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _create(path)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("match_key_exposed", path=str(path), hint=f"chmod 600 {path}")
    text = path.read_text().strip()
    if len(text) < MIN_LENGTH:  # a file cut short by hand: never one this module wrote
        raise MatchKeyUnusable(f"{path} holds fewer than {MIN_LENGTH} characters")
    return text.encode()


class MatchKey:
    """Keys the digests; loads (or makes) the secret on first use, once per process."""

    def __init__(self) -> None:
        self._given: SecretStr | None = None
        self._path: Path | None = None
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def configure(self, *, key: SecretStr | None, path: Path) -> None:
        """Where the secret comes from (the app factory and the CLI call this with settings)."""
        with self._lock:
            if (key, path) != (self._given, self._path):
                self._given, self._path, self._key = key, path, None

    def _secret(self) -> bytes:
        with self._lock:
            if self._key is None:
                given = self._given.get_secret_value() if self._given is not None else None
                if given is not None and len(given) < MIN_LENGTH:
                    raise MatchKeyUnusable(f"match_key needs at least {MIN_LENGTH} characters")
                if given is None and self._path is None:
                    raise MatchKeyUnusable("the match key is not configured")
                self._key = given.encode() if given else _load(self._path)  # type: ignore[arg-type]
            return self._key

    def digest(self, kind: str, normalised: str) -> str:
        """HMAC-SHA256 of the kind and the normalised key, as 64 hex digits."""
        message = f"{kind}\x00{normalised}".encode()
        return hmac.new(self._secret(), message, hashlib.sha256).hexdigest()


# One per process, as the key cache is: every unit of work that stores a document indexes it.
MATCH_KEY = MatchKey()
