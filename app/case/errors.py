from app.domain_errors import IllegalMove, InvalidField
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, RecordNotFound


class CaseNotFound(RecordNotFound):
    code, title = "case_not_found", "Case not found"
    noun, key = "case", "case_id"


class CaseReferenceTaken(Conflict):
    code, title = "case_reference_taken", "Case reference taken"

    def __init__(self, reference: str, *, case_id: int | None) -> None:
        if case_id is not None:
            super().__init__(
                f"case {case_id} has the reference {reference!r}",
                reference=reference,
                case_id=case_id,
            )
            return
        # The holder is a case the caller is not on: it is not named, nor said to exist.
        super().__init__(
            f"the reference {reference!r} cannot be given to a new case; a supervisor "
            "allocates case references and can resolve it",
            reference=reference,
            resolved_by="supervisor",
        )


class IllegalCaseStatusChange(IllegalMove):
    code, title = "illegal_case_status_change", "Illegal case status change"
    noun, allowed_key = "a case", "allowed_statuses"


class CaseReadOnly(Forbidden):
    code, title = "case_read_only", "Case is read-only for you"

    def __init__(self, case_id: int, role: str) -> None:
        super().__init__(
            f"your role '{role}' on case {case_id} does not allow this change",
            case_id=case_id,
            case_role=role,
        )


class InvalidCase(InvalidField):
    code, title = "invalid_case", "Invalid case"


class MemberNotFound(NotFound):
    code, title = "case_member_not_found", "Case member not found"

    def __init__(self, case_id: int, api_key_id: str) -> None:
        super().__init__(
            f"API key {api_key_id} is not a member of case {case_id}", api_key_id=api_key_id
        )


class AlreadyAttached(Conflict):
    code, title = "already_attached", "Already attached"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)


class CaseNotBoundToKey(InvalidInput):
    code, title = "case_not_bound_to_key", "Key bound to another case"

    def __init__(self, requested: int, bound: int, field: list[str | int]) -> None:
        super().__init__(
            f"this ingest key files into case {bound}; it may not name case {requested}",
            field=".".join(str(p) for p in field),
            errors=[
                {
                    "loc": field,
                    "msg": f"this key is bound to case {bound}; omit case_id or name {bound}",
                    "type": "case_not_bound_to_key",
                }
            ],
        )
