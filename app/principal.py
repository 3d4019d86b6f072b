"""Roles, the scopes each grants, and the caller they describe."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    INVESTIGATOR = "investigator"
    ANALYST = "analyst"
    INGEST = "ingest"


class Scope(StrEnum):
    LEDGER_READ = "ledger:read"
    LEDGER_WRITE = "ledger:write"
    SOURCES_READ = "sources:read"
    KEYS_MANAGE = "keys:manage"
    CASES_READ = "cases:read"
    CASES_WRITE = "cases:write"
    MEASURES_WRITE = "measures:write"
    DEADLINES_SWEEP = "deadlines:sweep"
    TRACES_READ = "traces:read"
    TRACES_RUN = "traces:run"
    AUDIT_READ = "audit:read"
    STATISTICS_READ = "statistics:read"


TRACING = (Scope.TRACES_READ, Scope.TRACES_RUN)
CASEWORK = (Scope.CASES_READ, Scope.CASES_WRITE, Scope.MEASURES_WRITE, *TRACING)
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset(Scope),
    Role.SUPERVISOR: frozenset(
        {
            Scope.LEDGER_READ,
            Scope.LEDGER_WRITE,
            Scope.SOURCES_READ,
            Scope.DEADLINES_SWEEP,
            Scope.AUDIT_READ,
            Scope.STATISTICS_READ,
            *CASEWORK,
        }
    ),
    Role.INVESTIGATOR: frozenset(
        {Scope.LEDGER_READ, Scope.LEDGER_WRITE, Scope.SOURCES_READ, *CASEWORK}
    ),
    Role.ANALYST: frozenset({Scope.LEDGER_READ, Scope.SOURCES_READ, Scope.CASES_READ, *TRACING}),
    # Ingest keys load data and read back what they loaded, nothing else.
    Role.INGEST: frozenset({Scope.LEDGER_WRITE, Scope.SOURCES_READ}),
}


@dataclass(frozen=True, slots=True)
class CaseReach:
    """The cases whose compartments a key sees beyond the shared pool (those it is on, and an
    ingest key's bound case), and the case it is `bound` to: read with the key on each request."""

    cases: frozenset[int]
    bound: int | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    name: str
    role: Role
    # None when the key's lookup did not read it: ask the case domain (app.compartments).
    reach: CaseReach | None = field(default=None, compare=False)
    # When the key stops working (None: never); a cached principal is checked at each use.
    expires_at: datetime | None = field(default=None, compare=False)

    @property
    def scopes(self) -> frozenset[Scope]:
        return ROLE_SCOPES[self.role]

    @property
    def sees_all_sources(self) -> bool:
        return self.role is not Role.INGEST

    @property
    def sees_all_cases(self) -> bool:
        """Admins and supervisors see every case; anyone else only the cases they are on."""
        return self.role in (Role.ADMIN, Role.SUPERVISOR)
