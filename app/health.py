from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from app.errors import AppError

router = APIRouter(tags=["health"])


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"status": "ok"}})

    status: str


class DatabaseUnavailable(AppError):
    status, code, title = 503, "database_unavailable", "Database unavailable"


@router.get("/healthz")
def get_health() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/readyz", responses={503: {"description": "The database cannot be reached."}})
async def get_readiness(request: Request) -> Health:
    """Readiness: the database answers and its schema is migrated."""

    def probe() -> None:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM alembic_version"))

    try:
        await run_in_threadpool(probe)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable("the database cannot be reached or is not migrated") from exc
    return Health(status="ok")
