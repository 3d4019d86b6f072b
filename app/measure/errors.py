from app.domain_errors import IllegalMove, InvalidField
from app.errors import Conflict


class IllegalTransition(IllegalMove):
    code, title = "illegal_transition", "Illegal transition"
    noun, allowed_key = "an asset", "allowed_transitions"

    def hint(self, current: str, allowed: list[str]) -> str:
        return f"; allowed: {', '.join(allowed)}" if allowed else f"; {current} is final"


class BalanceExceeded(Conflict):
    code, title = "balance_exceeded", "Balance exceeded"

    def __init__(self, detail: str, **extensions: object) -> None:
        super().__init__(detail, **extensions)


class InvalidMeasure(InvalidField):
    code, title = "invalid_measure", "Invalid measure"
