"""Every table, imported in one place so that Alembic and the tests see the whole schema."""

from app.account.models import Account, AccountCorrection, AccountHolder, AccountStatement
from app.apikey.models import ApiKey, KeyCompartment
from app.asset.models import Asset, AssetCost, AssetLink, AssetOwner, AssetValuation
from app.audit.models import AuditEntry
from app.case.models import Case, CaseEvent, CaseMember, CaseSubject
from app.db import Base
from app.goaml.models import GoamlReport, GoamlTransaction
from app.matching.models import MatchKey, MatchNotification
from app.measure.models import Measure
from app.party.models import Party, PartyLinkEvent, PartyStatement
from app.proposal.models import FreezingProposal
from app.realisation.models import InterlocutorySale, ProceedsShare
from app.source.models import CompartmentChange, SourceDocument
from app.trace.models import TraceResultFrame, TraceRun, TraceRunAccount, TraceRunCompartment
from app.transaction.models import (
    DuplicateMatch,
    LedgerExclusion,
    Transaction,
    TransactionCorrection,
)

__all__ = [
    "Account",
    "AccountCorrection",
    "AccountHolder",
    "AccountStatement",
    "ApiKey",
    "Asset",
    "AssetCost",
    "AssetLink",
    "AssetOwner",
    "AssetValuation",
    "AuditEntry",
    "Base",
    "Case",
    "CaseEvent",
    "CaseMember",
    "CaseSubject",
    "CompartmentChange",
    "DuplicateMatch",
    "FreezingProposal",
    "GoamlReport",
    "GoamlTransaction",
    "InterlocutorySale",
    "KeyCompartment",
    "LedgerExclusion",
    "MatchKey",
    "MatchNotification",
    "Measure",
    "Party",
    "PartyLinkEvent",
    "PartyStatement",
    "ProceedsShare",
    "SourceDocument",
    "TraceResultFrame",
    "TraceRun",
    "TraceRunAccount",
    "TraceRunCompartment",
    "Transaction",
    "TransactionCorrection",
]
