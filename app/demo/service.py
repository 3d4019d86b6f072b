"""The demo case shipped with the project: operation 'Nordlicht', loadable with one command.

Drug cash is paid in across three mule accounts, layered through two companies and a Cypriot
holding, partly sent to a crypto exchange and partly spent on a flat, with the mules' salaries
and the companies' real trade mixed in along the way.
"""

import hashlib
import json
from importlib import resources
from pathlib import Path

from sqlalchemy.orm import Session

from app.account import service as account_service
from app.account.schemas import AccountBatch
from app.principal import Principal
from app.settings import Settings
from app.source.schemas import SourceIn
from app.transaction import service as transaction_service
from app.transaction.schemas import IngestResult
from app.uploads import Upload

DEMO_REFERENCE = "DEMO-OPERATION-NORDLICHT"
# What a newcomer traces: the five cash deposits, the exchange as the place taint leaves euros.
SEED_TRANSACTIONS = ("DEMO-D01", "DEMO-D02", "DEMO-D03", "DEMO-D04", "DEMO-D05")
EXCHANGE_ACCOUNT = "iban:MT84MALT011000012345MTLCAST001S"


def _file(name: str) -> bytes:
    return resources.files("app.demo").joinpath(name).read_bytes()


def load_demo(session: Session, *, actor: Principal, settings: Settings) -> IngestResult:
    """Load the demo's parties, accounts and transactions; loading it again stores nothing."""
    accounts = _file("accounts.json")
    account_service.ingest_accounts(
        session,
        AccountBatch.model_validate(json.loads(accounts)),
        Upload(
            hashlib.sha256(accounts).hexdigest(),
            len(accounts),
            "application/json",
            filename="accounts.json",
        ),
        actor=actor,
    )
    rows = _file("transactions.csv")
    with resources.as_file(resources.files("app.demo").joinpath("transactions.csv")) as path:
        result, _ = transaction_service.ingest_file(
            session,
            Path(path),
            SourceIn(kind="demo", reference=DEMO_REFERENCE),
            Upload(
                hashlib.sha256(rows).hexdigest(), len(rows), "text/csv", filename="transactions.csv"
            ),
            timezone=None,
            actor=actor,
            settings=settings,
        )
    return result
