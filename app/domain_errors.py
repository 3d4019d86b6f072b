"""Error shapes that several domains raise, each under its own code and title."""

from typing import ClassVar

from app.errors import Conflict, InvalidInput


def body_error(*loc: str | int, msg: str, kind: str = "value_error") -> list[dict[str, object]]:
    """The `errors` extension of a problem with one field of the request body, at `loc`."""
    return [{"loc": ["body", *loc], "msg": msg, "type": kind}]


class InvalidField(InvalidInput):
    """A rule one body field breaks: `detail`, repeated as that field's entry of `errors`."""

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail, errors=body_error(field, msg=detail, kind="value"))


class IllegalMove(Conflict):
    """A move a status machine does not allow: `<noun> cannot move from <current> to <wanted>`,
    with the current status and the moves allowed from it (under the extension `allowed_key`)."""

    noun: ClassVar[str]
    allowed_key: ClassVar[str]

    def __init__(self, current: str, wanted: str, allowed: list[str]) -> None:
        super().__init__(
            f"{self.noun} cannot move from {current} to {wanted}{self.hint(current, allowed)}",
            current_status=current,
            **{self.allowed_key: allowed},
        )

    def hint(self, current: str, allowed: list[str]) -> str:
        """What the detail adds after the refused move."""
        return ""
