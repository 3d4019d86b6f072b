"""Search queries over each database's own text indexes (see the migration
2026-12-07-1230_search_and_number_checks): PostgreSQL full-text and trigram, SQLite FTS5.

Each query yields `(id, score)` best first (higher score is better; scores compare within one
answer only), `limit + 1` rows from `offset`, over rows the `Visibility` lets through.
"""

import re
import unicodedata
from collections.abc import Callable, Sequence
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


# Ranked among the first POOL matches in the index's own order, not all of them: a common name
# matches a tenth of a million parties, and scoring them all (bm25, ts_rank) costs more than the
# answer is worth. Within POOL matches the order is exact; pages end at POOL.
POOL = 1000
# A shorter word matches itself only: as a prefix, "3" or "an" would expand to a hundred
# thousand index terms.
MIN_PREFIX = 3


# Every word as written first: an index intersects the posting lists of whole words by
# skipping through them, while a prefix or an alternative (a sound, an unfolded form) makes it
# gather each list whole (several times slower on a large party table). When at least
# NARROW_ENOUGH rows match every word as written, they are the answer
# (a prefix or a sound is a weaker match than the word); else the wide query runs. The choice
# depends on the query alone, so its pages stay one ranking.
NARROW_ENOUGH = 100


def _fts5(terms: Sequence[Term], *, wide: bool = True) -> str:
    """An FTS5 query: every term; wide, each as a prefix or its sound."""
    parts = []
    for word, sound in terms:
        if not wide:
            parts.append(f'"{word}"')
            continue
        star = "*" if len(word) >= MIN_PREFIX else ""
        either = f'"{word}"{star}' + (f' OR "{sound}"' if sound else "")
        parts.append(f"({either})")
    return " AND ".join(parts)


def _tsquery(terms: Sequence[Term], *, wide: bool = True) -> str:
    parts = []
    for word, sound in terms:
        if not wide:
            parts.append(word)
            continue
        star = ":*" if len(word) >= MIN_PREFIX else ""
        parts.append(f"({word}{star}" + (f" | {sound}" if sound else "") + ")")
    return " & ".join(parts)


def _trigram(words: Sequence[str]) -> str:
    # The trigram tokenizer matches substrings of three characters or more, case-folded.
    return " AND ".join(f'"{w}"' for w in words)


# Each match names its table `r` and ends in a WHERE to which the visibility test is added.
def _party_match(dialect: str, r: str = "r", *, scored: bool = True) -> str:
    """The parties whose names match `:q`; unscored (the holders of accounts), their ids only,
    without computing a rank no one reads."""
    if dialect == "sqlite":
        score = ", -bm25(search_parties) AS score" if scored else ""
        return (
            f"SELECT {r}.id{score} FROM search_parties"
            f" JOIN parties {r} ON {r}.id = search_parties.rowid WHERE search_parties MATCH :q"
        )
    folded = f"to_tsvector('simple', coalesce({r}.search_text, ''))"
    score = f", ts_rank({folded}, to_tsquery('simple', :q)) AS score" if scored else ""
    return f"SELECT {r}.id{score} FROM parties {r} WHERE {folded} @@ to_tsquery('simple', :q)"


_ACCOUNT_TEXT = "lower(r.key || ' ' || coalesce(r.name, '') || ' ' || coalesce(r.institution, ''))"
_ACCOUNT_MATCH = {
    "sqlite": "SELECT r.id, -bm25(search_accounts) AS score FROM search_accounts"
    " JOIN accounts r ON r.id = search_accounts.rowid WHERE search_accounts MATCH :a",
    "postgresql": f"SELECT r.id, similarity({_ACCOUNT_TEXT}, :whole) + 1 AS score"
    " FROM accounts r WHERE {likes}",
}
# As the index (migration 2026-12-07-1230) states it, words only: the parser would read
# "INV-2026-0042" as 'inv', '-2026', '-0042'.
_TRANSACTION_TEXT = (
    "to_tsvector('simple', regexp_replace(external_id || ' ' || coalesce(narrative, ''),"
    " '[^[:alnum:]]+', ' ', 'g'))"
)
_TRANSACTION_MATCH = {
    # Unscored: ranked over the pool by `_bm25_pool` (below), not by FTS5's bm25().
    "sqlite": "SELECT r.id, r.external_id, r.narrative FROM search_transactions"
    " JOIN transactions r ON r.id = search_transactions.rowid"
    " WHERE search_transactions MATCH :q",
    # normalisation 1 (rank / (1 + log(length))): a shorter text ranks higher, as on SQLite
    "postgresql": f"SELECT r.id, ts_rank({_TRANSACTION_TEXT}, to_tsquery('simple', :q), 1)"
    f" AS score FROM transactions r WHERE {_TRANSACTION_TEXT} @@ to_tsquery('simple', :q)",
}


# FTS5's bm25() weighs each word by its IDF, which it counts once per query by reading the
# word's whole list of rows: 50-110 ms for a word in a fifth of 10M transactions, for a pool of
# POOL rows that all hold every word (benchmarks/SEARCH_RESULTS.md). Over such a pool the IDFs
# change the order only where words occur unevenly; the pool is scored here instead, with
# BM25's saturation and length normalisation (FTS5's k1 and b) and every word weighed alike.
_K1, _B = 1.2, 0.75
_TOKEN = re.compile(r"[^\W_]+")


def _folded_tokens(text: str) -> list[str]:
    """Words as FTS5's unicode61 tokenizer with remove_diacritics keeps them."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return _TOKEN.findall("".join(c for c in decomposed if not unicodedata.combining(c)))


def _bm25_pool(
    terms: Sequence[Term], pool: Sequence[tuple[int, str, str | None]], *, wide: bool
) -> list[tuple[int, float]]:
    """`pool` rows (id, external id, narrative) best first by BM25 with equal word weights."""
    docs = [(i, _folded_tokens(f"{ext} {narrative or ''}")) for i, ext, narrative in pool]
    if not docs:
        return []
    average = max(sum(len(words) for _, words in docs) / len(docs), 1.0)

    def matches(token: str, word: str, other: str | None) -> bool:
        if token in (word, other):
            return True
        return wide and len(word) >= MIN_PREFIX and token.startswith(word)

    scored = []
    for i, words in docs:
        norm = _K1 * (1 - _B + _B * len(words) / average)
        score = 0.0
        for word, other in terms:
            f = sum(1 for t in words if matches(t, word, other))
            score += f * (_K1 + 1) / (f + norm)
        scored.append((i, round(score, 6)))
    scored.sort(key=lambda hit: (-hit[1], hit[0]))
    return scored


def _narrow_or_wide(
    rank: Callable[[bool], tuple[list[tuple[int, float]], int]],
) -> list[tuple[int, float]]:
    """`rank(wide)` of the words as written if NARROW_ENOUGH rows match them, else of the wide
    query (`rank` gives a page and how many rows matched)."""
    narrow, found = rank(False)
    if found >= NARROW_ENOUGH:
        return narrow
    return rank(True)[0]


class SearchRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    def _query(self, terms: Sequence[Term], *, wide: bool = True) -> str:
        return _fts5(terms, wide=wide) if self.dialect == "sqlite" else _tsquery(terms, wide=wide)

    def _visible(
        self, sql: Callable[[str], str], params: dict[str, Any], visible: Visibility
    ) -> Any:  # a Result: rows of any shape
        """Run `sql(where)`, `where` being the test of the rows (`r`) the caller may see."""
        where, extra = visible.sql("r")
        stmt = text(sql(where))
        if "documents" in extra:
            stmt = stmt.bindparams(bindparam("documents", expanding=True))
        return self.session.execute(stmt, {**params, **extra})

    def _narrow_first(
        self,
        build: Callable[[bool], tuple[list[str], dict[str, Any]]],
        visible: Visibility,
        page: slice,
    ) -> list[tuple[int, float]]:
        """The ranking of the words as written if NARROW_ENOUGH rows match them, else of the
        wide query (`build(wide)` gives the matches and their parameters)."""
        return _narrow_or_wide(lambda wide: self._ranked(*build(wide), visible, page))

    def _ranked(
        self, matches: Sequence[str], params: dict[str, Any], visible: Visibility, page: slice
    ) -> tuple[list[tuple[int, float]], int]:
        """The page of the best-scored visible rows among each match's first POOL, and how
        many rows that pool holds.

        Each match is bounded before it is scored, with the visibility test inside it, so a
        caller who may see few rows still gets POOL of those; the index's own order (rowid,
        TID) decides which POOL when more match. Materialised: SQLite cannot rank (bm25)
        inside a flattened subquery, and PostgreSQL then stops each scan at POOL rows.
        """

        def ranked(where: str) -> str:
            bounded = " UNION ALL ".join(
                f"SELECT * FROM ({sql} AND {where} LIMIT {POOL}) b{i}"
                for i, sql in enumerate(matches)
            )
            return (
                f"WITH m AS MATERIALIZED ({bounded}) "
                "SELECT m.id, max(m.score) AS score, (SELECT count(DISTINCT id) FROM m) AS found"
                " FROM m GROUP BY m.id ORDER BY score DESC, m.id LIMIT :limit OFFSET :offset"
            )

        start = page.start or 0
        limit = max(0, min(page.stop or 0, POOL) - start)
        rows = self._visible(ranked, {**params, "limit": limit, "offset": start}, visible).all()
        return [(int(r[0]), float(r[1])) for r in rows], int(rows[0][2]) if rows else 0

    def _transactions_sqlite(
        self, terms: Sequence[Term], visible: Visibility, page: slice
    ) -> list[tuple[int, float]]:
        """SQLite: the first POOL visible matches (as `_ranked`) ranked by `_bm25_pool`."""
        sql = _TRANSACTION_MATCH["sqlite"]

        def rank(wide: bool) -> tuple[list[tuple[int, float]], int]:  # noqa: FBT001
            rows = self._visible(
                lambda where: f"{sql} AND {where} LIMIT {POOL}",
                {"q": _fts5(terms, wide=wide)},
                visible,
            )
            pool = [(int(r[0]), r[1], r[2]) for r in rows]
            ranked = _bm25_pool(terms, pool, wide=wide)
            return ranked[page.start or 0 : min(page.stop or 0, POOL)], len(pool)

        return _narrow_or_wide(rank)

    def exact(self, table: str, column: str, value: str, visible: Visibility) -> int | None:
        """The id of the visible row whose unique `column` is `value` (an account key, an
        external id), found by its unique index."""
        found = self._visible(
            lambda where: f"SELECT r.id FROM {table} r WHERE r.{column} = :value AND {where}",
            {"value": value},
            visible,
        ).scalar()
        return None if found is None else int(found)

    def parties(
        self, terms: Sequence[Term], visible: Visibility, page: slice
    ) -> list[tuple[int, float]]:
        if not terms:
            return []
        sql = _party_match(self.dialect)
        return self._narrow_first(
            lambda wide: ([sql], {"q": self._query(terms, wide=wide)}), visible, page
        )

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
        matches: list[str] = []
        params: dict[str, Any] = {}
        if words:
            if self.dialect == "sqlite":
                matches.append(_ACCOUNT_MATCH["sqlite"])
                params["a"] = _trigram(words)
            else:
                likes = " AND ".join(f"{_ACCOUNT_TEXT} LIKE :w{i}" for i in range(len(words)))
                matches.append(_ACCOUNT_MATCH["postgresql"].format(likes=likes))
                params |= {f"w{i}": f"%{w}%" for i, w in enumerate(words)}
                params["whole"] = " ".join(words)
        if not holder_terms:
            return self._ranked(matches, params, visible, page)[0] if matches else []
        # The holders are the first POOL parties the caller may see holding an account through
        # a link they may see (tested before the limit, so parties of hidden compartments take
        # no place in it), unscored: their accounts rank below direct matches, in id order.
        links = visible_rows_sql("h", visible.compartments)
        party = _party_match(self.dialect, "p", scored=False)
        holders, _ = visible.sql("p")
        party += f" AND {holders}"
        if not visible.compartments.every:
            holds = "SELECT 1 FROM account_holders hh WHERE hh.party_id = p.id"
            link_seen = visible_rows_sql("hh", visible.compartments)
            party += f" AND EXISTS ({holds} AND {link_seen})"
        matches.append(
            "SELECT r.id, 0 AS score FROM accounts r JOIN account_holders h"
            f" ON h.account_id = r.id WHERE h.party_id IN (SELECT id FROM ({party}"
            f" LIMIT {POOL}) hp)" + (f" AND {links}" if links else "")
        )
        return self._narrow_first(
            lambda wide: (matches, params | {"q": self._query(holder_terms, wide=wide)}),
            visible,
            page,
        )

    def transactions(
        self, terms: Sequence[Term], visible: Visibility, page: slice
    ) -> list[tuple[int, float]]:
        if not terms:
            return []
        if self.dialect == "sqlite":
            return self._transactions_sqlite(terms, visible, page)
        sql = _TRANSACTION_MATCH[self.dialect]
        return self._narrow_first(
            lambda wide: ([sql], {"q": self._query(terms, wide=wide)}), visible, page
        )


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
