"""Filing: which compartment a load's source document goes into (issue 19).

A caller may name a case (`case_id` on a batch, an upload or an import); an ingest key bound to
a case files there without saying so. Who may file where is the case domain's to answer
(`app.state.filing_check`, see `app.case.service.filing_case`), so this shared module knows no
domain, as `app.compartments` does for reading.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, Request, Response, UploadFile
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth import LedgerWriter, PrincipalDep
from app.db import reading
from app.deps import SessionDep, SettingsDep
from app.principal import Principal
from app.settings import Settings
from app.uploads import Upload, received, stored_or_replayed

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class FilingCheck(Protocol):
    """The case a load is filed in (None: the shared pool), given the one it names; raises a
    problem (404, 403, 422 naming `field`) when the caller may not file there."""

    def __call__(
        self,
        session: Session,
        principal: Principal,
        requested: int | None,
        *,
        field: list[str | int],
    ) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Filing:
    """The caller's filing check, bound to the request's session and principal."""

    session: Session
    principal: Principal
    check: FilingCheck

    def case_for(self, requested: int | None, *, field: Sequence[str | int]) -> int | None:
        with reading(self.session):  # checked before the load takes any write lock
            return self.check(self.session, self.principal, requested, field=list(field))

    async def checked(self, requested: int | None, *, field: Sequence[str | int]) -> int | None:
        """`case_for` from an async route, off the event loop.

        A load that names no case goes where the key's bound case says (None: the shared pool),
        which the key's lookup read with the key: no query, no thread hand-off.
        """
        if requested is None and (reach := self.principal.reach) is not None:
            return reach.bound
        return await run_in_threadpool(self.case_for, requested, field=field)


def caller_filing(request: Request, session: SessionDep, principal: PrincipalDep) -> Filing:
    return Filing(session, principal, request.app.state.filing_check)


FilingDep = Annotated[Filing, Depends(caller_filing)]


class FileLoad(Protocol[R_co]):
    """A service's load of a received file, filed in `case_id` (None: the shared pool):
    (result, whether it stored anything)."""

    def __call__(self, path: Path, upload: Upload, *, case_id: int | None) -> tuple[R_co, bool]: ...


@dataclass(frozen=True, slots=True)
class LedgerLoad:
    """What a route that loads the ledger (a batch, an upload, an import) works with: the
    writer, the request's session and settings, and the check of where the load is filed."""

    session: Session
    actor: Principal
    settings: Settings
    filing: Filing

    async def stored_file(
        self,
        response: Response,
        file: UploadFile,
        requested: int | None,
        *,
        media_type: str,
        load: FileLoad[R],
        field: Sequence[str | int] = ("body", "case_id"),
    ) -> R:
        """`load` of `file`, filed in the case it names (`requested`, a form field unless `field`
        says otherwise; checked before the file is read), run off the event loop; answered 201,
        or 200 when all of it was known."""
        case_id = await self.filing.checked(requested, field=field)
        limit = self.settings.upload_max_bytes
        async with received(file, limit=limit, default_media_type=media_type) as (path, upload):
            result, stored = await run_in_threadpool(load, path, upload, case_id=case_id)
        return stored_or_replayed(response, result, stored=stored)


def ledger_load(
    session: SessionDep, actor: LedgerWriter, settings: SettingsDep, filing: FilingDep
) -> LedgerLoad:
    return LedgerLoad(session, actor, settings, filing)


LedgerLoadDep = Annotated[LedgerLoad, Depends(ledger_load)]
