"""The callers whose keys were looked up lately, so that a cheap request costs neither a key
query nor a worker-thread hand-off (issue 23: the look-up was a third of an audited read).

An entry serves only while nothing that decides a key's standing has changed since it was read:
the key itself (revoked), the case an ingest key is bound to, the cases it is a member of. Any
change to those rows bumps a generation, in this process when the change is flushed and again
when it commits or rolls back, and in a small file in the data directory that every worker of
the service and every CLI run with the same data directory map: a revocation or a membership
removal counts at the next request, whichever process serves it. A process that does not share
the data directory (a second host's service on the same PostgreSQL) is bounded by the entry's
age instead (`principal_cache_seconds`). A key's expiry is checked at each use. Unknown keys are
never kept: a key made elsewhere works at once, and a flood of made-up keys fills nothing.
"""

import fcntl
import hashlib
import mmap
import os
import struct
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.memo import BoundedCache
from app.principal import Principal

GENERATION_FILE = "access.generation"
_COUNTER = struct.Struct("<Q")
_CHANGED = "access_standing_changed"  # Session.info flag: a standing row was flushed


class _Generations:
    """This process's generation and the generation files it has open (one a data directory)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.local = 0
        self.files: weakref.WeakSet[GenerationFile] = weakref.WeakSet()
        self.tables: frozenset[str] = frozenset()

    def bump(self) -> None:
        with self._lock:
            self.local += 1
            files = list(self.files)
        for file in files:
            file.bump()


_GENERATIONS = _Generations()


class GenerationFile:
    """An 8-byte counter in `<data_dir>/access.generation`, mapped: reading it is a memory load,
    bumping it takes an exclusive file lock so that two processes never lose one."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / GENERATION_FILE
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _COUNTER.size:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    if os.fstat(fd).st_size < _COUNTER.size:
                        os.ftruncate(fd, _COUNTER.size)
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            self._map = mmap.mmap(fd, _COUNTER.size)
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd

    def read(self) -> int:
        # A torn read can only give a value that matches no entry: a miss, never a wrong hit.
        return int(_COUNTER.unpack_from(self._map, 0)[0])

    def bump(self) -> None:
        fd = self._fd
        if fd is None:
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            _COUNTER.pack_into(self._map, 0, self.read() + 1)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:  # once: a second os.close could close a descriptor reused since
            self._map.close()
            os.close(fd)

    def __del__(self) -> None:
        self.close()


def share_generation(data_dir: Path) -> GenerationFile:
    """Open the data directory's generation file; while it is held, every change to a key's
    standing made in this process bumps it (a CLI run holds it for its command)."""
    file = GenerationFile(data_dir)
    _GENERATIONS.files.add(file)
    return file


def watch_standing(tables: Iterable[str]) -> None:
    """Name the tables whose rows decide a key's standing (the key domain's and the case
    domain's, by name: this module knows no domain)."""
    _GENERATIONS.tables = _GENERATIONS.tables | frozenset(tables)


@event.listens_for(Session, "after_flush")
def _standing_flushed(session: Session, _context: Any) -> None:
    tables = _GENERATIONS.tables
    for obj in (*session.new, *session.dirty, *session.deleted):
        if getattr(obj, "__tablename__", None) in tables:
            session.info[_CHANGED] = True
            _GENERATIONS.bump()  # seen by this session's own connection already
            return


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _standing_settled(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        _GENERATIONS.bump()


@dataclass(frozen=True, slots=True)
class _Kept:
    principal: Principal
    generation: tuple[int, int]
    at: float


class PrincipalCache:
    """Principals by the digest of their secret, bounded by count and bytes."""

    def __init__(
        self, *, data_dir: Path, max_entries: int, max_bytes: int, max_age_seconds: float
    ) -> None:
        self._file = share_generation(data_dir)
        self.max_age = max_age_seconds
        self._kept = BoundedCache[bytes, _Kept](
            max_entries=max_entries if max_age_seconds > 0 else 0,
            max_bytes=max_bytes,
            size_of=lambda _key, kept: 32 + 100 + len(kept.principal.name) * 4 + _reach(kept),
        )

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def held_bytes(self) -> int:
        return self._kept.bytes

    def generation(self) -> tuple[int, int]:
        """Read before a look-up: an entry stored under it is stale if anything changed since."""
        return _GENERATIONS.local, self._file.read()

    @staticmethod
    def digest(secret: str) -> bytes:
        return hashlib.sha256(secret.encode()).digest()

    def get(self, digest: bytes) -> Principal | None:
        kept = self._kept.get(digest)
        if kept is None:
            return None
        expires = kept.principal.expires_at
        if (
            kept.generation != self.generation()
            or time.monotonic() - kept.at > self.max_age
            or (expires is not None and expires <= datetime.now(UTC))
        ):
            self._kept.discard(digest)
            return None
        return kept.principal

    def put(self, digest: bytes, principal: Principal, generation: tuple[int, int]) -> None:
        self._kept.put(digest, _Kept(principal, generation, time.monotonic()))

    def close(self) -> None:
        _GENERATIONS.files.discard(self._file)
        self._file.close()


def _reach(kept: _Kept) -> int:
    reach = kept.principal.reach
    return 0 if reach is None else 60 * len(reach.cases)
