"""Trace parameters: frozen, checked when built, and serialisable into a result's provenance."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tracing.errors import InvalidTraceParams

MAX_HOPS = 64


class Rule(StrEnum):
    """How much of a withdrawal from a mixed account is taint (DESIGN §3)."""

    REACH = "reach"
    POISON = "poison"
    HAIRCUT = "haircut"
    FIFO = "fifo"
    LIFO = "lifo"
    LIBR = "libr"


class Direction(StrEnum):
    """Forward: where did the money go. Backward: where did it come from."""

    FORWARD = "forward"
    BACKWARD = "backward"


class ClaimantRule(StrEnum):
    """Whose taint leaves a mixed account (DESIGN §3b); ``rule`` decides how much.

    ``pro_rata`` is the rolling charge (North American method): each outgoing part carries the
    claimants in proportion to their shares at that moment. ``fifo`` is Clayton's Case among
    the claimants, ``lifo`` its mirror (only with ``rule="lifo"``). ``pari_passu`` (Barlow
    Clowes): what an account finally holds is shared by each claimant's total taint received
    there, those inflows computed pro rata upstream.
    """

    PRO_RATA = "pro_rata"
    FIFO = "fifo"
    LIFO = "lifo"
    PARI_PASSU = "pari_passu"


# Rules that cannot attribute backward (sources of funds), and why.
_NOT_BACKWARD = {
    Rule.LIBR: "LIBR measures one taint against clean money, not the shares of many origins",
    Rule.POISON: "poison measures exposure, not value, so it cannot split a payment by origin",
}


class SameDayPolicy(StrEnum):
    """Order of one account's events on one UTC day.

    ``ledger`` keeps statement order; ``worst_case`` puts every withdrawal of a day before its
    deposits; ``best_case`` puts an account's deposits of a day before its withdrawals (where
    same-day transfers form a cycle that makes this impossible, statement order breaks the tie).
    """

    LEDGER = "ledger"
    WORST_CASE = "worst_case"
    BEST_CASE = "best_case"


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise InvalidTraceParams(f"{name} must be timezone-aware, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSeed:
    """Proceeds placed on an account: ``amount`` of ``currency`` arriving at time ``at``.

    ``amount`` is required by every attribution rule and ignored by ``reach``. ``at`` defaults
    to the window start (forward) or end (backward), or the whole ledger when there is none.

    Example
    -------
    >>> from datetime import UTC
    >>> AccountSeed(account="iban:DE89370400440532013000", currency="EUR",
    ...             amount=Decimal("5000.00"), at=datetime(2025, 3, 1, tzinfo=UTC)).amount
    Decimal('5000.00')
    """

    account: str
    currency: str
    amount: Decimal | None = None
    at: datetime | None = None
    claimant: str | None = None  # whose taint this is (a victim's name or a party key)

    def __post_init__(self) -> None:
        """Check the seed when it is built."""
        _aware("seed time", self.at)
        if self.claimant is not None and not self.claimant.strip():
            raise InvalidTraceParams("a seed's claimant must not be blank")
        if self.amount is not None and (not self.amount.is_finite() or self.amount <= 0):
            raise InvalidTraceParams(f"seed amount must be positive, got {self.amount}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceParams:
    """Everything a trace depends on besides the ledger.

    Parameters
    ----------
    seeds, seed_transactions
        Seed accounts (:class:`AccountSeed`) and/or external ids of seed transactions, whose
        whole amount is taint arriving at their destination. At least one seed is required.
    direction, rule, same_day_policy
        Attribution rules need ``direction="forward"``; ``reach`` works both ways.
    max_hops
        Most transactions on a path, within ``1..64``.
    window_start, window_end
        Only transactions with value time in ``[start, end]`` are followed; attribution
        replays each traced account's history up to ``min(window_end, as_of)``.
    min_amount
        Transactions below this amount (in their own currency) are not followed.
    stop_at
        Account keys reported but not expanded (exchanges, cash-out, unknown counterparties).
    max_counterparties
        High-degree cut-off: accounts with more distinct counterparties are reported, not
        expanded. Seeds are always expanded.
    as_of
        Time at which "held" is measured (default: the window end or the end of the ledger);
        no seed may be placed after it.
    max_accounts, max_events
        Limits; exceeding one raises :class:`~tracing.errors.TraceTooLarge`.
    claimant_rule
        Whose taint leaves a mixed account when seeds name claimants (:class:`ClaimantRule`);
        left out, it is ``pro_rata``, or the rule itself under ``fifo`` and ``lifo``.
    transaction_claimants
        Claimants of seed transactions: ``(external id, claimant)`` pairs (a mapping is
        accepted), each id one of ``seed_transactions``; the others are unattributed taint.

    Example
    -------
    >>> p = TraceParams(seed_transactions=("T0000042",), rule=Rule.LIBR, max_hops=4)
    >>> p.direction, p.same_day_policy
    (<Direction.FORWARD: 'forward'>, <SameDayPolicy.LEDGER: 'ledger'>)
    """

    seeds: tuple[AccountSeed, ...] = ()
    seed_transactions: tuple[str, ...] = ()
    direction: Direction = Direction.FORWARD
    rule: Rule = Rule.REACH
    same_day_policy: SameDayPolicy = SameDayPolicy.LEDGER
    max_hops: int = 6
    window_start: datetime | None = None
    window_end: datetime | None = None
    min_amount: Decimal | None = None
    stop_at: frozenset[str] = field(default_factory=frozenset)
    max_counterparties: int | None = None
    as_of: datetime | None = None
    max_accounts: int | None = None
    max_events: int | None = None
    claimant_rule: ClaimantRule | None = None
    transaction_claimants: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        """Normalise collections and check the parameters when they are built."""
        # Accept lists and sets from callers but store hashable, ordered-as-given tuples.
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "seed_transactions", tuple(self.seed_transactions))
        object.__setattr__(self, "stop_at", frozenset(self.stop_at))
        object.__setattr__(self, "direction", Direction(self.direction))
        object.__setattr__(self, "rule", Rule(self.rule))
        object.__setattr__(self, "same_day_policy", SameDayPolicy(self.same_day_policy))
        if self.claimant_rule is not None:
            object.__setattr__(self, "claimant_rule", ClaimantRule(self.claimant_rule))
        pairs: Any = self.transaction_claimants
        if isinstance(pairs, Mapping):
            pairs = pairs.items()
        object.__setattr__(self, "transaction_claimants", tuple(sorted({(t, c) for t, c in pairs})))
        self._check_seeds()
        self._check_ranges()
        self._check_claimants()

    @property
    def has_claimants(self) -> bool:
        """Whether any seed names a claimant."""
        return bool(self.transaction_claimants) or any(
            seed.claimant is not None for seed in self.seeds
        )

    @property
    def value_backward(self) -> bool:
        """A sources-of-funds trace: an attribution rule traced backward."""
        return self.direction is Direction.BACKWARD and self.rule is not Rule.REACH

    @property
    def shares_by(self) -> ClaimantRule:
        """The claimant rule in force (the rule itself under ``fifo`` and ``lifo``)."""
        if self.claimant_rule is not None:
            return self.claimant_rule
        if self.rule in (Rule.FIFO, Rule.LIFO):
            return ClaimantRule(str(self.rule))
        return ClaimantRule.PRO_RATA

    def _check_claimants(self) -> None:
        named = [tx for tx, _ in self.transaction_claimants]
        if len(set(named)) < len(named):
            raise InvalidTraceParams("a seed transaction names one claimant, not several")
        if set(named) - set(self.seed_transactions):
            missing = ", ".join(sorted(set(named) - set(self.seed_transactions)))
            raise InvalidTraceParams(f"transaction_claimants names no seed transaction: {missing}")
        if any(not claimant.strip() for _, claimant in self.transaction_claimants):
            raise InvalidTraceParams("a seed's claimant must not be blank")
        if not self.has_claimants:
            if self.claimant_rule is not None:
                raise InvalidTraceParams("claimant_rule needs at least one seed with a claimant")
            return
        if self.rule is Rule.REACH or self.rule is Rule.POISON:
            raise InvalidTraceParams(
                f"rule {self.rule} has no shares to give claimants: use fifo, lifo, haircut or libr"
            )
        if self.direction is Direction.BACKWARD:
            raise InvalidTraceParams("claimants are traced forward; sources of funds backward")
        if self.rule in (Rule.FIFO, Rule.LIFO):
            if self.claimant_rule not in (None, ClaimantRule(str(self.rule))):
                raise InvalidTraceParams(
                    f"under rule {self.rule} the claimants follow the lots: leave "
                    f"claimant_rule out or set it to {self.rule}"
                )
        elif self.claimant_rule is ClaimantRule.LIFO:
            raise InvalidTraceParams("claimant_rule lifo needs rule lifo")

    def _check_seeds(self) -> None:
        if not self.seeds and not self.seed_transactions:
            raise InvalidTraceParams("at least one seed account or transaction is required")
        if self.value_backward:
            self._check_backward()
        elif self.rule is not Rule.REACH and any(seed.amount is None for seed in self.seeds):
            raise InvalidTraceParams(f"rule {self.rule} needs an amount on every seed")
        for seed in self.seeds:
            if seed.at is None:
                continue
            if self.as_of is not None and seed.at > self.as_of:
                raise InvalidTraceParams(f"seed time {seed.at} is after as_of {self.as_of}")
            if (self.window_start and seed.at < self.window_start) or (
                self.window_end and seed.at > self.window_end
            ):
                raise InvalidTraceParams(f"seed time {seed.at} lies outside the window")

    def _check_backward(self) -> None:
        if self.rule in _NOT_BACKWARD:
            raise InvalidTraceParams(
                f"rule {self.rule} cannot trace backward: {_NOT_BACKWARD[self.rule]}"
            )
        if self.seeds and self.seed_transactions:
            raise InvalidTraceParams(
                "a sources-of-funds trace seeds either transactions or accounts, not both"
            )
        if len({seed.at for seed in self.seeds}) > 1:
            raise InvalidTraceParams("the seed accounts of a sources-of-funds trace share a time")

    def _check_ranges(self) -> None:
        if not 1 <= self.max_hops <= MAX_HOPS:
            raise InvalidTraceParams(f"max_hops must be within 1..{MAX_HOPS}, got {self.max_hops}")
        for name in ("window_start", "window_end", "as_of"):
            _aware(name, getattr(self, name))
        if self.window_start and self.window_end and self.window_start > self.window_end:
            raise InvalidTraceParams("window_start is after window_end")
        if self.min_amount is not None and not (
            self.min_amount.is_finite() and self.min_amount >= 0
        ):
            raise InvalidTraceParams(f"min_amount must be >= 0, got {self.min_amount}")
        for name in ("max_counterparties", "max_accounts", "max_events"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InvalidTraceParams(f"{name} must be >= 1, got {value}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, canonical form (sorted collections, ISO times, decimal strings).

        Example
        -------
        >>> TraceParams(seed_transactions=("T1",)).to_dict()["rule"]
        'reach'
        """

        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        def dec(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        seeds: list[dict[str, Any]] = [
            {"account": s.account, "currency": s.currency, "amount": dec(s.amount), "at": iso(s.at)}
            for s in self.seeds
        ]
        # Claimants appear only when used, so the JSON of traces without them is unchanged.
        for out, seed in zip(seeds, self.seeds, strict=True):
            if seed.claimant is not None:
                out["claimant"] = seed.claimant
        extra: dict[str, Any] = {}
        if self.has_claimants:
            extra["claimant_rule"] = str(self.shares_by)
        if self.transaction_claimants:
            extra["transaction_claimants"] = dict(self.transaction_claimants)
        return extra | {
            "seeds": seeds,
            "seed_transactions": list(self.seed_transactions),
            "direction": str(self.direction),
            "rule": str(self.rule),
            "same_day_policy": str(self.same_day_policy),
            "max_hops": self.max_hops,
            "window_start": iso(self.window_start),
            "window_end": iso(self.window_end),
            "min_amount": dec(self.min_amount),
            "stop_at": sorted(self.stop_at),
            "max_counterparties": self.max_counterparties,
            "as_of": iso(self.as_of),
            "max_accounts": self.max_accounts,
            "max_events": self.max_events,
        }
