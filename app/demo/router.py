from fastapi import APIRouter

from app.auth import KeyManager
from app.demo import service
from app.deps import SessionDep, SettingsDep
from app.errors import problems
from app.transaction.schemas import IngestResult

router = APIRouter(prefix="/api/v1/demo", tags=["demo"])


@router.post("", status_code=201, responses=problems(403, 422))
def load_demo(session: SessionDep, actor: KeyManager, settings: SettingsDep) -> IngestResult:
    """Load the demo case (operation Nordlicht); loading it again stores nothing new."""
    return service.load_demo(session, actor=actor, settings=settings)
