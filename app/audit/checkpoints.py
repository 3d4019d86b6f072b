"""Signed checkpoints: what they claim, how one is made, how the chain is held to them."""

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.audit.chain import checkpoint_statement, milliseconds
from app.audit.models import AuditCheckpoint
from app.audit.repository import AuditRepository, CheckpointRepository
from app.audit.signing import Signer, key_id, signature_valid


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """A checkpoint to hold the chain to: stored by the service, or kept by someone else."""

    entries: int
    head_hash: str
    checkpoint_id: int | None = None
    # None: a length and head someone kept and vouches for themselves (nothing to check).
    timestamp: int | None = None
    public_key: str | None = None
    signature: str | None = None
    # The key that must have signed it: the service's own for stored checkpoints (a forged
    # one made with another key is refused); None: the key the checkpoint names.
    expected_key: str | None = None

    def signed(self) -> bool:
        if self.timestamp is None or self.public_key is None or self.signature is None:
            return False
        statement = checkpoint_statement(self.entries, self.head_hash, self.timestamp)
        return signature_valid(self.public_key, statement, self.signature)


def kept_claim(entries: int, head_hash: str) -> Claim:
    return Claim(entries=entries, head_hash=head_hash)


def claim_of(checkpoint: AuditCheckpoint, *, expected_key: str | None) -> Claim:
    return Claim(
        checkpoint_id=checkpoint.id,
        entries=checkpoint.entries,
        head_hash=checkpoint.head_hash,
        timestamp=milliseconds(checkpoint.at),
        public_key=checkpoint.public_key,
        signature=checkpoint.signature,
        expected_key=expected_key,
    )


def _failure(claim: Claim, reason: str) -> dict[str, Any]:
    return {
        "checkpoint_id": claim.checkpoint_id,
        "entries": claim.entries,
        "head_hash": claim.head_hash,
        "reason": reason,
    }


class Claims:
    """The checkpoints a replay of the chain meets, shortest first."""

    def __init__(self, claims: Iterable[Claim]) -> None:
        self._all = sorted(claims, key=lambda c: c.entries)
        self._pending = deque(self._all)
        self.checked = 0

    def unsigned(self) -> dict[str, Any] | None:
        """The first checkpoint whose signature fails, before any entry is read."""
        for claim in self._all:
            if claim.signature is None:
                continue
            if claim.expected_key is not None and claim.public_key != claim.expected_key:
                named = key_id(claim.public_key) if claim.public_key else "none"
                ours = key_id(claim.expected_key)
                return _failure(claim, f"signed by key {named}, not by this service's key {ours}")
            if not claim.signed():
                return _failure(claim, "the signature does not match the checkpoint")
        return None

    def check(self, position: int, head_hash: str) -> dict[str, Any] | None:
        """Hold the chain's head after `position` entries to the checkpoints of that length."""
        while self._pending and self._pending[0].entries <= position:
            claim = self._pending.popleft()
            if claim.head_hash != head_hash:
                return _failure(
                    claim,
                    f"rewritten: the chain's head after {claim.entries} entries is not the one "
                    "this checkpoint signed",
                )
            self.checked += 1
        return None

    def beyond(self, length: int) -> dict[str, Any] | None:
        """The first checkpoint longer than the whole chain: entries were removed."""
        if not self._pending:
            return None
        claim = self._pending[0]
        return _failure(
            claim,
            f"truncated: the chain holds {length} entries, this checkpoint signed {claim.entries}",
        )


def _now_ms() -> datetime:
    now = datetime.now(UTC)
    # Signed in whole milliseconds, so the stored time and the signed timestamp agree.
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def unsigned_entries(session: Session) -> tuple[int, AuditCheckpoint | None]:
    latest = CheckpointRepository(session).latest()
    new = AuditRepository(session).count_after(latest.head_id if latest else None)
    return new, latest


def due(session: Session, *, every_entries: int, max_age: timedelta) -> bool:
    """Every `every_entries` new entries, and no entry left unsigned longer than `max_age`."""
    new, latest = unsigned_entries(session)
    if new >= max(every_entries, 1):
        return True
    oldest = AuditRepository(session).first_at_after(latest.head_id if latest else None)
    return oldest is not None and datetime.now(UTC) - oldest >= max_age


def next_checkpoint(session: Session, signer: Signer, *, min_new: int) -> AuditCheckpoint | None:
    """A checkpoint of the current head, unsaved; None when fewer than `min_new` are new.

    The caller holds the chain's lock, so the count and the head belong together.
    """
    new, latest = unsigned_entries(session)
    head = AuditRepository(session).head()
    if new < max(min_new, 1) or head is None:
        return None
    entries, at = (latest.entries if latest else 0) + new, _now_ms()
    public_key = signer.public_key
    return AuditCheckpoint(
        at=at,
        entries=entries,
        head_id=head[0],
        head_hash=head[1],
        key_id=key_id(public_key),
        public_key=public_key,
        signature=signer.sign(checkpoint_statement(entries, head[1], milliseconds(at))),
    )
