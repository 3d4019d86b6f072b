"""Deterministic synthetic ledger for the tracing and ingest benchmarks.

Account activity is heavy-tailed (a Zipf-like law over a shuffled ranking, so a few accounts
behave like payment processors and most see a handful of transfers), amounts are log-normal
and rounded to cents, and value times spread over the year 2025 (UTC, whole seconds). The same
``(n_transactions, n_accounts, seed)`` always gives the same frame.

Usage::

    python -m benchmarks.synthetic 1000000 data/ledger-1m.parquet [--accounts N] [--seed S]
    python -m benchmarks.synthetic 100000 data/ledger-100k.csv
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

SCHEMA = pl.Schema(
    {
        "external_id": pl.String(),
        "from_account": pl.String(),
        "to_account": pl.String(),
        "amount": pl.Decimal(18, 2),
        "currency": pl.String(),
        "value_time": pl.Datetime("us", "UTC"),
        "sequence": pl.Int64(),
    }
)

_YEAR_START_US = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000
_YEAR_SECONDS = 365 * 86_400
# Zipf exponent of account activity: below 1 the biggest hub carries a few per cent of all
# transfers (a payment processor), while the median account sees a handful.
_ACTIVITY_EXPONENT = 0.9


def _check_digits(bban: pl.Expr) -> pl.Expr:
    """ISO 13616 check digits of German IBANs with the 18-digit `bban`: 98 minus the remainder
    mod 97 of the BBAN followed by "DE00" in digits (131400); 10**6 is 27 mod 97, which keeps
    the arithmetic within 64 bits."""
    return (98 - ((bban % 97) * 27 + 131400) % 97).cast(pl.String).str.zfill(2)


def with_valid_ibans(ledger: pl.DataFrame) -> pl.DataFrame:
    """The ledger with its IBAN-like keys given valid check digits, for loads through the API,
    which checks them as a bank would (the generator's own keys, which every other benchmark
    and test pins, are left as they are)."""

    def valid(column: str) -> pl.Expr:
        key = pl.col(column)
        bban = key.str.slice(9)
        return (
            pl.when(key.str.starts_with("iban:DE"))
            .then(pl.lit("iban:DE") + _check_digits(bban.cast(pl.Int64)) + bban)
            .otherwise(key)
            .alias(column)
        )

    return ledger.with_columns(valid("from_account"), valid("to_account"))


def _account_keys(n_accounts: int, rng: np.random.Generator) -> pl.Series:
    """Stable keys: two thirds German IBAN-like, the rest internal account numbers."""
    ids = pl.Series("i", np.arange(n_accounts, dtype=np.int64))
    digits = pl.Series("d", rng.integers(0, 10**18, n_accounts, dtype=np.int64))
    is_iban = pl.Series("b", rng.random(n_accounts) < 2 / 3)
    frame = pl.DataFrame([ids, digits, is_iban])
    keys = frame.select(
        pl.when(pl.col("b"))
        .then(
            pl.lit("iban:DE")
            + (pl.col("d") % 89 + 10).cast(pl.String)
            + pl.col("d").cast(pl.String).str.zfill(18)
        )
        .otherwise(pl.lit("acct:") + pl.col("i").cast(pl.String).str.zfill(6))
        .alias("key")
    )
    return keys.to_series()


def _activity(n_accounts: int, rng: np.random.Generator) -> np.ndarray:
    """Cumulative activity distribution over accounts, heaviest first in a shuffled order."""
    weights = 1.0 / np.arange(1, n_accounts + 1, dtype=np.float64) ** _ACTIVITY_EXPONENT
    weights = weights[rng.permutation(n_accounts)]
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return cdf


def _draw(cdf: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    picks = np.searchsorted(cdf, rng.random(n), side="right")
    return np.minimum(picks, len(cdf) - 1).astype(np.int64)


def generate_ledger(
    n_transactions: int, *, n_accounts: int | None = None, seed: int = 42
) -> pl.DataFrame:
    """Return a synthetic ledger of ``n_transactions`` rows in value-time order.

    Parameters
    ----------
    n_transactions
        Number of transfers (rows).
    n_accounts
        Number of distinct accounts; defaults to ``max(10, n_transactions // 10)``.
    seed
        Seed of the NumPy generator; equal arguments give an equal frame.

    Returns
    -------
    polars.DataFrame
        Columns ``external_id, from_account, to_account, amount (Decimal(18, 2)), currency,
        value_time (Datetime us UTC), sequence (Int64)``.

    Example
    -------
    >>> ledger = generate_ledger(1000, seed=7)
    >>> ledger.height, ledger["external_id"].n_unique()
    (1000, 1000)
    """
    if n_transactions < 0:
        raise ValueError("n_transactions must be >= 0")
    n_acc = max(10, n_transactions // 10) if n_accounts is None else n_accounts
    if n_acc < 2:
        raise ValueError("n_accounts must be >= 2")
    rng = np.random.default_rng(seed)
    keys = _account_keys(n_acc, rng)
    cdf = _activity(n_acc, rng)
    src = _draw(cdf, n_transactions, rng)
    dst = _draw(cdf, n_transactions, rng)
    # A transfer to oneself is not a transfer; move it to the next account.
    dst = np.where(dst == src, (dst + 1) % n_acc, dst)
    cents = np.maximum(np.rint(rng.lognormal(8.5, 1.6, n_transactions)), 1).astype(np.int64)
    seconds = np.sort(rng.integers(0, _YEAR_SECONDS, n_transactions, dtype=np.int64))
    times = _YEAR_START_US + seconds * 1_000_000
    return (
        pl.DataFrame(
            {
                "external_id": pl.int_range(1, n_transactions + 1, eager=True)
                .cast(pl.String)
                .str.zfill(7),
                "from_account": keys.gather(src),
                "to_account": keys.gather(dst),
                "amount": pl.Series(cents).cast(pl.Decimal(18, 2)) / 100,
                "currency": pl.repeat("EUR", n_transactions, eager=True),
                "value_time": pl.Series(times).cast(pl.Datetime("us", "UTC")),
                "sequence": pl.int_range(1, n_transactions + 1, eager=True, dtype=pl.Int64),
            }
        )
        .with_columns(
            (pl.lit("T") + pl.col("external_id")).alias("external_id"),
            pl.col("amount").cast(pl.Decimal(18, 2)),
        )
        .select(SCHEMA.names())
    )


def generate_chunks(
    n_transactions: int, chunk: int, *, n_accounts: int | None = None, seed: int = 42
) -> Iterator[pl.DataFrame]:
    """The ledger of ``n_transactions`` rows in frames of at most ``chunk`` rows, for ledgers
    that do not fit in memory at once.

    One account universe and activity law for the whole ledger (drawn once from ``seed``);
    each chunk draws its own transfers from a generator seeded by ``(seed, chunk index)`` and
    spreads them over the same year, so a chunk is a source document of the year's
    transfers. External ids and sequences run on across chunks (``T`` + 10 digits). The same
    arguments give the same chunks; they are not :func:`generate_ledger`'s rows.
    """
    n_acc = max(10, n_transactions // 10) if n_accounts is None else n_accounts
    rng = np.random.default_rng(seed)
    keys = _account_keys(n_acc, rng)
    cdf = _activity(n_acc, rng)
    for index, lo in enumerate(range(0, n_transactions, chunk)):
        n = min(chunk, n_transactions - lo)
        part = np.random.default_rng((seed, index))
        src = _draw(cdf, n, part)
        dst = _draw(cdf, n, part)
        dst = np.where(dst == src, (dst + 1) % n_acc, dst)
        cents = np.maximum(np.rint(part.lognormal(8.5, 1.6, n)), 1).astype(np.int64)
        seconds = np.sort(part.integers(0, _YEAR_SECONDS, n, dtype=np.int64))
        numbers = pl.int_range(lo + 1, lo + n + 1, eager=True, dtype=pl.Int64)
        yield pl.DataFrame(
            {
                "external_id": "T" + numbers.cast(pl.String).str.zfill(10),
                "from_account": keys.gather(src),
                "to_account": keys.gather(dst),
                "amount": (pl.Series(cents).cast(pl.Decimal(18, 2)) / 100).cast(pl.Decimal(18, 2)),
                "currency": pl.repeat("EUR", n, eager=True),
                "value_time": pl.Series(_YEAR_START_US + seconds * 1_000_000).cast(
                    pl.Datetime("us", "UTC")
                ),
                "sequence": numbers,
            }
        ).select(SCHEMA.names())


def main(argv: list[str] | None = None) -> None:
    """Write a synthetic ledger to a ``.parquet`` or ``.csv`` path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n_transactions", type=int)
    parser.add_argument("path", type=Path)
    parser.add_argument("--accounts", type=int, default=None)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    frame = generate_ledger(args.n_transactions, n_accounts=args.accounts, seed=args.seed)
    args.path.parent.mkdir(parents=True, exist_ok=True)
    if args.path.suffix == ".csv":
        frame.write_csv(args.path)
    else:
        frame.write_parquet(args.path)
    print(f"wrote {frame.height} transactions to {args.path}")


if __name__ == "__main__":
    main()
