import json
from typing import Any

from app.openapi import OPENAPI_PATH, current_openapi, render


def test_committed_openapi_is_current() -> None:
    committed = OPENAPI_PATH.read_text(encoding="utf-8")
    assert render(current_openapi()) == committed, "run: python -m app.openapi --write"


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _has_example(doc: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> bool:
    schema = _resolve(doc, schema)
    if "example" in schema or "examples" in schema:
        return True
    if depth > 3:
        return False
    nested = [
        schema.get("items", {}),
        *schema.get("properties", {}).values(),
        *schema.get("anyOf", []),
        *schema.get("oneOf", []),
        *schema.get("allOf", []),
    ]
    return any(_has_example(doc, s, depth + 1) for s in nested if isinstance(s, dict))


def test_every_operation_has_a_summary_and_an_example() -> None:
    doc = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            name = f"{method.upper()} {path}"
            assert op.get("summary"), f"{name} has no summary"
            contents = [*op.get("requestBody", {}).get("content", {}).values()] + [
                c
                for status, r in op["responses"].items()
                if status.startswith("2")
                for c in r.get("content", {}).values()
            ]
            assert any(
                "example" in c or "examples" in c or _has_example(doc, c.get("schema", {}))
                for c in contents
            ), f"{name} has no example"


def test_every_api_operation_declares_its_problems() -> None:
    doc = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    for path, operations in doc["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, op in operations.items():
            assert "401" in op["responses"], f"{method} {path}"
            assert "application/problem+json" in op["responses"]["401"]["content"]
            assert op.get("security") == [{"ApiKey": []}], f"{method} {path} is not key-protected"
