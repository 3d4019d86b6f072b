"""Issue 4: every state, transition and field of cases, assets and measures is documented in
the committed OpenAPI document with an example."""

import json
from typing import Any

from app.asset.machine import TRANSITIONS, LegalStatus
from app.openapi import OPENAPI_PATH

SCHEMAS = [
    "CaseCreate",
    "CaseRead",
    "CaseStatusChange",
    "CaseEventRead",
    "MemberCreate",
    "MemberRead",
    "SubjectCreate",
    "SubjectRead",
    "ConvergenceRead",
    "AssetCreate",
    "AssetRead",
    "Valuation",
    "TransitionCreate",
    "MeasureRead",
    "DeadlineRead",
    "SaleDeadlineRead",
    "MoveRead",
    "SweepResult",
    "Duration",
]


def _doc() -> dict[str, Any]:
    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))


def test_every_field_has_an_example() -> None:
    schemas = _doc()["components"]["schemas"]
    for name in SCHEMAS:
        schema = schemas[name]
        example = schema.get("example", {})
        for field, spec in schema["properties"].items():
            assert field in example or "examples" in spec, f"{name}.{field} has no example"


def test_every_state_and_transition_is_documented() -> None:
    doc = _doc()
    assert doc["components"]["schemas"]["LegalStatus"]["enum"] == [str(s) for s in LegalStatus]
    moves = doc["paths"]["/api/v1/assets/{asset_id}/transitions"]["post"]["description"]
    for state, allowed in TRANSITIONS.items():
        line = next(x for x in moves.splitlines() if x.startswith(f"- `{state}` →"))
        assert all(f"`{t}`" in line for t in allowed), line
    cases = doc["paths"]["/api/v1/cases/{case_id}/status"]["post"]["description"]
    for state in ("open", "active", "suspended", "closed", "discontinued"):
        assert state in cases
