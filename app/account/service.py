from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from app.account import corrections, loading
from app.account.keys import account_attributes, normalise_key
from app.account.models import STATED_DETAILS, Account, AccountCorrection, AccountHolder
from app.account.repository import FLAGGED, AccountRepository
from app.account.schemas import AccountBatch, AccountBatchResult, AccountCorrectionIn
from app.compartments import EVERY, Compartments
from app.errors import RecordNotFound
from app.inputs import id_in
from app.matching import service as matching_service
from app.party import service as party_service
from app.principal import Principal
from app.source import service as source_service
from app.source.statements import known_details
from app.uploads import Upload


class AccountNotFound(RecordNotFound):
    code, title = "account_not_found", "Account not found"
    noun, key, by = "account", "account", "id or key"


def resolve_account(session: Session, ref: str, compartments: Compartments = EVERY) -> Account:
    """By numeric id or by key (`iban:...`, `btc:...`), written in any accepted form; an
    account nothing the caller may see speaks of does not exist for them."""
    accounts = AccountRepository(session)
    if (account_id := id_in(ref)) is not None:
        account = accounts.get(account_id)
    else:
        key = normalise_key(ref)
        account = accounts.get_by_key(key) if key is not None else None
    if account is None or not accounts.visible(account.id, compartments):
        raise AccountNotFound(ref)
    return account


def resolve_account_id(session: Session, ref: str, compartments: Compartments = EVERY) -> int:
    """The id of the account `resolve_account` finds, without loading the account (and its
    holders and their parties, which an `Account` brings along)."""
    accounts = AccountRepository(session)
    if (account_id := id_in(ref)) is not None:
        found = accounts.id_of(account_id=account_id)
    else:
        key = normalise_key(ref)
        found = accounts.id_of(key=key) if key is not None else None
    if found is None or not accounts.visible(found, compartments):
        raise AccountNotFound(ref)
    return found


def read_account(session: Session, ref: str, compartments: Compartments = EVERY) -> dict[str, Any]:
    """An account with its holders, by id or key (see `resolve_account`), as the caller's
    compartments tell it: details, holders and corrections only from visible documents."""
    accounts = AccountRepository(session)
    if (account_id := id_in(ref)) is not None:
        row = accounts.row(account_id=account_id, compartments=compartments)
    else:
        key = normalise_key(ref)
        row = accounts.row(key=key, compartments=compartments) if key is not None else None
    if row is None:
        raise AccountNotFound(ref)
    if not row.pop("stated"):
        row = {**row, **dict.fromkeys(STATED_DETAILS), "source_document_id": None}
    restated, corrected = row.pop("restated"), row.pop("corrected")
    if restated and (stated := accounts.statements([row["id"]], compartments).get(row["id"])):
        # What other documents stated, as far as the caller sees them.
        told = known_details({f: row[f] for f in STATED_DETAILS}, stated)
        row = {**row, **{f: told.get(f) for f in STATED_DETAILS}}
    return {
        **row,
        # Corrected details read as corrected; the history keeps what was first loaded.
        **(corrections.corrected_details(session, row["id"], compartments) if corrected else {}),
        "holders": _holders_as_seen(
            session, accounts.holder_rows(row["id"], compartments), compartments
        ),
    }


def _holders_as_seen(
    session: Session, rows: list[dict[str, Any]], compartments: Compartments
) -> list[dict[str, Any]]:
    """Holder rows with the names the caller's documents stated of parties whose creating
    documents they may not see."""
    hidden = {r["party_id"] for r in rows if not r.pop("party_shown", True)}
    if hidden:
        names = party_service.stated_names(session, hidden, compartments)
        for r in rows:
            r["name"] = names.get(r["party_id"], r["name"])
    return rows


def ingest_accounts(
    session: Session,
    batch: AccountBatch,
    upload: Upload,
    *,
    actor: Principal,
) -> AccountBatchResult:
    """Parties, accounts and holder links, whole or not at all; known records are enriched."""
    rows = len(batch.parties) + len(batch.accounts)
    document = source_service.record_source(session, batch.source, upload, rows=rows, actor=actor)
    result = loading.load_accounts(session, batch, document_id=document.id)
    document.inserted = result.parties_inserted + result.accounts_inserted + result.holders_added
    document.already_present = rows - result.parties_inserted - result.accounts_inserted
    matching_service.index_document(session, document.id)
    session.commit()
    return result


def load_accounts(session: Session, batch: AccountBatch, *, document_id: str) -> AccountBatchResult:
    """Add or enrich a batch's records in the open unit of work (see `app.account.loading`)."""
    return loading.load_accounts(session, batch, document_id=document_id)


def take_back_details(session: Session, document_id: str) -> None:
    """Before an admin refiles the document (in the refiling's unit of work): the details that
    statements wrote on account and party rows it created, or that it wrote on others' rows,
    taken back off the rows; each row then tells only what its creating document stated, and
    every other detail is its document's statement, which moves with that document alone."""
    AccountRepository(session).take_back(document_id)
    party_service.take_back_details(session, document_id)


def page_flagged_accounts(
    session: Session,
    flag: str,
    *,
    limit: int,
    cursor: str | None,
    compartments: Compartments = EVERY,
) -> tuple[list[Account], str | None]:
    """Accounts stored with `flag` (`invalid_number`: a batch said `account_check: warn`)."""
    return AccountRepository(session).page_flagged(
        flag, limit=limit, after=FLAGGED.codec.decode(cursor), compartments=compartments
    )


def accounts_of_party(
    session: Session, party_id: int, compartments: Compartments = EVERY
) -> list[dict[str, object]]:
    """The accounts a party holds, each with its role on it, as visible documents say."""
    held = AccountRepository(session).held_by(party_id, compartments)
    # A link two documents state is one link to a reader.
    links = dict.fromkeys((h.account.id, h.account.key, h.role) for h in held)
    return [{"account_id": i, "key": key, "role": role} for i, key, role in links]


def holders_known_at(
    session: Session, accounts: Iterable[Account], at: datetime
) -> dict[str, list[AccountHolder]]:
    """Each account's holders as the ledger knew them at `at`: holder links are only ever
    added, each by a source document, so those received later are left out."""
    accounts = list(accounts)
    received = source_service.received_times(
        session, (h.source_document_id for a in accounts for h in a.holders)
    )
    return {
        a.key: [h for h in a.holders if received.get(h.source_document_id, at) <= at]
        for a in accounts
    }


def holders_as_seen(
    session: Session, keys: list[str], compartments: Compartments, *, at: datetime | None = None
) -> tuple[dict[str, list[AccountHolder]], dict[str, str | None]]:
    """Per stored account of `keys`: its holders (as known at `at`) whose links documents
    `compartments` may see stated, each once, and its own name as visible documents state it.

    What traces' labels, charts and exports show of accounts' holders; the account read
    (`AccountRepository.holder_rows`) applies the same rule in one SQL statement. A holder
    whose party another compartment's document brought is given as the caller's documents tell
    it (`party_service.parties_as_seen`, a transient copy; by its key alone when they tell
    nothing): its name and numbers are not the reader's to see."""
    accounts = AccountRepository(session).by_keys(keys)
    known = (
        holders_known_at(session, accounts.values(), at)
        if at is not None
        else {k: list(a.holders) for k, a in accounts.items()}
    )
    stated = AccountRepository(session).statements((a.id for a in accounts.values()), compartments)
    documents = {a.source_document_id for a in accounts.values()}
    documents |= {h.source_document_id for held in known.values() for h in held}
    visible = source_service.visible_documents(session, documents, compartments)
    parties = party_service.parties_as_seen(
        session, {h.party for held in known.values() for h in held}, compartments
    )
    holders = {
        k: _distinct(
            AccountHolder(
                account_id=h.account_id,
                party_id=h.party_id,
                role=h.role,
                source_document_id=h.source_document_id,
                party=parties[h.party_id],
            )
            if parties[h.party_id] is not h.party
            else h
            for h in held
            if h.source_document_id in visible
        )
        for k, held in known.items()
    }
    names = {
        k: known_details(
            {"name": a.name} if a.source_document_id in visible else None, stated.get(a.id, [])
        ).get("name")
        for k, a in accounts.items()
    }
    return holders, names


def _distinct(holders: Iterable[AccountHolder]) -> list[AccountHolder]:
    """One holder per party and role: a link two documents state is one link to a reader."""
    seen: dict[tuple[int, str], AccountHolder] = {}
    for h in holders:
        seen.setdefault((h.party_id, h.role), h)
    return list(seen.values())


def accounts_as_seen(
    session: Session, keys: list[str], compartments: Compartments
) -> dict[str, Account]:
    """Stored accounts of `keys`; one whose row a document `compartments` may not see stated is
    given as what its key alone tells, with what visible other documents stated
    of it (a transient copy: the hidden row's name, bank and number are not the reader's)."""
    accounts = AccountRepository(session).by_keys(keys)
    visible = source_service.visible_documents(
        session, (a.source_document_id for a in accounts.values()), compartments
    )
    stated = AccountRepository(session).statements((a.id for a in accounts.values()), compartments)
    redo = [k for k, a in accounts.items() if a.source_document_id not in visible or a.id in stated]
    if redo:
        for row in account_attributes(pl.Series(redo, dtype=pl.String)).iter_rows(named=True):
            account = accounts[row["key"]]
            own = account.source_document_id in visible
            told = known_details(
                {f: getattr(account, f) for f in STATED_DETAILS} if own else None,
                stated.get(account.id, []),
            )
            derived = {k: v for k, v in row.items() if v is not None and k != "number_flag"}
            accounts[row["key"]] = Account(**{**derived, **told}, id=account.id)
    return accounts


def holder_names(
    session: Session,
    keys: list[str],
    compartments: Compartments = EVERY,
    *,
    at: datetime | None = None,
) -> dict[str, str]:
    """A display name per account, from what `compartments` may see: its first holder's name
    (as known at `at`), else its own."""
    holders, own = holders_as_seen(session, keys, compartments, at=at)
    names: dict[str, str] = {}
    for key, held in holders.items():
        first = sorted(held, key=lambda h: (h.role != "holder", h.party_id))
        name = first[0].party.name if first else own[key]
        if name:
            names[key] = name
    return names


def visible_name(session: Session, account: Account, compartments: Compartments) -> str | None:
    """The account's own name (corrected where a visible correction says so), if a document
    `compartments` may see stated it."""
    return read_account(session, str(account.id), compartments)["name"]  # type: ignore[no-any-return]


def accounts_by_keys(
    session: Session, keys: list[str], compartments: Compartments = EVERY
) -> dict[str, Account]:
    """Stored accounts with their holders, by key: keys not stored, or of accounts nothing
    `compartments` may see speaks of, are left out."""
    accounts = AccountRepository(session)
    found = accounts.by_keys(keys)
    if compartments.every:
        return found
    seen = accounts.visible_ids((a.id for a in found.values()), compartments)
    return {k: a for k, a in found.items() if a.id in seen}


def correct_account(
    session: Session,
    ref: str,
    data: AccountCorrectionIn,
    upload: Upload,
    *,
    actor: Principal,
    compartments: Compartments = EVERY,
) -> dict[str, Any]:
    """Correct an account's details with a reason and the correcting source document."""
    account = resolve_account(session, ref, compartments)
    source, details = data.source, data.details.model_dump(exclude_unset=True)
    # Filed where the record is, when the caller may see where that is; a record only another
    # compartment's document created is, to the caller, what their own documents stated of it.
    if source_service.document_visible(session, account.source_document_id, compartments):
        source_service.require_filed_with(session, account.source_document_id, source)
    document = source_service.record_source(session, source, upload, rows=1, actor=actor)
    document.inserted = 1
    corrections.AccountCorrectionRepository(session).add(
        AccountCorrection(
            account_id=account.id,
            details=details,
            reason=data.reason,
            source_document_id=document.id,
            corrected_by=actor.id,
            corrected_at=datetime.now(UTC),
        )
    )
    history = corrections.account_history(session, account, compartments)
    matching_service.index_document(session, document.id)
    session.commit()
    return history


def account_history(
    session: Session, ref: str, compartments: Compartments = EVERY
) -> dict[str, Any]:
    account = resolve_account(session, ref, compartments)
    return corrections.account_history(session, account, compartments)
