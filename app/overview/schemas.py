"""The case overview: one answer with everything a case holds, for the case's own page."""

from datetime import datetime

from pydantic import BaseModel, Field

from app.asset.machine import LegalStatus
from app.case.schemas import CaseKind, CaseRead, CaseStatus, ConvergenceRead, SubjectRead
from app.deadline.schemas import Deadline
from app.examples import example

MONEY = Field(description="Exact decimal string in the currency's minor units.", examples=["0.00"])


class MoneyTotal(BaseModel):
    currency: str = Field(examples=["EUR"])
    amount: str = MONEY


class LinkedCase(BaseModel):
    relation: str = Field(
        description="`parent`: the criminal case this financial investigation runs beside; "
        "`parallel_financial_investigation`: one running beside this case.",
        examples=["parent"],
    )
    case_id: int = Field(examples=[1])
    reference: str = Field(examples=["BKA-2026-0001"])
    kind: CaseKind
    title: str = Field(examples=["Hafen cocaine imports"])
    status: CaseStatus


class SubjectAccount(BaseModel):
    account_id: int = Field(examples=[4])
    key: str = Field(examples=["iban:DE89370400440532013000"])
    role: str = Field(description="The party's role on the account.", examples=["holder"])


class SubjectOverview(SubjectRead):
    accounts: list[SubjectAccount] = Field(
        description="The accounts the party holds (for an account subject: the account itself).",
        examples=[[{"account_id": 4, "key": "iban:DE89370400440532013000", "role": "holder"}]],
    )
    same_as: list[str] = Field(
        default_factory=list,
        description="Parties a person linked as one with this party (it counts with them once).",
        examples=[["person:goaml-4711"]],
    )


class AssetBrief(BaseModel):
    id: int = Field(examples=[5])
    type: str = Field(examples=["bank_balance"])
    description: str = Field(examples=["Current account balance"])
    account_key: str | None = Field(examples=["iban:DE89370400440532013000"])
    value: str | None = Field(description="Latest valuation, exact.", examples=["48210.55"])
    currency: str | None = Field(examples=["EUR"])
    held: str | None = Field(
        description="What the measure in force holds (a partial freeze holds less than the "
        "value); null when no measure holds it.",
        examples=["20000.00"],
    )
    expires_at: datetime | None = Field(examples=["2026-08-06T22:00:00Z"])
    replaces_asset_id: int | None = Field(examples=[None])


class AssetGroup(BaseModel):
    status: LegalStatus
    count: int = Field(examples=[1])
    unvalued: int = Field(description="Assets of the group with no valuation.", examples=[0])
    value_totals: list[MoneyTotal] = Field(
        description="Sum of the valuations per currency.",
        examples=[[{"currency": "EUR", "amount": "48210.55"}]],
    )
    held_totals: list[MoneyTotal] = Field(
        description="Sum held by the measures in force per currency (restrained states only).",
        examples=[[{"currency": "EUR", "amount": "20000.00"}]],
    )
    assets: list[AssetBrief]


class TraceBrief(BaseModel):
    id: str = Field(examples=["5f0c3a9e1b2d4c6f8a7e9d0b1c2a3f4e"])
    status: str = Field(examples=["done"])
    rule: str | None = Field(examples=["libr"])
    direction: str | None = Field(examples=["forward"])
    created_by: str = Field(examples=["3f9a0c1d2b4e5f60"])
    created_at: datetime
    finished_at: datetime | None
    result_sha256: str | None = Field(examples=["9b1f" + "0" * 60])
    currency: str | None = Field(examples=["EUR"])
    taint_in: str | None = Field(examples=["100000.00"])
    held: str | None = Field(examples=["61500.00"])
    exited: str | None = Field(examples=["38500.00"])
    accounts_reached: int | None = Field(examples=[14])


class CaseHappening(BaseModel):
    at: datetime
    kind: str = Field(
        description="`case_status`, `asset_move` or `trace`.", examples=["asset_move"]
    )
    summary: str = Field(examples=["asset 5 IDENTIFIED → FROZEN (ORD-2026-7, Amtsgericht Hamburg)"])
    actor_id: str | None = Field(examples=["3f9a0c1d2b4e5f60"])
    asset_id: int | None = Field(default=None, examples=[5])
    trace_id: str | None = Field(default=None, examples=[None])


class CaseOverview(BaseModel):
    model_config = example(
        {
            "case": CaseRead.model_json_schema()["example"],
            "linked_cases": [
                {
                    "relation": "parent",
                    "case_id": 1,
                    "reference": "BKA-2026-0001",
                    "kind": "criminal_investigation",
                    "title": "Hafen cocaine imports",
                    "status": "active",
                }
            ],
            "subjects": [],
            "distinct_parties": 0,
            "asset_totals": [{"currency": "EUR", "amount": "398210.55"}],
            "assets": [],
            "traces": [],
            "deadlines": [],
            "convergence": [],
            "recent_events": [],
        },
    )

    case: CaseRead
    linked_cases: list[LinkedCase]
    subjects: list[SubjectOverview]
    distinct_parties: int = Field(
        description="Parties among the subjects, those linked as one counted once."
    )
    asset_totals: list[MoneyTotal] = Field(
        description="Valuations of every asset of the case, per currency, exact."
    )
    assets: list[AssetGroup] = Field(description="By legal status, in the order of the law.")
    traces: list[TraceBrief] = Field(description="The case's traces, newest first.")
    deadlines: list[Deadline] = Field(
        description="Measures lapsing and interlocutory sales due soon (or passed), soonest "
        "first, as the deadline list gives them."
    )
    convergence: list[ConvergenceRead] = Field(
        description="Parties and accounts of this case found in other cases the caller may see."
    )
    recent_events: list[CaseHappening] = Field(description="Newest first.")
