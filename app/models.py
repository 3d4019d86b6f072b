"""Every table, imported in one place so that Alembic and the tests see the whole schema."""

from app.account.models import Account, AccountHolder
from app.apikey.models import ApiKey
from app.audit.models import AuditEntry
from app.asset.models import Asset, AssetLink, AssetOwner
from app.case.models import Case, CaseEvent, CaseMember, CaseSubject
from app.db import Base
from app.measure.models import Measure
from app.party.models import Party
from app.source.models import SourceDocument
from app.trace.models import TraceResultFrame, TraceRun
from app.transaction.models import Transaction

__all__ = [
    "Account",
    "AccountHolder",
    "ApiKey",
    "AuditEntry",
    "Asset",
    "AssetLink",
    "AssetOwner",
    "Base",
    "Case",
    "CaseEvent",
    "CaseMember",
    "CaseSubject",
    "Measure",
    "Party",
    "SourceDocument",
    "TraceResultFrame",
    "TraceRun",
    "Transaction",
]
