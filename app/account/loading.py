"""Loading parties, accounts and holder links (account batches, goAML and FtM imports).

A load compares what it states only with what its own compartment holds: the shared pool plus
the case its source document is filed in (`app.source.statements`). What it states of a stored
record is kept as this document's statement, so that each detail follows its document's
compartment (a refiling moves nothing else); what it adds to a row created by a document of its
own compartment is written on the row too (for the search, which indexes rows), recorded in the
statement's `on_row` and taken back off the row when an admin refiles either document. A
record stored by a document of a compartment it may not see is new to it: never compared with,
never named; a holder link another compartment states is stated again by this document. The
outcome and the messages are the same as if the other compartments held nothing.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from app.account.keys import account_attributes, normalise_key
from app.account.models import STATED_DETAILS, Account, AccountHolder, AccountStatement
from app.account.numbers import INVALID_NUMBER, AccountCheck, bic_fault, number_fault
from app.account.repository import AccountRepository
from app.account.schemas import AccountBatch, AccountBatchResult, AccountIn
from app.compartments import Compartments
from app.errors import BatchRejected
from app.money import decimals_of
from app.party import service as party_service
from app.party.models import Party
from app.source import service as source_service
from app.source.statements import compare, filing_view, known_details, write_on_row


@dataclass
class _Load:
    session: Session
    document_id: str
    view: Compartments
    # The documents of the load's own compartment: what it adds to their rows goes on the row
    # as well as in its statement (`on_row`), for the search.
    home: set[str]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    errors: list[dict[str, object]] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("pi", "pu", "ai", "au", "h"), 0)
    )

    def fail(self, section: str, index: int, name: str, msg: str) -> None:
        self.errors.append(
            {
                "loc": [section, index, name],
                "row": index,
                "field": name,
                "msg": msg,
                "type": "value_error",
            }
        )


def load_accounts(session: Session, batch: AccountBatch, *, document_id: str) -> AccountBatchResult:
    """Add or enrich a batch's records in the open unit of work, which the caller commits.

    A conflict with what the document's compartment holds rolls the unit of work back and
    raises `BatchRejected`.
    """
    (document,) = source_service.documents_by_ids(session, [document_id])
    view = filing_view(document.case_id)
    filing = source_service.filing_version(session)
    stored_parties = party_service.parties_by_keys(
        session,
        [p.key for p in batch.parties] + [h.party for a in batch.accounts for h in a.holders],
    )
    keys = [normalise_key(a.key) for a in batch.accounts]
    accounts = AccountRepository(session).by_keys(k for k in keys if k)
    creators = {p.source_document_id for p in stored_parties.values()}
    creators |= {a.source_document_id for a in accounts.values()}
    # The creators' filings are read under their rows' share lock, before anything is written
    # on a row: a refiling in progress is waited for (it holds the lock before it touches a
    # row), one not yet begun waits for this load's commit and then takes back what the load
    # wrote on its rows. Without it, a creator refiled meanwhile would be taken for home and
    # the details written on its row would move with the row into its new compartment.
    home = {
        d.id
        for d in source_service.documents_held(session, creators)
        if d.case_id == document.case_id
    }
    if source_service.filing_version(session) != filing:
        # Refiled since the rows were read: what a refiling took off them is read afresh.
        session.expire_all()
    load = _Load(session, document_id, view, home)
    parties = _load_parties(load, batch, stored_parties)
    refuse = batch.account_check is AccountCheck.REFUSE
    known = _accounts_known(session, accounts, view)
    links = source_service.visible_documents(
        session, {h.source_document_id for a in accounts.values() for h in a.holders}, view
    )
    linked = {
        (a.id, h.party_id, h.role)
        for a in accounts.values()
        for h in a.holders
        if h.source_document_id in links
    }
    for i, (a, key) in enumerate(zip(batch.accounts, keys, strict=True)):
        if key is None:
            load.fail("accounts", i, "key", f"not a valid account key: {a.key!r}")
            continue
        account = _load_account(load, i, a, key, accounts, known, refuse=refuse)
        session.flush()
        _link_holders(load, i, a, account, parties, linked)
    if load.errors:
        session.rollback()
        raise BatchRejected(load.errors, total=len(load.errors), rows_label="accounts")
    counts = load.counts
    return AccountBatchResult(
        source_document_id=document_id,
        parties_inserted=counts["pi"],
        parties_updated=counts["pu"],
        accounts_inserted=counts["ai"],
        accounts_updated=counts["au"],
        holders_added=counts["h"],
    )


def _link_holders(
    load: _Load,
    i: int,
    a: AccountIn,
    account: Account,
    parties: dict[str, Party],
    linked: set[tuple[int, int, str]],
) -> None:
    """The account's holder links, each added unless the load's compartment states it."""
    for j, h in enumerate(a.holders):
        if (party := parties.get(h.party)) is None:
            load.fail("accounts", i, f"holders.{j}.party", f"no party with key {h.party!r}")
            continue
        load.session.flush()
        if (account.id, party.id, str(h.role)) not in linked:
            AccountRepository(load.session).add_holder(
                AccountHolder(
                    account_id=account.id,
                    party_id=party.id,
                    role=str(h.role),
                    source_document_id=load.document_id,
                )
            )
            linked.add((account.id, party.id, str(h.role)))
            load.counts["h"] += 1


def _load_parties(load: _Load, batch: AccountBatch, stored: dict[str, Party]) -> dict[str, Party]:
    """The batch's parties added or enriched; returns the parties its holder links may name:
    its own and those stored that exist for its compartment."""
    session = load.session
    known = party_service.details_known(session, stored, load.view)
    usable = {k: p for k, p in stored.items() if k in known}
    for i, p in enumerate(batch.parties):
        given: dict[str, Any] = {"kind": str(p.kind), "name": p.name, "country": p.country}
        given["identifiers"] = p.identifiers
        if (party := usable.get(p.key, stored.get(p.key))) is None:
            party = party_service.add_party(
                session,
                Party(key=p.key, source_document_id=load.document_id, created_at=load.now, **given),
            )
            stored[p.key], usable[p.key], known[p.key] = party, party, dict(given)
            load.counts["pi"] += 1
            continue
        usable[p.key] = party
        told = {k: v for k, v in given.items() if v is not None and v != {}}
        if p.key not in known:  # stored by a compartment this one may not see: new to it
            party_service.state_details(session, party, told, document_id=load.document_id)
            known[p.key] = told
            load.counts["pi"] += 1
            continue
        conflicts, added = compare(known[p.key], given)
        for name, msg in conflicts:
            load.fail("parties", i, name, msg)
        if not conflicts:
            # What it states, the details others stated too included: they are its own as
            # well, and stay with it wherever it or they are refiled.
            on_row = added if party.source_document_id in load.home else None
            party_service.state_details(
                session, party, told, document_id=load.document_id, added=on_row
            )
            known[p.key] = known_details(known[p.key], [added])
            load.counts["pu"] += bool(added)
    return usable


def _accounts_known(
    session: Session, accounts: dict[str, Account], view: Compartments
) -> dict[str, dict[str, Any]]:
    """Of `accounts`, those that exist for `view`, each with the details its documents hold."""
    repository = AccountRepository(session)
    ids = repository.visible_ids((a.id for a in accounts.values()), view)
    rows = source_service.visible_documents(
        session, (a.source_document_id for a in accounts.values()), view
    )
    stated = repository.statements(ids, view)
    return {
        key: known_details(
            {f: getattr(a, f) for f in STATED_DETAILS} if a.source_document_id in rows else None,
            stated.get(a.id, []),
        )
        for key, a in accounts.items()
        if a.id in ids
    }


def _load_account(
    load: _Load,
    i: int,
    a: AccountIn,
    key: str,
    accounts: dict[str, Account],
    known: dict[str, dict[str, Any]],
    *,
    refuse: bool,
) -> Account:
    faults = {"key": number_fault(key), "bic": bic_fault(a.bic) if a.bic else None}
    for name, fault in faults.items():
        if fault is not None and refuse:
            load.fail("accounts", i, name, fault)
    if a.currency is not None and decimals_of(a.currency) is None:
        load.fail("accounts", i, "currency", f"unknown currency '{a.currency}'")
    given = {
        "name": a.name,
        "bic": a.bic,
        "number": a.number,
        "institution": a.institution,
        "currency": a.currency,
    }
    told = {k: v for k, v in given.items() if v is not None}
    if any(faults.values()):
        told["number_flag"] = INVALID_NUMBER
    repository = AccountRepository(load.session)
    if (account := accounts.get(key)) is None:
        derived = account_attributes(pl.Series([key])).row(0, named=True)
        derived = {k: v for k, v in derived.items() if v is not None}
        account = accounts[key] = repository.add(
            Account(**{**derived, **told}, source_document_id=load.document_id, created_at=load.now)
        )
        known[key] = told
        load.counts["ai"] += 1
    elif key not in known:  # stored by a compartment this one may not see: new to it
        _state(load, account, told)
        known[key] = told
        load.counts["ai"] += 1
    else:
        conflicts, added = compare(known[key], given)
        for name, msg in conflicts:
            load.fail("accounts", i, name, msg)
        if not conflicts:
            _state(load, account, told, added if account.source_document_id in load.home else None)
            known[key] = {**known[key], **added}
            load.counts["au"] += bool(added)
    return account


def _state(
    load: _Load, account: Account, details: dict[str, Any], added: dict[str, Any] | None = None
) -> None:
    """Record what the document states of a stored account as its statement: each detail then
    follows the compartment of the document that stated it, after a refiling too. Kept with no
    details too: the document names the account, which then exists for its compartment (and is
    matched on for blind convergence) whichever compartment the account's creating document is
    in. With `added` (the account's creating document is in the load's compartment), the
    details it adds are written on the row too, for the search, and recorded in `on_row`,
    which a refiling of either document takes back off the row."""
    load.session.flush()
    on_row = write_on_row(account, added) if added else None
    AccountRepository(load.session).add_statement(
        AccountStatement(
            account_id=account.id,
            source_document_id=load.document_id,
            details=details,
            on_row=on_row or None,
        )
    )
