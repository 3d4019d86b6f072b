"""The demo case (operation 'Nordlicht') inside a generated ledger of thousands of accounts.

The demo's transactions are kept as they are, and its figures with them. Around them, in the
same hop columns: the courier pays cash into `chains` other accounts as well (generated seed
transactions), each of which passes half on, and that account a quarter; and Vega Exchange pays
`customers` customers out of its euro account after the demo's money arrived. Their keys
(`acct:000001`, ...) sort before the demo's `iban:` keys; the chains carry small amounts of
taint, the customers none under LIBR.
"""

import csv
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources

import polars as pl

from app.demo.service import EXCHANGE_ACCOUNT
from tests.tracing.factories import SCHEMA

PAYOUTS_FROM = datetime(2026, 1, 20, 8, tzinfo=UTC)


def demo_rows() -> list[tuple[object, ...]]:
    text = resources.files("app.demo").joinpath("transactions.csv").read_text()
    return [
        (
            row["external_id"],
            row["from_account"],
            row["to_account"],
            Decimal(row["amount"]),
            row["currency"],
            datetime.fromisoformat(row["value_time"]),
            int(row["sequence"] or 0),
        )
        for row in csv.DictReader(text.splitlines())
        if row["currency"] == "EUR"
    ]


def generated_seeds(chains: int) -> tuple[str, ...]:
    return tuple(f"GEN-D{n:06d}" for n in range(1, chains + 1))


def chain_cash(n: int) -> Decimal:
    """The n-th generated cash deposit: 40.00 to 239.96 EUR, in fours of cents so that its
    half and quarter passed on are whole cents."""
    return Decimal(40 + n % 200) + Decimal(4 * (n % 25)) / 100


def demo_ledger_frame(*, chains: int, customers: int) -> pl.DataFrame:
    """The demo's euro transactions and `3 * chains + customers` generated accounts."""
    rows = demo_rows()
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    for n in range(1, chains + 1):
        first, second, third = (f"acct:{n + chains * i:06d}" for i in range(3))
        cash = chain_cash(n)
        when = start + timedelta(minutes=n)
        rows += [
            (f"GEN-D{n:06d}", "cash:courier-rotterdam", first, cash, "EUR", when, 1),
            (f"GEN-A{n:06d}", first, second, cash / 2, "EUR", when + timedelta(days=2), 2),
            (f"GEN-B{n:06d}", second, third, cash / 4, "EUR", when + timedelta(days=4), 2),
        ]
    for n in range(1, customers + 1):
        customer = f"acct:{3 * chains + n:06d}"
        payout = Decimal(10 + n % 97) + Decimal(n % 100) / 100
        when = PAYOUTS_FROM + timedelta(minutes=n)
        rows.append((f"GEN-P{n:06d}", EXCHANGE_ACCOUNT, customer, payout, "EUR", when, 10 + n))
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def demo_accounts() -> dict[str, tuple[str, str | None]]:
    """The demo's account keys with their first holder's name and institution."""
    data = json.loads(resources.files("app.demo").joinpath("accounts.json").read_text())
    names = {p["key"]: p["name"] for p in data["parties"]}
    return {
        a["key"]: (names[a["holders"][0]["party"]], a.get("institution"))
        for a in data["accounts"]
        if a.get("holders")
    }
