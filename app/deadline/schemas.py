from typing import Annotated

from pydantic import Field, RootModel

from app.measure.schemas import DeadlineRead
from app.realisation.schemas import SaleDeadlineRead


class Deadline(RootModel[Annotated[DeadlineRead | SaleDeadlineRead, Field(discriminator="kind")]]):
    """One deadline of a case: a measure lapsing (`measure_expiry`) or an interlocutory sale due
    (`sale_due`), told apart by `kind`; every kind has `due_at`, the list's order."""
