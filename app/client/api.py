"""A small HTTP client of the moneytrail API for scripts and the command line."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

import httpx

Progress = Callable[[int], None]
ENV_URL, ENV_KEY = "MONEYTRAIL_URL", "MONEYTRAIL_KEY"
POLL_SECONDS = 0.5
EXPORTS = {  # format -> (route suffix, file suffix)
    "graphml": ("export/graphml", ".graphml"),
    "gexf": ("export/gexf", ".gexf"),
    "ftm": ("export/ftm", ".ftm.json"),
    "i2-entities": ("export/i2-entities.csv", "-entities.csv"),
    "i2-links": ("export/i2-links.csv", "-links.csv"),
    "accounts-csv": ("accounts.csv", "-accounts.csv"),
    "flows-csv": ("flows.csv", "-flows.csv"),
    "svg": ("graph.svg", ".svg"),
    "pdf": ("report.pdf", "-report.pdf"),
    "html": ("report.html", "-report.html"),
}


class CliError(Exception):
    """A mistake in what the command line asked for, said in one line."""


class ApiError(Exception):
    """A problem document (RFC 9457) the server answered with."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(one_line(status, problem))
        self.status, self.problem = status, problem


def one_line(status: int, problem: dict[str, Any], *, fields: int = 3) -> str:
    """A problem as one line a person can act on: title, code and status, detail, and the first
    field errors (where and what) when the server listed them."""
    title = problem.get("title") or "error"
    code = problem.get("code") or f"HTTP {status}"
    line = f"{title} ({code}, HTTP {status}): {problem.get('detail', '')}".rstrip(": ")
    errors = problem.get("errors") or []
    named = [
        f"{'.'.join(str(p) for p in e.get('loc', []))}: {e.get('msg', '')}"
        for e in errors[:fields]
        if isinstance(e, dict)
    ]
    if len(errors) > fields:
        named.append(f"... {len(errors) - fields} more")
    return f"{line} — {'; '.join(named)}" if named else line


class CountingReader:
    """A binary file whose reads report how many bytes have gone out."""

    def __init__(self, file: IO[bytes], progress: Progress) -> None:
        self.file, self.progress = file, progress

    def read(self, size: int = -1) -> bytes:
        chunk = self.file.read(size)
        self.progress(len(chunk))
        return chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)


class MoneytrailClient:
    def __init__(self, url: str, key: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self.http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(30.0, read=None),
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "MoneytrailClient":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason_phrase, "detail": response.text[:500]}
            raise ApiError(response.status_code, problem)
        body = response.json()
        assert isinstance(body, dict)
        return body

    def search(self, q: str, *, kind: str, limit: int) -> dict[str, Any]:
        params = {"q": q, "kind": kind, "limit": str(limit)}
        return self._json(self.http.get("/api/v1/search", params=params))

    def _upload(
        self,
        route: str,
        path: Path,
        media_type: str,
        data: dict[str, str],
        progress: Progress,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        with path.open("rb") as f:
            reader = cast(IO[bytes], CountingReader(f, progress))
            files = {"file": (path.name, reader, media_type)}
            return self._json(self.http.post(route, files=files, data=data, params=params))

    def upload_transactions(
        self,
        path: Path,
        *,
        kind: str,
        reference: str,
        timezone: str | None,
        progress: Progress,
        case_id: int | None = None,
    ) -> dict[str, Any]:
        data = {
            "kind": kind,
            "reference": reference,
            **({"timezone": timezone} if timezone else {}),
            **_filed(case_id),
        }
        media = "application/vnd.apache.parquet" if path.suffix == ".parquet" else "text/csv"
        return self._upload("/api/v1/transactions/upload", path, media, data, progress)

    def import_goaml(
        self, path: Path, *, progress: Progress, case_id: int | None = None
    ) -> dict[str, Any]:
        media = "application/zip" if path.suffix == ".zip" else "application/xml"
        route = "/api/v1/imports/goaml"
        return self._upload(route, path, media, {}, progress, params=_filed(case_id))

    def import_ftm(
        self, path: Path, *, reference: str, progress: Progress, case_id: int | None = None
    ) -> dict[str, Any]:
        data = {"reference": reference, **_filed(case_id)}
        return self._upload("/api/v1/imports/ftm", path, "application/x-ndjson", data, progress)

    def run_trace(
        self, body: dict[str, Any], *, on_progress: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any]:
        """Start a trace and wait for it (the server hands long ones over as jobs)."""
        trace = self._json(self.http.post("/api/v1/traces", json=body))
        while trace["status"] == "running":
            if on_progress is not None:
                on_progress(trace)
            time.sleep(POLL_SECONDS)
            trace = self._json(self.http.get(f"/api/v1/traces/{trace['id']}"))
        return trace

    def propose(
        self,
        trace_id: str,
        case_id: int,
        min_amount: str | None,
        min_amounts: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Propose a trace's holdings for freezing in a case (POST /traces/{id}/proposals);
        `min_amounts` per currency replace `min_amount` for the currencies they name."""
        body: dict[str, Any] = {"case_id": case_id}
        if min_amount is not None:
            body["min_amount"] = min_amount
        if min_amounts:
            body["min_amounts"] = min_amounts
        return self._json(self.http.post(f"/api/v1/traces/{trace_id}/proposals", json=body))

    def export(self, trace_id: str, fmt: str, *, progress: Progress | None = None) -> bytes:
        """The export's bytes, streamed: `progress` hears of each chunk as it arrives."""
        route, _ = EXPORTS[fmt]
        with self.http.stream("GET", f"/api/v1/traces/{trace_id}/{route}") as response:
            if response.status_code >= 400:
                response.read()
                self._json(response)
            chunks = []
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if progress is not None:
                    progress(len(chunk))
            return b"".join(chunks)


def _filed(case_id: int | None) -> dict[str, str]:
    """The `case_id` field of an import: file it in that case's compartment."""
    return {} if case_id is None else {"case_id": str(case_id)}
