import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.compartments import EVERY, Compartments
from app.domain_errors import body_error
from app.errors import InvalidInput, RecordNotFound
from app.principal import Principal
from app.source.models import COMMITTED, STAGING, CompartmentChange, SourceDocument
from app.source.repository import SOURCES, SourceDocumentRepository
from app.source.schemas import SourceIn
from app.uploads import Upload


class SourceDocumentNotFound(RecordNotFound):
    code, title = "source_document_not_found", "Source document not found"
    noun, key = "source document", "source_document_id"


def record_source(
    session: Session,
    source: SourceIn,
    upload: Upload,
    *,
    rows: int,
    actor: Principal,
    loader: str | None = None,
) -> SourceDocument:
    """Add the source document of a batch (flushed, committed by the caller's use case).

    With a `loader` (the process loading it) the document is staging: its rows stay out of the
    ledger until `publish_source` flips it.
    """
    return SourceDocumentRepository(session).add(
        SourceDocument(
            id=uuid.uuid4().hex,
            kind=source.kind,
            reference=source.reference,
            received_at=datetime.now(UTC),
            uploaded_by=actor.id,
            # Every field of an Upload is a column of its document, under the same name.
            **asdict(upload),
            row_count=rows,
            inserted=0,
            already_present=0,
            state=COMMITTED if loader is None else STAGING,
            loader=loader,
            case_id=source.case_id,
        )
    )


def publish_source(
    session: Session, document_id: str, *, inserted: int, already_present: int
) -> bool:
    """Make a staging document's rows part of the ledger (committed by the caller); False if it
    is no longer staging (discarded meanwhile)."""
    return SourceDocumentRepository(session).publish(
        document_id, inserted=inserted, already_present=already_present
    )


def abandon_source(session: Session, document_id: str) -> None:
    """Mark a staging document whose rows were removed as abandoned (committed by the caller)."""
    SourceDocumentRepository(session).abandon(document_id)


def staging_sources(session: Session) -> list[tuple[str, str | None]]:
    return SourceDocumentRepository(session).staging()


def get_source(
    session: Session,
    document_id: str,
    *,
    actor: Principal,
    compartments: Compartments = EVERY,
) -> SourceDocument:
    document = SourceDocumentRepository(session).get(document_id)
    # Ingest keys see only what they loaded; to them, other documents do not exist. Nor do
    # documents filed in compartments the caller may not see.
    if (
        document is None
        or (not actor.sees_all_sources and document.uploaded_by != actor.id)
        or not compartments.admits(document.case_id)
    ):
        raise SourceDocumentNotFound(document_id)
    return document


def document_visible(session: Session, document_id: str, compartments: Compartments) -> bool:
    """Whether the document is in a compartment the caller sees (no query for those who see
    every compartment)."""
    if compartments.every:
        return True
    document = SourceDocumentRepository(session).get(document_id)
    return document is not None and compartments.admits(document.case_id)


def visible_documents(
    session: Session, document_ids: Iterable[str], compartments: Compartments
) -> set[str]:
    """Which of the documents `document_ids` are in compartments the caller sees."""
    wanted = set(document_ids)
    if compartments.every:
        return wanted
    return {d.id for d in documents_by_ids(session, wanted) if compartments.admits(d.case_id)}


def page_sources(
    session: Session,
    *,
    limit: int,
    cursor: str | None,
    actor: Principal,
    compartments: Compartments = EVERY,
) -> tuple[list[SourceDocument], str | None]:
    return SourceDocumentRepository(session).page(
        limit=limit,
        after=SOURCES.decode(cursor),
        uploaded_by=None if actor.sees_all_sources else actor.id,
        compartments=compartments,
    )


def received_times(session: Session, document_ids: Iterable[str]) -> dict[str, datetime]:
    """When each source document was received, by id."""
    return SourceDocumentRepository(session).received_times(sorted(set(document_ids)))


def documents_by_ids(session: Session, document_ids: Iterable[str]) -> list[SourceDocument]:
    """The given source documents, in the order they were received."""
    return SourceDocumentRepository(session).by_ids(sorted(set(document_ids)))


def documents_held(session: Session, document_ids: Iterable[str]) -> list[SourceDocument]:
    """The given source documents read afresh and held to the end of the transaction: an
    admin's refiling of one of them waits for its commit, and one in progress is waited for
    and its result read (`refile_source` takes the row's lock before it reads the filing)."""
    return SourceDocumentRepository(session).held(list(document_ids))


def refile_source(
    session: Session,
    document_id: str,
    *,
    case_id: int | None,
    reason: str,
    actor: Principal,
    reindex: Callable[[Session, str], object],
    restrict_traces: Callable[[Session, str, datetime, int], object],
    rename_rows: Callable[[Session, str, int | None], object],
    take_back: Callable[[Session, str], object],
) -> CompartmentChange:
    """File a document in another compartment (`case_id` checked by the caller's filing check),
    recording the change with its reason; the one commit of this use case. `reindex` moves the
    document's keyed digests for blind convergence in the same commit (the matching domain
    reads documents, so it is handed in rather than imported); `rename_rows` gives the
    document's transactions their engine ids in the new compartment (the transaction domain,
    which depends on this one), refusing a collision there before anything changes;
    `take_back` clears from account and party rows the details statements wrote on them that
    the document created or stated (the account domain's), so that no detail moves with a row
    into the document's new compartment."""
    documents = SourceDocumentRepository(session)
    # The filing read under the row's lock: of two concurrent refilings the second records
    # the first one's target as where the document came from, so the history is a chain.
    documents.lock(document_id)
    document = get_source(session, document_id, actor=actor)
    if document.case_id != case_id:
        rename_rows(session, document.id, case_id)
        take_back(session, document.id)
    change = documents.refile(
        document,
        CompartmentChange(
            source_document_id=document.id,
            from_case_id=document.case_id,
            to_case_id=case_id,
            reason=reason,
            changed_by=actor.id,
            changed_at=datetime.now(UTC),
        ),
    )
    reindex(session, document.id)
    if case_id is not None:
        # `restrict_traces` adds the case to the stored traces that read the document, in this
        # commit: such a trace is then hidden from whoever may not see the case, as if the
        # document had been filed there when it ran. Into the shared pool a trace's
        # compartments stay: they only ever hide it from more callers than need be.
        restrict_traces(session, document.id, document.received_at, case_id)
    session.commit()
    return change


def refiled_among(session: Session, document_ids: list[str]) -> set[str]:
    """Which of these documents an admin has ever refiled."""
    return SourceDocumentRepository(session).refiled_among(document_ids)


def compartment_changes(session: Session, document_id: str) -> list[CompartmentChange]:
    return SourceDocumentRepository(session).compartment_changes(document_id)


def filing_version(session: Session) -> int:
    """Grows with every refiling: a cache of what callers may see (a trace's transaction mask)
    built under an older version is stale. New documents come with new rows, which the ledger's
    own version already counts."""
    return SourceDocumentRepository(session).last_compartment_change()


def require_filed_with(
    session: Session, corrected_document_id: str, source: SourceIn, *, ledger: bool = False
) -> None:
    """A correction is filed in the compartment of the record it corrects: a record of a case
    corrected into the shared pool would show the corrected record to everyone (the client
    names the case; refiling stays an admin's decision).

    With `ledger` (a transaction's correction, which takes the old record out of the ledger
    every trace reads), a shared record's correction is filed in the shared pool too: filed in
    a case, it would take the record out of every other caller's traces while they could not
    see what replaced it, changing their figures silently."""
    corrected = SourceDocumentRepository(session).by_ids([corrected_document_id])
    case_id = corrected[0].case_id if corrected else None
    if case_id is not None and source.case_id != case_id:
        raise InvalidInput(
            f"the corrected record is filed in case {case_id}: file its correction there too",
            errors=body_error(
                "source",
                "case_id",
                msg=f"must be {case_id}, the case the corrected record is filed in",
            ),
        )
    if ledger and case_id is None and source.case_id is not None:
        raise InvalidInput(
            "the corrected record is in the shared pool: its correction changes every "
            "caller's traces, so it is filed in the shared pool too",
            errors=body_error(
                "source",
                "case_id",
                msg="must be null, as the corrected record is in the shared pool",
            ),
        )
