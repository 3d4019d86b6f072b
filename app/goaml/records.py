"""What a goAML report says, as records keyed the way the ledger keys them."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class PartyRecord:
    key: str
    kind: str
    name: str
    country: str | None
    identifiers: dict[str, str]
    where: Any


@dataclass
class AccountRecord:
    key: str
    name: str | None = None
    bic: str | None = None
    number: str | None = None
    institution: str | None = None
    currency: str | None = None
    holders: dict[tuple[str, str], None] = field(default_factory=dict)
    where: Any = None


@dataclass
class Side:
    account: str
    my_client: bool = False
    funds_code: str | None = None
    element: Any = None


@dataclass
class TransactionRecord:
    element: Any
    number: str
    internal_ref: str | None
    time: str
    value_date: datetime | None
    transmode_code: str
    amount: str
    description: str | None
    location: str | None
    source: Side | None = None
    target: Side | None = None
    conductor: str | None = None
    foreign: list[dict[str, str]] = field(default_factory=list)
    parties: list[dict[str, str | None]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PartyLink:
    """Two parties the report relates: a director of an entity, or a probable same person."""

    party: str
    related: str
    relation: str  # "director" | "probable_same_person"
    role: str | None = None


@dataclass
class ReportRecord:
    rentity_id: str = ""
    rentity_branch: str | None = None
    submission_code: str = ""
    report_code: str = ""
    entity_reference: str | None = None
    fiu_ref_number: str | None = None
    reported_at: datetime | None = None
    currency: str = ""
    reason: str | None = None
    action: str | None = None
    indicators: list[str] = field(default_factory=list)
    parties: dict[str, PartyRecord] = field(default_factory=dict)
    accounts: dict[str, AccountRecord] = field(default_factory=dict)
    transactions: list[TransactionRecord] = field(default_factory=list)
    links: dict[PartyLink, None] = field(default_factory=dict)
    repeats: int = 0

    @property
    def reference(self) -> str:
        return (self.fiu_ref_number or self.entity_reference or f"rentity-{self.rentity_id}")[:200]
