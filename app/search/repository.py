"""Search queries over each database's own text indexes (see the migration
2026-12-07-1230_search_and_number_checks): PostgreSQL full-text and trigram, SQLite FTS5.

Each query yields `(id, score)` best first (higher score is better; scores compare within one
answer only), `limit + 1` rows from `offset`, over rows the `Visibility` lets through.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session, aliased

from app.account.models import Account, AccountHolder
from app.compartments import EVERY, Compartments
from app.party.models import Party
from app.source.models import COMMITTED_ROWS_SQL, visible_rows, visible_rows_sql
from app.transaction.models import Transaction

# A query token matches a word it begins (prefix) or, for names, the same sound.
Term = tuple[str, str | None]


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which rows a caller may find: committed rows of documents in the caller's compartments
    (issue 19): the search is the same query with one more condition, none for those who see
    every compartment. Accounts and parties are found through the document that created them
    (their names and details are that document's)."""

    compartments: Compartments = EVERY

    def sql(self, alias: str) -> tuple[str, dict[str, Any]]:
        committed = COMMITTED_ROWS_SQL.replace("t.", f"{alias}.")
        if hidden := visible_rows_sql(alias, self.compartments):
            return f"{committed} AND {hidden}", {}
        return committed, {}


def _fts5(terms: Sequence[Term]) -> str:
    """An FTS5 query: every term, each as a prefix or its sound."""
    parts = []
    for word, sound in terms:
        either = f'"{word}"*' + (f' OR "{sound}"' if sound else "")
        parts.append(f"({either})")
    return " AND ".join(parts)


def _tsquery(terms: Sequence[Term]) -> str:
    parts = []
    for word, sound in terms:
        parts.append(f"({word}:*" + (f" | {sound}" if sound else "") + ")")
    return " & ".join(parts)


def _trigram(words: Sequence[str]) -> str:
    # The trigram tokenizer matches substrings of three characters or more, case-folded.
    return " AND ".join(f'"{w}"' for w in words)


_PARTY_MATCH = {
    "sqlite": "SELECT rowid AS id, -bm25(search_parties) AS score FROM search_parties"
    " WHERE search_parties MATCH :q",
    "postgresql": "SELECT id, ts_rank(to_tsvector('simple', coalesce(search_text, '')),"
    " to_tsquery('simple', :q)) AS score FROM parties"
    " WHERE to_tsvector('simple', coalesce(search_text, '')) @@ to_tsquery('simple', :q)",
}
_ACCOUNT_TEXT = "lower(key || ' ' || coalesce(name, '') || ' ' || coalesce(institution, ''))"
_ACCOUNT_MATCH = {
    "sqlite": "SELECT rowid AS id, -bm25(search_accounts) AS score FROM search_accounts"
    " WHERE search_accounts MATCH :a",
    "postgresql": f"SELECT id, similarity({_ACCOUNT_TEXT}, :whole) + 1 AS score FROM accounts"
    " WHERE {likes}",
}
# As the index (migration 2026-12-07-1230) states it, words only: the parser would read
# "INV-2026-0042" as 'inv', '-2026', '-0042'.
_TRANSACTION_TEXT = (
    "to_tsvector('simple', regexp_replace(external_id || ' ' || coalesce(narrative, ''),"
    " '[^[:alnum:]]+', ' ', 'g'))"
)
_TRANSACTION_MATCH = {
    "sqlite": "SELECT rowid AS id, -bm25(search_transactions) AS score FROM search_transactions"
    " WHERE search_transactions MATCH :q",
    "postgresql": f"SELECT id, ts_rank({_TRANSACTION_TEXT}, to_tsquery('simple', :q)) AS score"
    f" FROM transactions WHERE {_TRANSACTION_TEXT} @@ to_tsquery('simple', :q)",
}


class SearchRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    def _query(self, terms: Sequence[Term]) -> str:
        return _fts5(terms) if self.dialect == "sqlite" else _tsquery(terms)

    def _ranked(
        self, sql: str, table: str, params: dict[str, Any], visible: Visibility, page: slice
    ) -> list[tuple[int, float]]:
        where, extra = visible.sql("r")
        stmt = text(
            # Materialised: SQLite cannot rank (bm25) inside a flattened subquery.
            f"WITH m AS MATERIALIZED ({sql}) "
            f"SELECT m.id, max(m.score) AS score FROM m JOIN {table} r ON r.id = m.id"
            f" WHERE {where} GROUP BY m.id ORDER BY score DESC, m.id"
            " LIMIT :limit OFFSET :offset"
        )
        if "documents" in extra:
            stmt = stmt.bindparams(bindparam("documents", expanding=True))
        limit = (page.stop or 0) - (page.start or 0)
        rows = self.session.execute(
            stmt, {**params, **extra, "limit": limit, "offset": page.start or 0}
        )
        return [(int(r[0]), float(r[1])) for r in rows]

    def exact(self, table: str, column: str, value: str, visible: Visibility) -> int | None:
        """The id of the visible row whose unique `column` is `value` (an account key, an
        external id), found by its unique index."""
        where, extra = visible.sql("r")
        stmt = text(f"SELECT r.id FROM {table} r WHERE r.{column} = :value AND {where}")
        if "documents" in extra:
            stmt = stmt.bindparams(bindparam("documents", expanding=True))
        found = self.session.execute(stmt, {"value": value, **extra}).scalar()
        return None if found is None else int(found)

    def parties(
        self, terms: Sequence[Term], visible: Visibility, page: slice
    ) -> list[tuple[int, float]]:
        if not terms:
            return []
        sql = _PARTY_MATCH[self.dialect]
        return self._ranked(sql, "parties", {"q": self._query(terms)}, visible, page)

    def accounts(
        self,
        words: Sequence[str],
        holder_terms: Sequence[Term],
        visible: Visibility,
        page: slice,
    ) -> list[tuple[int, float]]:
        """Accounts whose key, name or institution holds every word (3+ characters), and the
        accounts of parties whose names match, these ranked below direct matches."""
        words = [w for w in words if len(w) >= 3]
        branches, params = [], {}
        if words:
            if self.dialect == "sqlite":
                branches.append(_ACCOUNT_MATCH["sqlite"])
                params["a"] = _trigram(words)
            else:
                likes = " AND ".join(f"{_ACCOUNT_TEXT} LIKE :w{i}" for i in range(len(words)))
                branches.append(_ACCOUNT_MATCH["postgresql"].format(likes=likes))
                params |= {f"w{i}": f"%{w}%" for i, w in enumerate(words)}
                params["whole"] = " ".join(words)
        if holder_terms:
            party = _PARTY_MATCH[self.dialect]
            # Only holder links the caller may see tell that a party holds an account.
            links = visible_rows_sql("h", visible.compartments)
            branches.append(
                f"SELECT h.account_id AS id, 0 AS score FROM account_holders h"
                f" WHERE h.party_id IN (SELECT id FROM ({party}) p)"
                + (f" AND {links}" if links else "")
            )
            params["q"] = self._query(holder_terms)
        if not branches:
            return []
        sql = " UNION ALL ".join(branches)
        return self._ranked(sql, "accounts", params, visible, page)

    def transactions(
        self, terms: Sequence[Term], visible: Visibility, page: slice
    ) -> list[tuple[int, float]]:
        if not terms:
            return []
        sql = _TRANSACTION_MATCH[self.dialect]
        return self._ranked(sql, "transactions", {"q": self._query(terms)}, visible, page)


def describe_parties(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    rows = session.execute(
        select(Party.id, Party.key, Party.name, Party.kind, Party.country).where(Party.id.in_(ids))
    ).mappings()
    return {r["id"]: dict(r) for r in rows}


def describe_accounts(
    session: Session, ids: Sequence[int], compartments: Compartments = EVERY
) -> dict[int, dict[str, Any]]:
    found = {
        r["id"]: {**r, "holders": []}
        for r in session.execute(
            select(
                Account.id,
                Account.key,
                Account.kind,
                Account.name,
                Account.institution,
                Account.number_flag,
            ).where(Account.id.in_(ids))
        ).mappings()
    }
    holders = session.execute(
        select(AccountHolder.account_id, Party.name)
        .join(Party, Party.id == AccountHolder.party_id)
        .where(
            AccountHolder.account_id.in_(ids),
            visible_rows(AccountHolder.source_document_id, compartments),
        )
        .order_by(AccountHolder.account_id, AccountHolder.party_id)
    )
    for account_id, name in holders:
        if name not in found[account_id]["holders"]:
            found[account_id]["holders"].append(name)
    return found


def describe_transactions(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    source, target = aliased(Account), aliased(Account)
    rows = session.execute(
        select(
            Transaction.id,
            Transaction.external_id,
            Transaction.amount_minor,
            Transaction.currency,
            Transaction.value_time,
            Transaction.narrative,
            source.key.label("from_account"),
            target.key.label("to_account"),
        )
        .join(source, source.id == Transaction.from_account_id)
        .join(target, target.id == Transaction.to_account_id)
        .where(Transaction.id.in_(ids))
    ).mappings()
    return {r["id"]: dict(r) for r in rows}
