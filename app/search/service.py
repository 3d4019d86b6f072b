"""Find parties, accounts and transactions by what a person remembers of them.

Names are folded as the index folded them (app.party.names): case, accents and script, with a
phonetic code per word, so that "Vladimir Petrov" finds "Владимир Петров" and word order is
free. Every word must match (as a prefix, or by sound for names). Only rows the caller may see
are searched (`Visibility`).
"""

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from app.account.keys import SCHEME_KINDS, normalise_key
from app.compartments import EVERY, Compartments
from app.errors import InvalidInput
from app.money import from_minor
from app.pagination import CursorCodec, Position
from app.party import service as party_service
from app.party.names import fold, sound, tokens
from app.principal import Principal
from app.search import repository
from app.search.repository import SearchRepository, Term, Visibility
from app.search.schemas import SearchKind

SEARCH = CursorCodec("search", Position)
MAX_WORDS = 12
_WORD = re.compile(r"[^\W_]+")


def visibility(actor: Principal, compartments: Compartments = EVERY) -> Visibility:
    """What `actor` may find: committed ledger rows of documents in their compartments."""
    return Visibility(compartments)


def same_person(session: Session, party_ids: list[int]) -> dict[int, int]:
    """Each party's representative among those a person linked as one ("same as"): search
    counts linked parties as one hit."""
    return party_service.representatives(session, party_ids)


def _name_terms(q: str) -> list[Term]:
    return [(w, sound(w)) for w in tokens(q)[:MAX_WORDS]]


def _word_terms(q: str) -> list[Term]:
    """Words folded, with the unfolded form as an alternative (PostgreSQL keeps accents in
    narratives; SQLite's index folds them)."""
    terms: list[Term] = []
    for raw in _WORD.findall(q.casefold())[:MAX_WORDS]:
        folded = _WORD.findall(fold(raw))
        word = "".join(folded) or raw
        terms.append((word, raw if raw != word else None))
    return terms


def search(
    session: Session,
    q: str,
    kind: SearchKind,
    *,
    actor: Principal,
    limit: int,
    cursor: str | None,
    compartments: Compartments = EVERY,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of hits, best first, and the cursor of the next page."""
    after = SEARCH.decode(cursor)
    start = after.offset if after is not None else 0
    window = slice(start, start + limit + 1)
    if not _WORD.search(q):
        raise InvalidInput("the query holds no letters or digits to search for", field="q")
    found = SearchRepository(session)
    visible = visibility(actor, compartments)
    hits: list[dict[str, Any]]
    if start == 0 and (exact := _exact(found, q, kind, visible)) is not None:
        # A whole account key or external id is that record, without ranking a million others
        # that share its scheme or prefix ("iban:", "INV-").
        if kind is SearchKind.ACCOUNT:
            return _account_hits(session, [(exact, 1.0)], compartments), None
        return _transaction_hits(session, [(exact, 1.0)]), None
    if kind is SearchKind.PARTY:
        ranked = found.parties(_name_terms(q), visible, window)
        hits = _party_hits(session, ranked[:limit])
    elif kind is SearchKind.ACCOUNT:
        words = [w for w, _ in _word_terms(q)]
        # A scheme's name ("iban", "btc") is in every key of that scheme: it narrows nothing.
        words = [w for w in words if w not in SCHEME_KINDS] or words
        ranked = found.accounts(words, _name_terms(q), visible, window)
        hits = _account_hits(session, ranked[:limit], compartments)
    else:
        ranked = found.transactions(_word_terms(q), visible, window)
        hits = _transaction_hits(session, ranked[:limit])
    more = len(ranked) > limit
    return hits, SEARCH.encode(Position(start + limit)) if more else None


def _exact(found: SearchRepository, q: str, kind: SearchKind, visible: Visibility) -> int | None:
    text = q.strip()
    if kind is SearchKind.ACCOUNT and (key := normalise_key(text)) is not None:
        return found.exact("accounts", "key", key, visible)
    if kind is SearchKind.TRANSACTION and not any(c.isspace() for c in text):
        return found.exact("transactions", "external_id", text, visible)
    return None


def _in_order(
    ranked: list[tuple[int, float]],
    describe: Callable[[Session, list[int]], dict[int, dict[str, Any]]],
    session: Session,
) -> list[tuple[dict[str, Any], float]]:
    rows = describe(session, [i for i, _ in ranked])
    return [(rows[i], score) for i, score in ranked if i in rows]


def _party_hits(session: Session, ranked: list[tuple[int, float]]) -> list[dict[str, Any]]:
    representative = same_person(session, [i for i, _ in ranked])
    hits: dict[int, dict[str, Any]] = {}
    for row, score in _in_order(ranked, repository.describe_parties, session):
        one = representative.get(row["id"], row["id"])
        if one in hits:  # a party linked to a better-ranked one counts in that hit
            hits[one]["linked_party_ids"].append(row["id"])
            continue
        detail = ", ".join(str(v) for v in (row["kind"], row["country"]) if v)
        hits[one] = {
            "kind": SearchKind.PARTY,
            "id": row["id"],
            "key": row["key"],
            "name": row["name"],
            "detail": detail,
            "score": score,
            "linked_party_ids": [],
        }
    return list(hits.values())


def _account_hits(
    session: Session, ranked: list[tuple[int, float]], compartments: Compartments = EVERY
) -> list[dict[str, Any]]:
    hits = []
    described = partial(repository.describe_accounts, compartments=compartments)
    for row, score in _in_order(ranked, described, session):
        holders = row["holders"]
        detail = "; ".join(
            part
            for part in (row["institution"], f"held by {', '.join(holders)}" if holders else None)
            if part
        )
        hits.append(
            {
                "kind": SearchKind.ACCOUNT,
                "id": row["id"],
                "key": row["key"],
                "name": row["name"] or (holders[0] if holders else None),
                "detail": detail or None,
                "number_flag": row["number_flag"],
                "score": score,
            }
        )
    return hits


def _transaction_hits(session: Session, ranked: list[tuple[int, float]]) -> list[dict[str, Any]]:
    hits = []
    for row, score in _in_order(ranked, repository.describe_transactions, session):
        amount = from_minor(row["amount_minor"], row["currency"])
        hits.append(
            {
                "kind": SearchKind.TRANSACTION,
                "id": row["id"],
                "key": row["external_id"],
                "name": row["narrative"],
                "detail": f"{amount} {row['currency']} {row['from_account']} → {row['to_account']}",
                "value_time": row["value_time"],
                "score": score,
            }
        )
    return hits
