from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, model_validator

from app.examples import example
from app.inputs import Body, Instant, Text
from tracing import ClaimantRule, Direction, Rule, SameDayPolicy

_DECIMAL = r"^[0-9]+(\.[0-9]+)?$"


class TraceStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SeedIn(Body):
    """An amount placed on an account at a time, or a transaction whose whole amount is taint."""

    account: Text | None = Field(default=None, description="Account key or id.")
    amount: str | None = Field(default=None, pattern=_DECIMAL, description="Decimal string.")
    currency: Text | None = None
    at: Instant | None = Field(default=None, description="When the proceeds arrived.")
    transaction: Text | None = Field(
        default=None,
        description="A transaction by engine id, or by external id when that names one record "
        "you may see.",
    )
    claimant: Text | None = Field(
        default=None,
        max_length=300,
        description="Whose money this is (a victim's name or a party key): the trace then "
        "gives each account's shares per claimant (GET /traces/{id}/claimants).",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> "SeedIn":
        if (self.account is None) == (self.transaction is None):
            raise ValueError("a seed is either an account (with currency) or a transaction")
        if self.account is not None and self.currency is None:
            raise ValueError("an account seed needs a currency")
        if self.transaction is not None and (self.amount or self.currency or self.at):
            raise ValueError("a transaction seed takes no amount, currency or time")
        return self


class RoleThresholds(Body):
    """What an account must reach to play a role in the network (GET /traces/{id}/roles).

    Shares are fractions (`0.8` is 80 %) of what the account received, or, for `broker` and
    `sink`, of all the taint traced in its currency.
    """

    model_config = example(
        {
            "pass_through_min_passed": "0.8",
            "pass_through_max_dwell_hours": "72",
            "pass_through_max_held": "0.2",
            "collector_min_senders": 3,
            "distributor_min_receivers": 3,
            "broker_min_share": "0.5",
            "sink_min_held": "0.8",
            "sink_min_share": "0.05",
        }
    )

    pass_through_min_passed: Decimal = Field(
        default=Decimal("0.8"),
        ge=0,
        le=1,
        description="pass_through (money mule): passed on at least this share of the taint it "
        "received ...",
    )
    pass_through_max_dwell_hours: Decimal = Field(
        default=Decimal(72), ge=0, description="... with a median dwell time of at most this ..."
    )
    pass_through_max_held: Decimal = Field(
        default=Decimal("0.2"), ge=0, le=1, description="... and holds at most this share."
    )
    collector_min_senders: int = Field(
        default=3, ge=1, description="collector: taint from at least this many senders."
    )
    distributor_min_receivers: int = Field(
        default=3, ge=1, description="distributor: taint to at least this many receivers."
    )
    broker_min_share: Decimal = Field(
        default=Decimal("0.5"),
        ge=0,
        le=1,
        description="broker (not a seed): passed on at least this share of all traced value.",
    )
    sink_min_held: Decimal = Field(
        default=Decimal("0.8"),
        ge=0,
        le=1,
        description="sink: holds at least this share of the taint it received ...",
    )
    sink_min_share: Decimal = Field(
        default=Decimal("0.05"), ge=0, le=1, description="... and this share of all traced value."
    )


class TraceCreate(Body):
    model_config = example(
        {
            "seeds": [{"transaction": "DEMO-D01"}, {"transaction": "DEMO-D02"}],
            "direction": "forward",
            "rule": "libr",
            "same_day_policy": "ledger",
            "max_hops": 6,
            "start": "2026-01-01T00:00:00Z",
            "end": None,
            "as_of": None,
            "stop_at": ["iban:MT84MALT011000012345MTLCAST001S"],
            "case_id": None,
        }
    )

    seeds: list[SeedIn] = Field(min_length=1, max_length=1000)
    direction: Direction = Direction.FORWARD
    rule: Rule = Rule.REACH
    same_day_policy: SameDayPolicy = SameDayPolicy.LEDGER
    max_hops: int = Field(default=6, ge=1, le=64)
    start: Instant | None = Field(default=None, description="Window start (value time).")
    end: Instant | None = Field(default=None, description="Window end (value time).")
    as_of: Instant | None = Field(default=None, description="When 'held' is measured.")
    min_amount: str | None = Field(default=None, pattern=_DECIMAL)
    stop_at: list[Text] = Field(
        default_factory=list,
        max_length=10_000,
        description="Accounts reported but not expanded (exchanges ...). Each must be an "
        "account of the ledger: an unknown one is refused (422 `unknown_stop_accounts`, naming "
        "it), never ignored.",
    )
    stop_at_external: bool = Field(
        default=True,
        description="Stop at `ext:` and `cash:` accounts: taint reaching them has left the "
        "traced universe (unknown counterparty, cash-out).",
    )
    max_counterparties: int | None = Field(
        default=None, ge=1, description="High-degree cut-off: accounts with more are not expanded."
    )
    claimant_rule: ClaimantRule | None = Field(
        default=None,
        description="Whose taint leaves a mixed account when seeds name claimants: `pro_rata` "
        "(rolling charge, the default), `fifo` (Clayton's Case among the claimants), "
        "`pari_passu` (Barlow Clowes: what is held is shared by what each claimant put in). "
        "Under rule fifo or lifo the claimants follow the lots: leave it out or name the rule.",
    )
    case_id: int | None = None
    roles: RoleThresholds | None = Field(
        default=None,
        description="Thresholds of the roles in the network (GET /traces/{id}/roles); the "
        "defaults when left out.",
    )

    def min_amount_decimal(self) -> Decimal | None:
        return None if self.min_amount is None else Decimal(self.min_amount)


_SUMMARY_EXAMPLE: dict[str, Any] = {
    "currency": "EUR",
    "measure": "value",
    "taint_in": "46500.00",
    "held": "43000.00",
    "exited": "3500.00",
    "conserved": True,
    "accounts_reached": 11,
    "accounts_per_hop": {"0": 3, "1": 4, "2": 3, "3": 1},
    "transactions_followed": 15,
    "flags": 2,
    "flags_by_kind": {"opening_balance_inferred": 1, "stopped_account": 1},
}


class FlagKind(StrEnum):
    """Why the trace flagged an account for a human look."""

    OPENING_BALANCE_INFERRED = "opening_balance_inferred"
    OVERDRAWN = "overdrawn"
    STOPPED_ACCOUNT = "stopped_account"
    HIGH_DEGREE_ACCOUNT = "high_degree_account"


class TraceFlag(BaseModel):
    model_config = example(
        {
            "account": "iban:DE75512108001245126199",
            "currency": "EUR",
            "kind": "opening_balance_inferred",
            "detail": "missing statements or unexplained funds: 2000.00 assumed clean",
        },
    )

    account: str
    currency: str
    kind: FlagKind = Field(
        description="`opening_balance_inferred`: outflows exceeded the known inflows, so the "
        "smallest clean opening balance was assumed (missing statements or unexplained funds); "
        "`overdrawn`: the balance went below zero despite a given opening balance; "
        "`stopped_account` / `high_degree_account`: reported, not expanded."
    )
    detail: str


class TraceRead(BaseModel):
    model_config = example(
        {
            "id": "5c1f0e6f2b7d4c3a9e8d7c6b5a493827",
            "status": "done",
            "case_id": None,
            "rerun_of": None,
            "created_by": "3f2a9c0d1e4b5a67",
            "created_at": "2026-02-10T09:00:00Z",
            "finished_at": "2026-02-10T09:00:01Z",
            "request": {"seeds": [{"transaction": "DEMO-D01"}], "rule": "libr"},
            "params": {"rule": "libr", "max_hops": 6},
            "engine_version": "0.1.1",
            "ledger_fingerprint": "5f68469f5a14fdb5163e1947d6f11d15855d297d12298000d675124d",
            "ledger_transactions": 23,
            "result_sha256": "9f86d081884c7d659a2feaa0c55ad015",
            "summary": _SUMMARY_EXAMPLE,
            "progress": None,
            "error": None,
            "job": None,
        },
    )

    id: str
    status: TraceStatus
    case_id: int | None
    rerun_of: str | None
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    request: dict[str, Any]
    params: dict[str, Any] | None
    engine_version: str | None
    ledger_fingerprint: str | None
    ledger_transactions: int | None
    result_sha256: str | None = Field(description="SHA-256 of the stored canonical result JSON.")
    summary: dict[str, Any] | None
    progress: dict[str, Any] | None
    error: dict[str, Any] | None
    job: str | None = Field(default=None, description="Poll GET /traces/{id} while running.")


class TraceAccount(BaseModel):
    model_config = example(
        {
            "account": "iban:DE75512108001245126199",
            "currency": "EUR",
            "hop": 1,
            "first_reached": "2026-01-08T10:00:00Z",
            "role": "reached",
            "received": "24900.00",
            "passed_on": "10900.00",
            "exited": "3500.00",
            "held": "10500.00",
            "opening_balance": "0.00",
            "opening_inferred": False,
            "holder": "Nordlicht Handels GmbH",
            "roles": ["pass_through", "distributor"],
        },
    )

    account: str
    currency: str
    hop: int
    first_reached: datetime | None
    role: str
    received: str | None = Field(description="Taint that arrived here (seeds included).")
    passed_on: str | None = Field(
        description="Taint this account paid on to accounts inside the traced universe. Taint "
        "that left the universe is not in it but in `exited`."
    )
    exited: str | None = Field(
        description="Taint that left the traced universe from this account: paid to a stopped "
        "or external account (exchange, cash-out, unknown counterparty), beyond the hop "
        "limit, window or threshold, or absorbed repaying an overdraft. For every rule but "
        "poison, received = passed_on + exited + held on an account the trace expands."
    )
    held: str | None = Field(description="Taint still here at `as_of`: what can be frozen.")
    opening_balance: str | None
    opening_inferred: bool | None
    holder: str | None = None
    roles: list[str] = Field(
        default_factory=list,
        description="Its roles in the network (GET /traces/{id}/roles has the figures).",
    )


class TraceFlow(BaseModel):
    model_config = example(
        {
            "transaction": "DEMO-L05",
            "from_account": "iban:DE75512108001245126199",
            "to_account": "iban:CY17002001280000001200527600",
            "currency": "EUR",
            "value_time": "2026-01-15T10:00:00Z",
            "hop": 2,
            "amount": "25000.00",
            "traced_amount": "10900.00",
        },
    )

    transaction: str
    from_account: str
    to_account: str
    currency: str
    value_time: datetime
    hop: int
    amount: str
    traced_amount: str | None


class TraceExit(BaseModel):
    model_config = example(
        {
            "transaction": "DEMO-L06",
            "from_account": "iban:DE75512108001245126199",
            "to_account": "ext:Autohaus Premium GmbH",
            "currency": "EUR",
            "value_time": "2026-01-20T10:00:00Z",
            "traced_amount": "3500.00",
            "reason": "stopped_account",
        },
    )

    transaction: str
    from_account: str
    to_account: str
    currency: str
    value_time: datetime
    traced_amount: str
    reason: str


class ExplainedPath(BaseModel):
    model_config = example(
        {
            "path": 1,
            "strength": "9500.00",
            "hops": 3,
            "steps": [
                {
                    "transaction": "DEMO-D03",
                    "from_account": "cash:courier-rotterdam",
                    "to_account": "iban:NL91ABNA0417164300",
                    "currency": "EUR",
                    "value_time": "2026-01-06T10:00:00Z",
                    "hop": 0,
                    "amount": "9800.00",
                    "traced_amount": "9800.00",
                }
            ],
        },
    )

    path: int
    strength: str
    hops: int
    steps: list[TraceFlow]


class RerunDiff(BaseModel):
    model_config = example(
        {
            "previous": "5c1f0e6f2b7d4c3a9e8d7c6b5a493827",
            "trace": {"id": "6d2e...", "status": "done"},
            "ledger_changed": True,
            "new_transactions": 1,
            "accounts_added": ["iban:DE21500500009876543210"],
            "accounts_removed": [],
            "amounts_changed": [
                {
                    "account": "iban:CY17002001280000001200527600",
                    "currency": "EUR",
                    "field": "held",
                    "before": "10900.00",
                    "after": "4900.00",
                }
            ],
            "records_replaced": [
                {
                    "external_id": "DEMO-L05",
                    "cause": "superseded",
                    "replaced_by": "DEMO-L05-c1",
                    "reason": "The bank corrected the amount: 19,000.00, not 25,000.00",
                }
            ],
            "totals_changed": {"held": {"before": "43000.00", "after": "43000.00"}},
            "compartments_added": [7],
            "compartments_removed": [],
            "seeds_renamed": [{"before": "DEMO-L01", "after": "DEMO-L01@case:7"}],
            "transactions_renamed": 3,
        },
    )

    previous: str
    trace: TraceRead
    ledger_changed: bool
    new_transactions: int
    accounts_added: list[str]
    accounts_removed: list[str]
    amounts_changed: list[dict[str, Any]]
    records_replaced: list[dict[str, Any]] = Field(
        description="Records the previous run used that have since left the ledger: "
        "`superseded` by a correction (`replaced_by`, `reason`) or confirmed `duplicate`s."
    )
    totals_changed: dict[str, Any]
    compartments_added: list[int] = Field(
        description="Cases whose compartments this run read and the previous did not (the "
        "caller's compartments are those of the moment: membership changed, or documents "
        "were filed since)."
    )
    compartments_removed: list[int] = Field(
        description="Cases whose compartments the previous run read and this one did not."
    )
    seeds_renamed: list[dict[str, str]] = Field(
        default_factory=list,
        description="Seed transactions an admin's refiling has renamed since the previous run "
        "(`before`: its name there, `after`: the name this run was seeded with).",
    )
    transactions_renamed: int = Field(
        0,
        description="How many of the transactions the previous run followed a refiling has "
        "renamed since (its stored result keeps the names it ran with).",
    )


class RoleName(StrEnum):
    """A part an account plays in the network that moved the taint."""

    PASS_THROUGH = "pass_through"
    COLLECTOR = "collector"
    DISTRIBUTOR = "distributor"
    HUB = "hub"
    BROKER = "broker"
    SINK = "sink"
    EXIT = "exit"


class EarnedRole(BaseModel):
    role: RoleName
    figures: dict[str, Any] = Field(
        description="What earned it: amounts as decimal strings in the currency, shares as "
        "fractions, counts as integers."
    )


class TraceAccountRoles(BaseModel):
    model_config = example(
        {
            "account": "iban:DE75512108001245126199",
            "currency": "EUR",
            "holder": "Nordlicht Handels GmbH",
            "roles": [
                {
                    "role": "pass_through",
                    "figures": {
                        "received": "24900.00",
                        "passed_on": "22900.00",
                        "passed_on_share": "0.9197",
                        "held": "2000.00",
                        "held_share": "0.0803",
                        "median_dwell_hours": "26.5",
                    },
                },
                {"role": "distributor", "figures": {"receivers": 4}},
            ],
        },
    )

    account: str
    currency: str
    holder: str | None = None
    roles: list[EarnedRole] = Field(
        description="`pass_through` (money mule): passed on most of its taint quickly and kept "
        "little; `collector`: taint from many senders; `distributor`: to many receivers; `hub`: "
        "both; `broker`: much of all traced value passed through it; `sink`: kept most of its "
        "taint, a notable share of the total; `exit`: taint left the trace here (a stopped or "
        "high-degree account, or a cut-off: hop limit, window, minimum amount). An account with "
        "no role has an empty list."
    )


class TraceClaimantShare(BaseModel):
    model_config = example(
        {
            "account": "iban:DE75512108001245126199",
            "currency": "EUR",
            "claimant": "Anna Berger",
            "received": "600.00",
            "held": "210.00",
        },
    )

    account: str
    currency: str
    claimant: str | None = Field(
        description="The claimant; null for unattributed taint (seeds naming no claimant, "
        "seed transactions)."
    )
    received: str = Field(description="The claimant's taint that arrived at this account.")
    held: str = Field(
        description="The claimant's share of the taint held here at `as_of`; the shares of an "
        "account sum exactly to its held taint (largest remainder, to the smallest unit)."
    )


class TraceSource(BaseModel):
    model_config = example(
        {
            "seed": "DEMO-L05",
            "origin": "iban:NL91ABNA0417164300",
            "currency": "EUR",
            "reason": "opening_balance",
            "hop": 2,
            "amount": "3000.00",
        },
    )

    seed: str = Field(description="The seed: a transaction's external id or an account key.")
    origin: str = Field(description="The account where this money entered the traced ledger.")
    currency: str
    reason: str = Field(
        description="Why it counts as an origin: `opening_balance` (its own money, given or "
        "inferred), `hop_limit`, `stopped_account`, `high_degree_account` (paid in from an "
        "account not expanded), `unfollowed` (from an account the search did not reach), "
        "`overdraft` (the part its balance did not cover)."
    )
    hop: int | None = Field(
        description="The origin's fewest hops from the seed (null: not reached)."
    )
    amount: str = Field(description="The seed's money from this origin; a seed's rows sum to it.")
