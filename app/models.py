"""Every table, imported in one place so that Alembic and the tests see the whole schema."""

from app.account.models import Account, AccountHolder
from app.apikey.models import ApiKey
from app.db import Base
from app.party.models import Party
from app.source.models import SourceDocument
from app.transaction.models import Transaction

__all__ = ["Account", "AccountHolder", "ApiKey", "Base", "Party", "SourceDocument", "Transaction"]
