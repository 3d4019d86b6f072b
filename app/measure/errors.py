from app.errors import Conflict, InvalidInput


class IllegalTransition(Conflict):
    code, title = "illegal_transition", "Illegal transition"

    def __init__(self, current: str, wanted: str, allowed: list[str]) -> None:
        super().__init__(
            f"an asset cannot move from {current} to {wanted}"
            + (f"; allowed: {', '.join(allowed)}" if allowed else f"; {current} is final"),
            current_status=current,
            allowed_transitions=allowed,
        )


class BalanceExceeded(Conflict):
    code, title = "balance_exceeded", "Balance exceeded"

    def __init__(self, detail: str, **extensions: object) -> None:
        super().__init__(detail, **extensions)


class InvalidMeasure(InvalidInput):
    code, title = "invalid_measure", "Invalid measure"

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail, errors=[{"loc": ["body", field], "msg": detail, "type": "value"}])
