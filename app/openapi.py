"""`python -m app.openapi [--write]`: print or write the committed OpenAPI document."""

import argparse
import json
from pathlib import Path
from typing import Any

from app.main import create_app
from app.settings import PROJECT_ROOT, Settings

OPENAPI_PATH = PROJECT_ROOT / "openapi" / "openapi.json"


def current_openapi() -> dict[str, Any]:
    # Fixed settings, so the document never depends on the caller's environment.
    return create_app(Settings(database_url="sqlite://", bootstrap_admin_key=False)).openapi()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {OPENAPI_PATH}")
    args = parser.parse_args()
    text = render(current_openapi())
    if args.write:
        Path(OPENAPI_PATH).write_text(text, encoding="utf-8")
    else:
        print(text, end="")  # noqa: T201


if __name__ == "__main__":
    main()
