from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from app.account import corrections
from app.account.keys import account_attributes, normalise_key
from app.account.models import STATED_DETAILS, Account, AccountHolder
from app.account.numbers import INVALID_NUMBER, AccountCheck, bic_fault, number_fault
from app.account.repository import FLAGGED, AccountRepository
from app.account.schemas import AccountBatch, AccountBatchResult, AccountCorrectionIn
from app.compartments import EVERY, Compartments
from app.errors import BatchRejected, RecordNotFound
from app.matching import service as matching_service
from app.money import decimals_of
from app.party import service as party_service
from app.party.models import Party
from app.principal import Principal
from app.source import service as source_service
from app.uploads import Upload


class AccountNotFound(RecordNotFound):
    code, title = "account_not_found", "Account not found"
    noun, key, by = "account", "account", "id or key"


def resolve_account(session: Session, ref: str, compartments: Compartments = EVERY) -> Account:
    """By numeric id or by key (`iban:...`, `btc:...`), written in any accepted form; an
    account nothing the caller may see speaks of does not exist for them."""
    accounts = AccountRepository(session)
    if ref.isascii() and ref.isdigit() and len(ref) < 19:
        account = accounts.get(int(ref))
    else:
        key = normalise_key(ref)
        account = accounts.get_by_key(key) if key is not None else None
    if account is None or not accounts.visible(account.id, compartments):
        raise AccountNotFound(ref)
    return account


def read_account(session: Session, ref: str, compartments: Compartments = EVERY) -> dict[str, Any]:
    """An account with its holders, by id or key (see `resolve_account`), as the caller's
    compartments tell it: details, holders and corrections only from visible documents."""
    accounts = AccountRepository(session)
    if ref.isascii() and ref.isdigit() and len(ref) < 19:
        row = accounts.row(account_id=int(ref), compartments=compartments)
    else:
        key = normalise_key(ref)
        row = accounts.row(key=key, compartments=compartments) if key is not None else None
    if row is None:
        raise AccountNotFound(ref)
    if not row.pop("stated"):
        row = {**row, **dict.fromkeys(STATED_DETAILS), "source_document_id": None}
    return {
        **row,
        # Corrected details read as corrected; the history keeps what was first loaded.
        **corrections.corrected_details(session, row["id"], compartments),
        "holders": accounts.holder_rows(row["id"], compartments),
    }


def _merge(record: Any, given: dict[str, Any]) -> tuple[list[str], bool]:
    """Fill fields a record lacks; a field it holds with another value is a conflict."""
    conflicts, changed = [], False
    for field, value in given.items():
        current = getattr(record, field)
        if value is None or current == value:
            continue
        if current is None:
            setattr(record, field, value)
            changed = True
        else:
            conflicts.append(f"{field} is stored as {current!r}, not {value!r}")
    return conflicts, changed


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
    result = load_accounts(session, batch, document_id=document.id)
    document.inserted = result.parties_inserted + result.accounts_inserted + result.holders_added
    document.already_present = rows - result.parties_inserted - result.accounts_inserted
    matching_service.index_document(session, document.id)
    session.commit()
    return result


def load_accounts(session: Session, batch: AccountBatch, *, document_id: str) -> AccountBatchResult:
    """Add or enrich a batch's records in the open unit of work, which the caller commits.

    A conflict with a stored record rolls the unit of work back and raises `BatchRejected`.
    """
    errors: list[dict[str, object]] = []

    def fail(section: str, index: int, field: str, msg: str) -> None:
        errors.append(
            {
                "loc": [section, index, field],
                "row": index,
                "field": field,
                "msg": msg,
                "type": "value_error",
            }
        )

    now = datetime.now(UTC)
    parties = party_service.parties_by_keys(session, [p.key for p in batch.parties])
    counts = dict.fromkeys(("pi", "pu", "ai", "au", "h"), 0)
    for i, p in enumerate(batch.parties):
        given = {"kind": str(p.kind), "name": p.name, "country": p.country}
        if (party := parties.get(p.key)) is None:
            parties[p.key] = party_service.add_party(
                session,
                Party(
                    key=p.key,
                    identifiers=p.identifiers,
                    source_document_id=document_id,
                    created_at=now,
                    **given,
                ),
            )
            counts["pi"] += 1
            continue
        conflicts, changed = _merge(party, given)
        for c in conflicts:
            fail("parties", i, c.split(" ")[0], c)
        # Identifiers are enriched one by one; one stored under the same name with another
        # value is a conflict like any other field's.
        stored_ids = dict(party.identifiers or {})
        if clashes := sorted(k for k, v in p.identifiers.items() if stored_ids.get(k, v) != v):
            fail("parties", i, "identifiers", f"identifiers {clashes} are stored with other values")
        elif p.identifiers.keys() - stored_ids.keys():
            party.identifiers = {**stored_ids, **p.identifiers}
            changed = True
        counts["pu"] += changed
    keys = [normalise_key(a.key) for a in batch.accounts]
    accounts = AccountRepository(session).by_keys(k for k in keys if k)
    held = party_service.parties_by_keys(
        session, [h.party for a in batch.accounts for h in a.holders]
    )
    parties = {**held, **parties}
    refuse = batch.account_check is AccountCheck.REFUSE
    for i, (a, key) in enumerate(zip(batch.accounts, keys, strict=True)):
        if key is None:
            fail("accounts", i, "key", f"not a valid account key: {a.key!r}")
            continue
        faults = {"key": number_fault(key), "bic": bic_fault(a.bic) if a.bic else None}
        for field, fault in faults.items():
            if fault is not None and refuse:
                fail("accounts", i, field, fault)
        if a.currency is not None and decimals_of(a.currency) is None:
            fail("accounts", i, "currency", f"unknown currency '{a.currency}'")
        given = {
            "name": a.name,
            "bic": a.bic,
            "number": a.number,
            "institution": a.institution,
            "currency": a.currency,
        }
        if (account := accounts.get(key)) is None:
            derived = account_attributes(pl.Series([key])).row(0, named=True)
            derived = {k: v for k, v in derived.items() if v is not None}
            if any(faults.values()):
                derived["number_flag"] = INVALID_NUMBER
            account = accounts[key] = AccountRepository(session).add(
                Account(
                    **{**derived, **{k: v for k, v in given.items() if v is not None}},
                    source_document_id=document_id,
                    created_at=now,
                )
            )
            counts["ai"] += 1
        else:
            conflicts, changed = _merge(account, given)
            for c in conflicts:
                fail("accounts", i, c.split(" ")[0], c)
            counts["au"] += changed
        session.flush()
        existing = {(h.party_id, h.role) for h in account.holders}
        for j, h in enumerate(a.holders):
            if (party := parties.get(h.party)) is None:
                fail("accounts", i, f"holders.{j}.party", f"no party with key {h.party!r}")
                continue
            session.flush()
            if (party.id, str(h.role)) not in existing:
                AccountRepository(session).add_holder(
                    AccountHolder(
                        account_id=account.id,
                        party_id=party.id,
                        role=str(h.role),
                        source_document_id=document_id,
                    )
                )
                existing.add((party.id, str(h.role)))
                counts["h"] += 1
    if errors:
        session.rollback()
        raise BatchRejected(errors, total=len(errors), rows_label="accounts")
    return AccountBatchResult(
        source_document_id=document_id,
        parties_inserted=counts["pi"],
        parties_updated=counts["pu"],
        accounts_inserted=counts["ai"],
        accounts_updated=counts["au"],
        holders_added=counts["h"],
    )


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
    return [
        {"account_id": h.account.id, "key": h.account.key, "role": h.role}
        for h in AccountRepository(session).held_by(party_id, compartments)
    ]


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
    `compartments` may see stated, and its own name if the document that loaded it is one.

    What traces' labels, charts and exports show of accounts' holders; the account read
    (`AccountRepository.holder_rows`) applies the same rule in one SQL statement. A holder
    whose party another compartment's document brought is given by its key alone (a transient
    copy): its name and numbers are not the reader's to see, as `party_service.party_details`
    tells a party."""
    accounts = AccountRepository(session).by_keys(keys)
    known = (
        holders_known_at(session, accounts.values(), at)
        if at is not None
        else {k: list(a.holders) for k, a in accounts.items()}
    )
    if compartments.every:
        return known, {k: a.name for k, a in accounts.items()}
    documents = {a.source_document_id for a in accounts.values()}
    for held in known.values():
        documents |= {h.source_document_id for h in held}
        documents |= {h.party.source_document_id for h in held}
    visible = source_service.visible_documents(session, documents, compartments)
    holders = {
        k: [_as_seen(h, visible) for h in held if h.source_document_id in visible]
        for k, held in known.items()
    }
    names = {k: a.name if a.source_document_id in visible else None for k, a in accounts.items()}
    return holders, names


def _as_seen(holder: AccountHolder, visible: set[str]) -> AccountHolder:
    if holder.party.source_document_id in visible:
        return holder
    return AccountHolder(
        account_id=holder.account_id,
        party_id=holder.party_id,
        role=holder.role,
        source_document_id=holder.source_document_id,
        party=party_service.known_by_key(holder.party),
    )


def accounts_as_seen(
    session: Session, keys: list[str], compartments: Compartments
) -> dict[str, Account]:
    """Stored accounts of `keys`; one whose row a document `compartments` may not see stated is
    given as what its key alone tells (a transient copy: its name, bank and number are not
    the reader's to see)."""
    accounts = AccountRepository(session).by_keys(keys)
    visible = source_service.visible_documents(
        session, (a.source_document_id for a in accounts.values()), compartments
    )
    hidden = [k for k, a in accounts.items() if a.source_document_id not in visible]
    if hidden:
        for row in account_attributes(pl.Series(hidden, dtype=pl.String)).iter_rows(named=True):
            told = {k: v for k, v in row.items() if v is not None and k != "number_flag"}
            accounts[row["key"]] = Account(**told)
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


def accounts_by_keys(session: Session, keys: list[str]) -> dict[str, Account]:
    """Stored accounts with their holders, by key (keys not stored are left out)."""
    return AccountRepository(session).by_keys(keys)


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
    return corrections.correct_account(
        session, account, data, upload, actor=actor, compartments=compartments
    )


def account_history(
    session: Session, ref: str, compartments: Compartments = EVERY
) -> dict[str, Any]:
    account = resolve_account(session, ref, compartments)
    return corrections.account_history(session, account, compartments)
