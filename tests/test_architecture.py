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


# --- issue 15, item 5: domain boundaries ------------------------------------------------------

APP = ROOT / "app"
# Modules of app/ that assemble the domains (the app factory, the CLI, the model registry for
# Alembic, the health route that reads the audit chain): they may import any domain.
COMPOSITION = {"main", "cli", "openapi", "models", "migrate", "health"}


def _app_imports(path: Path) -> set[str]:
    return {m for m in imported_modules(path) if m == "app" or m.startswith("app.")}


def _domains() -> set[str]:
    return {p.name for p in APP.iterdir() if p.is_dir() and (p / "__init__.py").exists()}


def _domain_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in _domains() else None


def _domain_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {d: set() for d in _domains()}
    for domain in graph:
        for path in (APP / domain).rglob("*.py"):
            for module in _app_imports(path):
                target = _domain_of(module)
                if target is not None and target != domain:
                    graph[domain].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, as the path that closes it, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph[node]):
            if (found := visit(target, [*path, node])) is not None:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        if (found := visit(start, [])) is not None:
            return found
    return None


def test_domain_packages_import_each_other_one_way() -> None:
    graph = _domain_graph()
    assert _cycle(graph) is None, f"domains import each other: {' -> '.join(_cycle(graph) or [])}"


def test_the_ledger_runs_from_accounts_to_transactions() -> None:
    # Transactions name accounts; an account's ledger view is served by the transaction domain.
    graph = _domain_graph()
    assert "account" in graph["transaction"]
    assert "transaction" not in graph["account"]


def test_the_shared_core_imports_no_domain() -> None:
    core = [p for p in APP.glob("*.py") if p.stem not in COMPOSITION | {"__init__"}]
    assert len(core) > 10
    for path in core:
        domains = {d for m in _app_imports(path) if (d := _domain_of(m)) is not None}
        assert not domains, f"app/{path.name} imports the domains {domains}"


def _routers() -> list[Path]:
    """Every module of a domain package that declares routes (`router.py`, `report_router.py`,
    the party record's routes in `case/party_record.py` ...)."""
    return [
        path
        for domain in _domains()
        for path in (APP / domain).rglob("*.py")
        if "APIRouter(" in path.read_text(encoding="utf-8")
    ]


def test_routers_import_no_models_or_repositories() -> None:
    routers = _routers()
    assert len(routers) > 10
    for path in routers:
        for module in _app_imports(path):
            assert not module.endswith((".repository", ".models")), (
                f"{path.relative_to(ROOT)} uses {module}"
            )


# Routers that reach a repository through a module that is not a service (router, module).
KNOWN_ROUTERS_REACHING_REPOSITORIES = {
    ("interop", "app.trace.runtime"),
    ("proposal", "app.trace.runtime"),
    ("trace", "app.trace.runtime"),
}


def test_routers_reach_repositories_only_through_services() -> None:
    # A router may call a use-case module of its domain beside `service` (the measure domain's
    # lapses), but that module goes through the service for storage, as a router would.
    reaching = set()
    for path in APP.rglob("router.py"):
        for module in _app_imports(path):
            parts = module.split(".")
            if len(parts) != 3 or parts[2] in {"service", "repository"}:
                continue
            target = APP / parts[1] / f"{parts[2]}.py"
            if not target.exists():
                continue
            if any(m.endswith(".repository") for m in _app_imports(target)):
                reaching.add((path.parent.name, module))
    assert reaching == KNOWN_ROUTERS_REACHING_REPOSITORIES


def test_tracing_imports_nothing_from_app() -> None:
    for path in (ROOT / "tracing").rglob("*.py"):
        assert not _app_imports(path), f"{path.relative_to(ROOT)} imports app"


def test_routers_reach_the_engine_only_through_services() -> None:
    # A router hands requests to its service; the engine's objects (`tracing`) stay behind it.
    for path in _routers():
        roots = {m.split(".")[0] for m in imported_modules(path)}
        assert "tracing" not in roots, f"{path.relative_to(ROOT)} imports the engine"
