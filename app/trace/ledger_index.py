"""One ledger index shared by the service's worker processes, by memory map.

Each version of the index is a directory named by the ledger's fingerprint under
`<data_dir>/ledger-index` (written whole or not at all, `tracing.store`), and a pointer file
names the newest one with the id of the last transaction it holds. A process that finds the
database ahead of its ledger maps the version the pointer names if that one is current;
otherwise, holding a file lock so that one process builds while the others wait, it brings the
ledger up to date, writes the new version and moves the pointer. The pointer belongs to one
database (its name carries a hash of the URL) and names the external id of its last
transaction, checked against the database, so an index never outlives the data it was built on.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from tracing import Ledger, store


@dataclass(frozen=True)
class Version:
    fingerprint: str
    last_id: int
    last_external_id: str | None
    # The staging documents whose rows it skipped (app.transaction.staged), sorted.
    pending: list[str] = field(default_factory=list)
    # The version of the ledger exclusions it was built with (app.trace.ledger_cache).
    excluded: int = 0


def external_id_of(session: Session, transaction_id: int) -> str | None:
    """The stored engine id of a transaction: what tells a version of this database's."""
    found = session.execute(
        text("SELECT engine_id FROM transactions WHERE id = :id"), {"id": transaction_id}
    ).scalar()
    return None if found is None else str(found)


class SharedIndex:
    def __init__(self, directory: Path, *, database_url: str, keep: int) -> None:
        self.directory = directory
        self.keep = keep
        tag = hashlib.sha256(database_url.encode()).hexdigest()[:16]
        self._pointer = directory / f"current-{tag}.json"
        self._lock_path = directory / f".lock-{tag}"

    def newest(
        self,
        session: Session,
        at_least: int,
        staging: frozenset[str] = frozenset(),
        excluded: int = 0,
    ) -> Version | None:
        """The version the pointer names, if it holds transaction `at_least`, skipped exactly
        the documents `staging` and the exclusions up to `excluded`, and is this database's
        (its last transaction is the one stored under that id)."""
        try:
            data = json.loads(self._pointer.read_text())
            version = Version(
                data["fingerprint"],
                int(data["last_id"]),
                data["last_external_id"],
                list(data.get("pending", [])),
                int(data.get("excluded", 0)),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if version.excluded != excluded:
            return None
        if version.last_id < at_least or set(version.pending) != staging:
            return None
        if not (self.directory / version.fingerprint).is_dir():
            return None
        stored = external_id_of(session, version.last_id)
        return version if stored == version.last_external_id else None

    def load(self, version: Version) -> Ledger:
        return store.load(self.directory / version.fingerprint)

    def publish(self, ledger: Ledger, version: Version) -> None:
        """Write the ledger (unless that version is there already), then point at it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / ledger.fingerprint
        if not target.is_dir():
            store.save(ledger, target)
        staged = self._pointer.with_suffix(f".{os.getpid()}.tmp")
        staged.write_text(json.dumps(version.__dict__))
        with staged.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(staged, self._pointer)
        self._prune(keep={ledger.fingerprint})

    def _prune(self, keep: set[str]) -> None:
        # A process still mapping a removed version keeps its pages: unlinking never unmaps.
        versions = [p for p in self.directory.iterdir() if p.is_dir() and p.name[0] != "."]
        versions.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in versions[self.keep :]:
            if old.name not in keep:
                shutil.rmtree(old, ignore_errors=True)

    @contextlib.contextmanager
    def building(self) -> Iterator[None]:
        """Held by the one process that builds; the others wait, then map what it wrote."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
