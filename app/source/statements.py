"""Details per document: what each compartment holds of an account or party (issue 19).

An account or party row tells what the document that created it stated; every other document
that states details of it adds a statement of its own (`AccountStatement`, `PartyStatement`),
so that each detail follows the compartment of the document that stated it, wherever an admin
refiles either. A document filed in the compartment of the row's creating document also writes
on the row the fields it adds (so the search, which indexes rows, finds them), recording them
in its statement's `on_row`; an admin's refiling of either document takes them back off the
row (`take_back`), which then again tells only what its creating document stated. A reader sees
the row when its creating document is visible, filled by the statements of visible documents;
a load compares what it states only with what its own compartment (the shared pool plus its
case) holds, so neither its outcome nor its messages tell anything of another compartment.
See docs/compartments.md.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.compartments import Compartments
from app.db import in_chunks
from app.source.models import visible_rows

# The one field told as a mapping: stated names are added one by one, each a detail of its own.
IDENTIFIERS = "identifiers"


def filing_view(case_id: int | None) -> Compartments:
    """What a document filed under `case_id` (None: the shared pool) may be compared with."""
    return Compartments(every=False, cases=frozenset() if case_id is None else frozenset({case_id}))


def known_details(
    row: Mapping[str, Any] | None, stated: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The details a reader holds: the row's when it is theirs (None otherwise), each field
    then filled, oldest first, by the statements they may see."""
    known = {k: v for k, v in (row or {}).items() if v is not None and v != {}}
    for details in stated:
        for field, value in details.items():
            if field == IDENTIFIERS:
                known[field] = {**value, **known.get(field, {})}
            elif value is not None:
                known.setdefault(field, value)
    return known


def compare(
    known: Mapping[str, Any], given: Mapping[str, Any]
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """The conflicts of `given` with `known` as (field, message), each naming only what `known`
    holds, and the details `given` adds."""
    conflicts: list[tuple[str, str]] = []
    added: dict[str, Any] = {}
    for field, value in given.items():
        current = known.get(field)
        if field == IDENTIFIERS:
            stored = current or {}
            if clashes := sorted(k for k, v in value.items() if stored.get(k, v) != v):
                conflicts.append((field, f"identifiers {clashes} are stored with other values"))
            elif new := {k: v for k, v in value.items() if k not in stored}:
                added[field] = new
        elif value is None or current == value:
            continue
        elif current is None:
            added[field] = value
        else:
            conflicts.append((field, f"{field} is stored as {current!r}, not {value!r}"))
    return conflicts, added


def stated(
    session: Session,
    record: InstrumentedAttribute[int],
    ids: Iterable[int],
    compartments: Compartments,
) -> dict[int, list[dict[str, Any]]]:
    """The details visible documents stated of each of the records `ids`, oldest first, from
    the statements table whose record column is `record`."""
    model = record.class_
    found: dict[int, list[dict[str, Any]]] = {}
    for chunk in in_chunks(ids):
        stmt = (
            select(record, model.details)
            .where(record.in_(chunk), visible_rows(model.source_document_id, compartments))
            .order_by(model.id)
        )
        for owner, details in session.execute(stmt):
            found.setdefault(owner, []).append(details)
    return found


def write_on_row(row: Any, added: Mapping[str, Any]) -> dict[str, Any]:
    """Write on a record's row the details `added` that it lacks (identifiers: the keys it
    lacks); returns what was written, for the statement's `on_row`."""
    written: dict[str, Any] = {}
    for field, value in added.items():
        current = getattr(row, field)
        if field == IDENTIFIERS:
            if new := {k: v for k, v in value.items() if k not in (current or {})}:
                setattr(row, field, {**(current or {}), **new})
                written[field] = new
        elif current is None and value is not None:
            setattr(row, field, value)
            written[field] = value
    return written


def take_back(
    session: Session, record: InstrumentedAttribute[int], rows: type[Any], document_id: str
) -> None:
    """Before the document `document_id` is refiled: clear from the rows (of model `rows`) the
    details that statements (of the table whose record column is `record`) wrote on them, each
    statement the document made or about a row it created, and null those statements'
    `on_row`. Each such row then tells only what its creating document stated, and each detail
    follows its stating document's statement into whichever compartment."""
    model = record.class_
    stmt = (
        select(model, rows)
        .join(rows, rows.id == record)
        .where(
            model.on_row.is_not(None),
            or_(model.source_document_id == document_id, rows.source_document_id == document_id),
        )
        .order_by(model.id)
    )
    for statement, row in session.execute(stmt).all():
        for field, value in statement.on_row.items():
            current = getattr(row, field)
            if field == IDENTIFIERS:
                kept = {k: v for k, v in (current or {}).items() if k not in value}
                setattr(row, field, kept)
            elif current == value:
                setattr(row, field, None)
        statement.on_row = None
    session.flush()
