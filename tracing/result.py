"""Trace results: immutable frames plus how they were made, with a canonical serialisation."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import polars as pl

from tracing.json_rows import rows_json

# 0.1.1: amounts below 10^-6 written "0.00000005", not "5E-8" (summary totals, flags)
# 0.1.2: an account's `passed_on` no longer includes its `exited` (taint that left the traced
#        universe); before, passed_on counted every tainted withdrawal, exits among them
# 0.1.3: the canonical JSON writes each amount in its currency's decimals ("24900.00", not the
#        ledger's widest scale "24900.00000000") and times as ISO 8601 UTC
#        ("2026-01-10T10:00:00Z", not "2026-01-10 10:00:00.000000+00:00"), as the API does
ENGINE_VERSION = "0.1.3"
# Results of these versions count exits in `passed_on` (see PASSED_ON_COUNTS_EXITS users).
PASSED_ON_COUNTS_EXITS = frozenset({"0.1.0", "0.1.1"})


class Frame(StrEnum):
    """The frames of a result: public, read by :func:`tracing.explain`, or optional.

    Four are public, two are what explain reads, and two only some traces have
    (:func:`frames_of`). A stored result keeps all it has, so it can be explained without a re-run.
    """

    ACCOUNTS = "accounts"
    FLOWS = "flows"
    EXITS = "exits"
    FLAGS = "flags"
    RANKS = "ranks"  # the trail as integers: transaction, nodes, hop, strength, ranks
    SEEDS = "seeds"  # the resolved seeds: node, arrival rank, seed transaction
    CLAIMANTS = "claimants"  # per account and claimant: received, held (seeds with claimants)
    SOURCES = "sources"  # per seed: origin, reason, hop, amount (value rules backward)


PUBLIC_FRAMES = (Frame.ACCOUNTS, Frame.FLOWS, Frame.EXITS, Frame.FLAGS)
# Frames only some traces have; public (in the canonical JSON) when they do.
OPTIONAL_FRAMES = (Frame.CLAIMANTS, Frame.SOURCES)


def frames_of(params: Mapping[str, Any]) -> tuple[Frame, ...]:
    """Return the frames a result of trace parameters ``params`` (their ``to_dict``) has.

    Example
    -------
    >>> frames_of({"direction": "forward", "rule": "fifo"})[-1]
    <Frame.SEEDS: 'seeds'>
    """
    extra = []
    if "claimant_rule" in params:  # written only when seeds name claimants
        extra.append(Frame.CLAIMANTS)
    if params.get("direction") == "backward" and params.get("rule", "reach") != "reach":
        extra.append(Frame.SOURCES)
    return (*(f for f in Frame if f not in OPTIONAL_FRAMES), *extra)


@dataclass(frozen=True, slots=True)
class Provenance:
    """How a result was made: enough to re-run it and to show it was not altered.

    Example
    -------
    >>> Provenance(rule="libr", same_day_policy="ledger", params={}, engine_version="0.1.0",
    ...            ledger_fingerprint="ab12", ledger_transactions=3).rule
    'libr'
    """

    rule: str
    same_day_policy: str
    params: dict[str, Any]
    engine_version: str
    ledger_fingerprint: str
    ledger_transactions: int
    # Where the trace ran when not in this process's memory (e.g. ``{"name": "spark",
    # "master": ..., "lake_manifest": ...}``); left out of the JSON when None, so the digests of
    # in-memory results stay what they were.
    engine: dict[str, Any] | None = None
    # The transaction mask the trace ran under (``{"digest": ...}``, tracing.mask), left out
    # when None as ``engine`` is.
    mask: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        out = {
            "rule": self.rule,
            "same_day_policy": self.same_day_policy,
            "params": self.params,
            "engine_version": self.engine_version,
            "ledger_fingerprint": self.ledger_fingerprint,
            "ledger_transactions": self.ledger_transactions,
        }
        if self.engine is not None:
            out["engine"] = self.engine
        if self.mask is not None:
            out["mask"] = self.mask
        return out


def text_columns(frame: pl.DataFrame, decimals: Mapping[str, int]) -> pl.DataFrame:
    """Amounts and times of ``frame`` as the text every output of a trace writes.

    An amount is exact, in its row's currency's decimals (``24900.00``, ``0.00000005``), never
    an exponent or a float; a currency ``decimals`` does not name keeps the column's scale.
    A time is ISO 8601 in UTC with ``Z``, with microseconds only when it has some
    (``2026-01-10T10:00:00Z``): what the service's JSON writes for the same instant.

    Example
    -------
    >>> from decimal import Decimal
    >>> frame = pl.DataFrame({"currency": ["EUR", "BTC"], "amount": [Decimal(1), Decimal(2)]},
    ...                      schema_overrides={"amount": pl.Decimal(38, 8)})
    >>> text_columns(frame, {"EUR": 2, "BTC": 8})["amount"].to_list()
    ['1.00', '2.00000000']
    """
    exprs = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Decimal):
            exprs.append(_decimal_text(pl.col(name), dtype.scale or 0, frame, decimals))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(_time_text(pl.col(name)))
    return frame.with_columns(exprs) if exprs else frame


def _decimal_text(
    column: pl.Expr, scale: int, frame: pl.DataFrame, decimals: Mapping[str, int]
) -> pl.Expr:
    # A Decimal column writes every row with the column's scale: the digits beyond the row's
    # currency's decimals are zeros (amounts are whole minor units), cut off as text, so
    # nothing is rounded and no float is involved.
    text = column.cast(pl.String)
    if scale == 0 or "currency" not in frame.columns:
        return text
    places = pl.col("currency").replace_strict(dict(decimals), default=scale, return_dtype=pl.Int64)
    cut = pl.when(places <= 0).then(scale + 1).otherwise((scale - places).clip(lower_bound=0))
    return text.str.slice(0, text.str.len_chars() - cut)


def _time_text(column: pl.Expr) -> pl.Expr:
    return (
        pl.when(column.dt.microsecond() == 0)
        .then(column.dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        .otherwise(column.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
    )


class Parts(Protocol):
    """Builds a result's frames on first use (see :mod:`tracing.build`)."""

    def frame(self, name: Frame) -> pl.DataFrame:
        """Build the frame ``name``."""
        ...


FrameSource = pl.DataFrame | Callable[[], pl.DataFrame]


@dataclass(frozen=True, slots=True)
class _GivenFrames:
    """Frames handed to :meth:`TraceResult.from_frames`, or functions that read them."""

    sources: Mapping[Frame, FrameSource]

    def frame(self, name: Frame) -> pl.DataFrame:
        source = self.sources[name]
        return source if isinstance(source, pl.DataFrame) else source()


@dataclass(frozen=True)
class TraceResult:
    """The outcome of :func:`tracing.trace`.

    The frames are built from the engine's arrays on first access and then kept, so a
    caller that needs only the summary or one frame pays only for that.

    Attributes
    ----------
    accounts
        One row per reached ``(account, currency)``: ``hops`` (fewest), ``reached_at``
        (earliest arrival forward, latest departure backward), ``role`` (``seed``,
        ``reached``, ``stopped``, ``high_degree``) and, for attribution rules, ``received``,
        ``passed_on`` (taint paid on to accounts inside the traced universe), ``exited``
        (taint that left the universe from here: stopped or external accounts, hop limit,
        window, threshold, an overdraft repaid), ``held`` (taint at the replay end),
        ``opening_balance`` and ``opening_inferred``. For every rule but poison, ``received``
        = ``passed_on`` + ``exited`` + ``held`` on an account the search leaves.
    flows
        The transactions on the trail with their ``hop`` and ``traced`` taint.
    exits
        Where taint left the traced universe: transaction, account, amount and ``reason``.
    flags
        Accounts needing a human look: inferred opening balance, overdrawn, not expanded.
    summary
        Totals per currency (``seeded``, ``held``, ``exited``), counts, ``conserved`` and
        ``measure`` (``value``, or ``exposure`` for poison).
    provenance
        Rule, policy, parameters, engine version and ledger fingerprint.

    Example
    -------
    >>> result.summary["conserved"], result.provenance.rule  # doctest: +SKIP
    (True, 'libr')
    """

    summary: dict[str, Any]
    provenance: Provenance
    _parts: Parts = field(repr=False, compare=False)
    # Decimals per currency, for writing amounts (see text_columns).
    decimals: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_frames(
        cls,
        frames: Mapping[Frame, FrameSource],
        *,
        summary: dict[str, Any],
        provenance: Provenance,
        decimals: Mapping[str, int] | None = None,
    ) -> TraceResult:
        """Make a result of the frames of :meth:`to_frames` (e.g. read back from storage).

        Each frame may be given as a function that returns it: it is then called on first use
        only. Every :class:`Frame` must be given. ``decimals`` (per currency) is how amounts are
        written (see :func:`text_columns`).

        Example
        -------
        >>> again = TraceResult.from_frames(result.to_frames(), summary=result.summary,
        ...                                 provenance=result.provenance)  # doctest: +SKIP
        >>> again.digest() == result.digest()  # doctest: +SKIP
        True
        """
        missing = [str(name) for name in frames_of(provenance.params) if name not in frames]
        if missing:
            raise KeyError(f"frames missing: {', '.join(missing)}")
        given = _GivenFrames({Frame(k): v for k, v in frames.items()})
        return cls(summary, provenance, given, decimals=dict(decimals or {}))

    @property
    def reached_nodes(self) -> np.ndarray | None:
        """The ledger nodes of the ``accounts`` rows (ascending), or None.

        None for a result made of frames. Spares a caller that needs them (the cases a trace
        read) hashing the accounts' keys back to nodes, which cost more than a local trace.
        """
        reach = getattr(self._parts, "reach", None)
        return None if reach is None else reach.nodes

    def frame(self, name: Frame) -> pl.DataFrame:
        """Return the frame ``name``, built (or read) on first use and then kept."""
        return getattr(self, _ATTRIBUTE[Frame(name)])  # type: ignore[no-any-return]

    def to_frames(self) -> dict[Frame, pl.DataFrame]:
        """Every frame, public and explain's, by :class:`Frame`: what storing a result needs.

        Example
        -------
        >>> sorted(result.to_frames())  # doctest: +SKIP
        [<Frame.ACCOUNTS: 'accounts'>, <Frame.EXITS: 'exits'>, ...]
        """
        return {name: self.frame(name) for name in frames_of(self.provenance.params)}

    @cached_property
    def accounts(self) -> pl.DataFrame:
        """Reached accounts (see the class docstring)."""
        return self._parts.frame(Frame.ACCOUNTS)

    @cached_property
    def flows(self) -> pl.DataFrame:
        """Followed transactions with hop and traced amount."""
        return self._parts.frame(Frame.FLOWS)

    @cached_property
    def exits(self) -> pl.DataFrame:
        """Where taint left the traced universe, and why."""
        return self._parts.frame(Frame.EXITS)

    @cached_property
    def flags(self) -> pl.DataFrame:
        """Accounts flagged for review."""
        return self._parts.frame(Frame.FLAGS)

    @cached_property
    def claimants(self) -> pl.DataFrame:
        """Per account and claimant: taint ``received`` and ``held`` (claimant traces only)."""
        return self._parts.frame(Frame.CLAIMANTS)

    @cached_property
    def sources(self) -> pl.DataFrame:
        """Per seed: where its money came from (``origin``, ``reason``, ``hop``, ``amount``).

        Only for value rules traced backward (sources of funds).
        """
        return self._parts.frame(Frame.SOURCES)

    @cached_property
    def _ranks(self) -> pl.DataFrame:
        return self._parts.frame(Frame.RANKS)

    @cached_property
    def _seeds(self) -> pl.DataFrame:
        return self._parts.frame(Frame.SEEDS)

    def to_json(self) -> str:
        """Canonical JSON: equal inputs give byte-identical output.

        Example
        -------
        >>> json.loads(result.to_json())["provenance"]["rule"]  # doctest: +SKIP
        'fifo'
        """
        return self.to_json_bytes().decode()

    def to_json_bytes(self) -> bytes:
        """:meth:`to_json` encoded as UTF-8, written without intermediate strings.

        Example
        -------
        >>> result.to_json_bytes() == result.to_json().encode()  # doctest: +SKIP
        True
        """
        out = io.BytesIO()
        extra = [f for f in frames_of(self.provenance.params) if f in OPTIONAL_FRAMES]
        for i, name in enumerate((*PUBLIC_FRAMES, *extra)):
            out.write(b'%s"%s":' % (b"{" if i == 0 else b",", name.encode()))
            frame = getattr(self, name)
            # A small frame's rows are written here, as Polars would, without its thread pool.
            if (small := rows_json(frame, self.decimals)) is not None:
                out.write(small)
            else:
                text_columns(frame, self.decimals).write_json(out)
        provenance = json.dumps(self.provenance.to_dict(), sort_keys=True)
        summary = json.dumps(self.summary, sort_keys=True)
        out.write(f',"provenance":{provenance},"summary":{summary}}}'.encode())
        return out.getvalue()

    def digest(self) -> str:
        """SHA-256 of :meth:`to_json`, for storing beside an immutable trace record."""
        return hashlib.sha256(self.to_json_bytes()).hexdigest()


_ATTRIBUTE = {
    Frame.ACCOUNTS: "accounts",
    Frame.FLOWS: "flows",
    Frame.EXITS: "exits",
    Frame.FLAGS: "flags",
    Frame.RANKS: "_ranks",
    Frame.SEEDS: "_seeds",
    Frame.CLAIMANTS: "claimants",
    Frame.SOURCES: "sources",
}
