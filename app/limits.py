"""Bounds on what an upload may cost to read: every reader stops at its bound, before the cost.

A request body is capped on the wire (app.security_headers.BodyLimitMiddleware); what a few
bytes can turn into once read is capped here: zip members unpacked, XML elements built, CSV
columns and lines. Each refusal names the limit and the setting that raises it.
"""

import io
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from app.errors import AppError, InvalidInput
from app.settings import Settings

_CHUNK = 1024 * 1024


def setting_name(field: str) -> str:
    """The environment variable that sets a `Settings` field."""
    return f"MONEYTRAIL_{field.upper()}"


class LimitExceeded(AppError):
    status, code, title = 413, "limit_exceeded", "Limit exceeded"

    def __init__(self, detail: str, *, field: str, limit: int) -> None:
        super().__init__(
            f"{detail} (limit {limit}, setting {setting_name(field)})",
            limit=limit,
            limit_name=field,
            setting=setting_name(field),
        )


def zip_members(
    archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], settings: Settings
) -> Iterator[tuple[zipfile.ZipInfo, bytes]]:
    """Each member's bytes, unpacked a chunk at a time and never past a bound.

    Declared sizes are checked before anything is unpacked; the bytes actually produced are
    counted too, since a zip's directory can lie about them.
    """
    if len(members) > settings.zip_max_members:
        raise LimitExceeded(
            f"the zip holds {len(members)} members",
            field="zip_max_members",
            limit=settings.zip_max_members,
        )
    budget = settings.zip_unpacked_max_bytes
    if sum(m.file_size for m in members) > budget:
        raise LimitExceeded(
            "the zip unpacks beyond its bound", field="zip_unpacked_max_bytes", limit=budget
        )
    for member in members:
        _check_ratio(member, member.file_size, settings)
        cap = min(member.file_size, settings.xml_max_bytes, budget)
        data = _unpack(archive, member, cap, settings)
        budget -= len(data)
        yield member, data


def _check_ratio(member: zipfile.ZipInfo, size: int, settings: Settings) -> None:
    if size > settings.zip_max_ratio * max(member.compress_size, 1):
        raise LimitExceeded(
            f"{member.filename}: unpacks to more than {settings.zip_max_ratio} times its "
            "packed size",
            field="zip_max_ratio",
            limit=settings.zip_max_ratio,
        )


def _unpack(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, cap: int, settings: Settings
) -> bytes:
    if member.file_size > settings.xml_max_bytes:
        raise LimitExceeded(
            f"{member.filename}: {member.file_size} bytes unpacked",
            field="xml_max_bytes",
            limit=settings.xml_max_bytes,
        )
    out = io.BytesIO()
    try:
        with archive.open(member) as f:
            while chunk := f.read(min(_CHUNK, cap + 1 - out.tell())):
                out.write(chunk)
                _check_ratio(member, out.tell(), settings)
                if out.tell() > cap:
                    raise LimitExceeded(
                        f"{member.filename}: unpacks beyond the {member.file_size} bytes it "
                        "declares",
                        field="zip_unpacked_max_bytes",
                        limit=settings.zip_unpacked_max_bytes,
                    )
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # A damaged member (bad CRC, truncated stream), or one packed or encrypted in a way
        # zipfile cannot read: the client's file, not the server, is at fault.
        raise InvalidInput(f"{member.filename}: not readable from the zip: {exc}") from exc
    return out.getvalue()


def check_xml_size(size: int, settings: Settings) -> None:
    if size > settings.xml_max_bytes:
        raise LimitExceeded(
            f"the report holds {size} bytes", field="xml_max_bytes", limit=settings.xml_max_bytes
        )


def check_text_lines(path: Path, *, max_line_bytes: int) -> None:
    """Refuses a file with a line longer than `max_line_bytes`, reading it a chunk at a time.

    Each step looks for the last line break within the next `max_line_bytes` bytes: none means a
    line too long, one moves on past it, so the scan costs a handful of Python steps per window
    whatever the number of lines.
    """
    with path.open("rb") as f:
        carried = b""  # the unfinished line at the end of the last chunk
        while chunk := f.read(max(_CHUNK, max_line_bytes + 1)):
            data, start = carried + chunk, 0
            while len(data) - start > max_line_bytes:
                window_end = start + max_line_bytes + 1
                newline = data.rfind(b"\n", start, window_end)
                if newline < 0:
                    raise _line_too_long(max_line_bytes)
                start = newline + 1
            carried = data[start:]
        if len(carried) > max_line_bytes:
            raise _line_too_long(max_line_bytes)


def _line_too_long(limit: int) -> LimitExceeded:
    return LimitExceeded("a line of the file is too long", field="line_max_bytes", limit=limit)


def bounded_lines(stream: IO[bytes], *, max_line_bytes: int) -> Iterator[bytes]:
    """The lines of `stream`, never reading more than one bound's worth at a time."""
    while line := stream.readline(max_line_bytes + 1):
        if len(line) > max_line_bytes and not (
            len(line) == max_line_bytes + 1 and line.endswith(b"\n")
        ):
            raise _line_too_long(max_line_bytes)
        yield line


def check_columns(count: int, settings: Settings) -> None:
    if count > settings.table_max_columns:
        raise LimitExceeded(
            f"the file has {count} columns",
            field="table_max_columns",
            limit=settings.table_max_columns,
        )
