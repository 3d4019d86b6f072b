"""Details per document: what each compartment holds of an account or party (issue 19).

An account or party row tells what the document that created it stated; every other document
that states details of it adds a statement of its own (`AccountStatement`, `PartyStatement`),
so that each detail follows the compartment of the document that stated it, wherever an admin
refiles either. A reader sees
the row when its creating document is visible, filled by the statements of visible documents;
a load compares what it states only with what its own compartment (the shared pool plus its
case) holds, so neither its outcome nor its messages tell anything of another compartment.
See docs/compartments.md.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
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
