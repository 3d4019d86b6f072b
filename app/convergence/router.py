"""Convergence: the parties and accounts that tie two or more of the caller's cases together,
and blind matches with cases the caller cannot see, whose leads are notified.

Its own package: it reads cases, assets, parties, accounts and the match table, and none of
them reads it.
"""

from typing import Annotated

from fastapi import APIRouter, Path

from app.auth import CaseReader, CaseWriter
from app.compartments import CaseView
from app.convergence import service as convergence
from app.convergence.schemas import ConvergenceEntryRead, NotificationDecision, NotificationRead
from app.deps import SessionDep
from app.errors import problems
from app.inputs import MAX_ID
from app.pagination import Page, PageDep

router = APIRouter(prefix="/api/v1/convergence", tags=["convergence"])
notifications = APIRouter(prefix="/api/v1/notifications", tags=["convergence"])
NotificationIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The notification's id.")]


@router.get("", responses=problems(403, 422))
def list_convergence(view: CaseView, page: PageDep) -> Page[ConvergenceEntryRead]:
    """List parties and accounts attached to two or more of the caller's cases, then blind matches.

    Each comes with those cases, their predicate offences and the roles it plays in them (as a
    subject, an asset owner, the account of a bank balance, or `in_evidence`: held by a document
    filed in the case's compartment): the links between seemingly unrelated crimes.
    Most-connected first. Then, marked `blind`, each key of the caller's cases' documents that a
    case the caller cannot see holds too: the caller's key and what matched (account key,
    identity number or name), never the other case, its data or how many there are. The other
    case's lead is notified when the caller's case brought the key second (`GET
    /api/v1/notifications`) and may choose to be contacted, which then shows in `contacts`.
    """
    return Page.of(
        ConvergenceEntryRead,
        convergence.page_convergence(
            view.session,
            actor=view.actor,
            compartments=view.compartments,
            limit=page.limit,
            cursor=page.cursor,
        ),
    )


@notifications.get("", responses=problems(403, 422))
def list_notifications(
    session: SessionDep, actor: CaseReader, page: PageDep
) -> Page[NotificationRead]:
    """List the caller's notifications of matches: those of the cases they lead, newest first.

    A notification is made when a document filed in one case's compartment is stored (or an
    admin refiles it) and holds a key (account, identity number, name; matched on keyed
    digests) that a document of another case already holds: to the lead of the case that held
    it first, naming the case that came and the key, once per pair of cases and key. The case
    that came learns only that a match exists (a blind entry in its convergence list).
    Shared-pool documents make none.
    """
    return Page.of(
        NotificationRead,
        convergence.page_notifications(session, actor=actor, limit=page.limit, cursor=page.cursor),
    )


@notifications.post("/{notification_id}/decision", responses=problems(403, 404, 409, 422))
def decide_notification(
    notification_id: NotificationIdPath,
    body: NotificationDecision,
    session: SessionDep,
    actor: CaseWriter,
) -> NotificationRead:
    """Answer a notification once: `contact` shows the caller to the other case, `decline` nothing.

    The other side learns only what `contact` reveals (the lead's key id, name and note), on the
    blind match in its convergence list and on its own notification of the match.
    """
    return NotificationRead.model_validate(
        convergence.decide_notification(
            session, notification_id, decision=body.decision, note=body.note, actor=actor
        )
    )
