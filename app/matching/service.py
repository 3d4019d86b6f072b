"""Index case-filed documents on keyed digests; find the matches a caller's cases take part in."""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.compartments import Compartments
from app.errors import Conflict, RecordNotFound
from app.matching.keys import ACCOUNT, account_keys, party_keys
from app.matching.models import MatchNotification
from app.matching.repository import NOTIFICATIONS, MatchRepository
from app.matching.secret import MATCH_KEY
from app.source.models import COMMITTED

Entity = tuple[str, int]  # ("account", id) or ("party", id)
CONTACT, DECLINE = "contact", "decline"


class NotificationNotFound(RecordNotFound):
    code, title = "notification_not_found", "Notification not found"
    noun, key = "notification", "notification_id"


class NotificationDecided(Conflict):
    code, title = "notification_decided", "Notification already decided"

    def __init__(self, notification_id: int, decision: str) -> None:
        super().__init__(
            f"notification {notification_id} was already answered with {decision!r}",
            notification_id=notification_id,
            decision=decision,
        )


def document_keys(session: Session, document_id: str) -> dict[tuple[str, str], set[Entity]]:
    """The (kind, normalised key) pairs a document holds, each with the entities holding it."""
    repo = MatchRepository(session)
    found: dict[tuple[str, str], set[Entity]] = defaultdict(set)
    for account_id, key in repo.accounts_of(document_id):
        for pair in account_keys([key]):
            found[pair].add(("account", account_id))
    for party_id, name, identifiers in repo.parties_of(document_id):
        for pair in party_keys(name, identifiers):
            found[pair].add(("party", party_id))
    return found


def index_document(session: Session, document_id: str) -> int:
    """Put a document's digests in the match table under its case, and notify new matches.

    Call it in the unit of work that stores or refiles the document (it does not commit). A
    document in the shared pool, still staging or abandoned has no rows (its old ones go).
    Returns the number of notifications made.
    """
    case_id, digests = _index(session, document_id)
    if case_id is None or not digests:
        return 0
    return _notify(session, case_id, digests)


def _index(session: Session, document_id: str) -> tuple[int | None, set[str]]:
    """The document's rows replaced by its digests now: its case and those digests."""
    repo = MatchRepository(session)
    document = repo.document(document_id)
    case_id = document.case_id if document is not None and document.state == COMMITTED else None
    digests = set()
    if case_id is not None:
        keys = document_keys(session, document_id)
        digests = {(kind, MATCH_KEY.digest(kind, key)) for kind, key in keys}
    repo.replace(document_id, case_id, digests)
    return case_id, {d for _, d in digests}


def _notify(session: Session, case_id: int, digests: set[str]) -> int:
    """Tell the lead of each case that already held one of `digests` that `case_id` holds it
    too: the case that was there first learns which case came; the one that came learns only
    that a match exists (a blind entry in its convergence list). Once per pair of cases and key,
    whichever of the two was told."""
    repo = MatchRepository(session)
    earlier = {(c, k, d) for c, _, k, d in repo.holders_of(digests) if c != case_id}
    wanted = {(c, case_id, k, d) for c, k, d in earlier}
    return _tell(session, wanted)


def _tell(session: Session, wanted: set[tuple[int, int, str, str]]) -> int:
    """Make the notifications of `wanted` (case, other case, kind, digest) not yet made for the
    pair of cases and key in either direction."""
    if not wanted:
        return 0
    repo = MatchRepository(session)
    for attempt in range(2):
        try:
            with session.begin_nested():
                told = repo.notified({d for _, _, _, d in wanted})
                told |= {(o, c, k, d) for c, o, k, d in told}
                return repo.notify(wanted - told)
        except IntegrityError:  # another load notified the same match meanwhile: skip its rows
            if attempt:
                raise
    return 0  # pragma: no cover - the loop returns or raises


def reindex(session: Session) -> tuple[int, int]:
    """Rebuild the match table (after a new secret, or for documents filed before it existed):
    (documents indexed, notifications made). Commits.

    Idempotent: notifications already made are carried over to the new digests of their keys,
    and a match is told as indexing would have told it, to the cases whose documents came
    first, unless told already."""
    repo = MatchRepository(session)
    documents = repo.documents_to_index()
    before = repo.all_rows()
    for document_id in documents:
        _index(session, document_id)
    after = repo.all_rows()
    repo.rekey_notifications(_rekeyed(before, after))
    held: dict[str, set[int]] = defaultdict(set)
    wanted: set[tuple[int, int, str, str]] = set()
    by_document: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for document_id, case_id, kind, digest in after:
        by_document[document_id].append((case_id, kind, digest))
    for document_id in documents:  # in the order they were received
        for case_id, kind, digest in by_document[document_id]:
            wanted |= {(c, case_id, kind, digest) for c in held[digest] - {case_id}}
            held[digest].add(case_id)
    made = _tell(session, wanted)
    session.commit()
    return len(documents), made


Rows = list[tuple[str, int, str, str]]  # (document id, case id, kind, digest)


def _rekeyed(before: Rows, after: Rows) -> dict[str, str]:
    """Each old digest's new one: the key held by the same documents, under the same kind.

    The secret is gone, so a key is recognised by where it is held. Keys that every document
    holds together (the two accounts of one transfer, in every case holding it) cannot be told
    apart that way; they matched the same cases at the same moment, and are paired in order."""

    def groups(rows: Rows) -> dict[tuple[str, frozenset[str]], list[str]]:
        holding: dict[tuple[str, str], set[str]] = defaultdict(set)
        for document_id, _, kind, digest in rows:
            holding[(kind, digest)].add(document_id)
        found: dict[tuple[str, frozenset[str]], list[str]] = defaultdict(list)
        for (kind, digest), documents in holding.items():
            found[(kind, frozenset(documents))].append(digest)
        return found

    old, new = groups(before), groups(after)
    mapped: dict[str, str] = {}
    for group, digests in old.items():
        if len(fresh := new.get(group, [])) == len(digests):
            kept = set(digests) & set(fresh)  # the same secret: those stay as they are
            mapped.update(zip(sorted(set(digests) - kept), sorted(set(fresh) - kept), strict=True))
    return mapped


@dataclass(frozen=True, slots=True)
class Match:
    """A key held in two or more cases, one of them the caller's, as the caller's documents
    hold it. `blind`: a case the caller cannot see holds it too (which, or how many, untold)."""

    kind: str
    digest: str
    key: str
    entities: frozenset[Entity]
    cases: frozenset[int]
    blind: bool


def matches(session: Session, compartments: Compartments) -> list[Match]:
    """The keys the caller's cases share with other cases, ordered by kind and key."""
    if not compartments.every and not compartments.cases:
        return []
    repo = MatchRepository(session)
    rows = repo.shared_with(None if compartments.every else compartments.cases)
    mine: dict[tuple[str, str], dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    hidden: set[tuple[str, str]] = set()
    for case_id, document_id, kind, digest in rows:
        if compartments.admits(case_id):
            mine[(kind, digest)][case_id].add(document_id)
        else:
            hidden.add((kind, digest))
    kept = {k for k, by_case in mine.items() if len(by_case) >= 2 or k in hidden}
    found: dict[tuple[str, str], tuple[str, set[Entity]]] = {}
    for document_id in sorted({d for k in kept for docs in mine[k].values() for d in docs}):
        for (kind, key), entities in document_keys(session, document_id).items():
            if (kind, digest := MATCH_KEY.digest(kind, key)) in kept:
                found.setdefault((kind, digest), (key, set()))[1].update(entities)
    return sorted(
        (
            Match(
                kind,
                digest,
                key,
                frozenset(entities),
                frozenset(mine[(kind, digest)]),
                (kind, digest) in hidden,
            )
            for (kind, digest), (key, entities) in found.items()
        ),
        key=lambda m: (m.kind != ACCOUNT, m.kind, m.key),
    )


def key_in_case(session: Session, case_id: int, kind: str, digest: str) -> str | None:
    """The readable key behind `digest` as the case's own documents hold it (None once they no
    longer do: refiled away)."""
    for document_id in MatchRepository(session).documents_in(case_id, digest):
        for k, key in document_keys(session, document_id):
            if k == kind and MATCH_KEY.digest(kind, key) == digest:
                return key
    return None


def page_notifications(
    session: Session, case_ids: Collection[int], *, limit: int, cursor: str | None
) -> tuple[list[MatchNotification], str | None]:
    return MatchRepository(session).page_notifications(
        case_ids, limit=limit, after=NOTIFICATIONS.decode(cursor)
    )


def replies_to(
    session: Session, case_ids: Collection[int], digests: Collection[str]
) -> list[MatchNotification]:
    return MatchRepository(session).replies_to(case_ids, digests)


def reply_to(session: Session, notification: MatchNotification) -> MatchNotification | None:
    """The other side's notification of the same match, when its lead chose to make contact."""
    n = notification
    for other in MatchRepository(session).replies_to([n.case_id], [n.digest]):
        if other.case_id == n.other_case_id and other.kind == n.kind:
            return other
    return None


def get_notification(
    session: Session, notification_id: int, *, case_ids: Collection[int]
) -> MatchNotification:
    """A notification of one of `case_ids` (the cases the caller leads); others do not exist."""
    notification = MatchRepository(session).notification(notification_id)
    if notification is None or notification.case_id not in case_ids:
        raise NotificationNotFound(notification_id)
    return notification


def decide(
    session: Session,
    notification_id: int,
    *,
    case_ids: Collection[int],
    decision: str,
    note: str | None,
    actor_id: str,
) -> MatchNotification:
    """The lead's answer, once: `contact` reveals them to the other side, `decline` nothing."""
    notification = get_notification(session, notification_id, case_ids=case_ids)
    if notification.decision is not None:
        raise NotificationDecided(notification_id, notification.decision)
    notification.decision, notification.note = decision, note
    notification.decided_by, notification.decided_at = actor_id, datetime.now(UTC)
    session.commit()
    return notification
