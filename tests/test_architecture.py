"""The dependency rules of STYLE B2, checked on the source itself."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BANNED_IN_TRACING = {"fastapi", "starlette", "pydantic", "sqlalchemy", "httpx", "app"}


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_tracing_is_a_pure_library() -> None:
    files = list((ROOT / "tracing").rglob("*.py"))
    assert files
    for path in files:
        roots = {m.split(".")[0] for m in imported_modules(path)}
        assert not roots & BANNED_IN_TRACING, (
            f"{path.relative_to(ROOT)} imports {roots & BANNED_IN_TRACING}"
        )


def test_tracing_knows_nothing_of_the_lake_or_spark() -> None:
    # The in-memory engine runs without a JVM; the lake builds on it, never the reverse.
    for path in (ROOT / "tracing").rglob("*.py"):
        roots = {m.split(".")[0] for m in imported_modules(path)}
        assert not roots & {"lake", "pyspark", "py4j"}, f"{path.relative_to(ROOT)} imports {roots}"


def test_the_lake_is_a_library_beside_tracing() -> None:
    # lake/ knows no web and no database: the service reads rows and hands them over.
    files = list((ROOT / "lake").rglob("*.py"))
    assert files
    for path in files:
        roots = {m.split(".")[0] for m in imported_modules(path)}
        assert not roots & BANNED_IN_TRACING, (
            f"{path.relative_to(ROOT)} imports {roots & BANNED_IN_TRACING}"
        )


def test_pyspark_is_imported_only_when_a_session_or_search_is_made() -> None:
    # The base install has no PySpark: importing lake (and so app) must not need it.
    for path in (ROOT / "lake").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                assert not any(n.startswith("pyspark") for n in names), path


def test_services_know_nothing_of_http() -> None:
    for path in (ROOT / "app").rglob("service.py"):
        roots = {m.split(".")[0] for m in imported_modules(path)}
        assert not roots & {"fastapi", "starlette"}, f"{path.relative_to(ROOT)} imports HTTP"


def test_domains_meet_only_through_services() -> None:
    for path in (ROOT / "app").rglob("*.py"):
        domain = path.parent.name
        for module in imported_modules(path):
            parts = module.split(".")
            if len(parts) == 3 and parts[0] == "app" and parts[2] == "repository":
                assert parts[1] == domain, f"{path.relative_to(ROOT)} uses {module}"


def test_routers_do_not_build_queries() -> None:
    for path in (ROOT / "app").rglob("router.py"):
        modules = imported_modules(path)
        assert not any(m.startswith("sqlalchemy") for m in modules), path
        assert not any(m.endswith(".repository") for m in modules), path
