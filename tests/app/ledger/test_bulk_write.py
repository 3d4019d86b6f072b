"""A bulk write stores each value exactly as given (issue 23: loads outside the GIL's way).

On SQLite `app.transaction.bulk.write_frame` passes a frame to the database as JSON in one
statement instead of an executemany (which, beside a busy thread, waited for the GIL at every
row). JSON has its own escapes and number forms: these tests hold the stored values to the
frame's, at the edges, on whichever database the suite runs.
"""

from datetime import UTC, datetime

import polars as pl
import pytest
from sqlalchemy import Engine, text

from app.transaction.bulk import write_frame

EDGES = pl.DataFrame(
    {
        "n": [0, 1, 2],
        "amount_minor": [2**63 - 1, -(2**63), 900719925474099301],
        "text": ['quote " backslash \\ slash /', "tab\tnewline\nnul-free \x01 control", "ünï €𝄞"],
        "maybe": [None, "", "0"],
        "digits": ["007", "1e3", "12345678901234567890"],
        "flag": [True, False, None],
        "value_time": [
            datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
            datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
            None,
        ],
    }
)


@pytest.fixture
def bulk_table(engine: Engine):
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bulk_edges"))
        conn.execute(
            text(
                "CREATE TABLE bulk_edges (n BIGINT, amount_minor BIGINT, text TEXT, maybe TEXT,"
                " digits TEXT, flag BOOLEAN, value_time TIMESTAMP WITH TIME ZONE)"
            )
        )
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bulk_edges"))


def test_values_at_the_edges_are_stored_exactly(bulk_table: Engine) -> None:
    with bulk_table.begin() as conn:
        write_frame(conn, "bulk_edges", EDGES)
    with bulk_table.connect() as conn:
        rows = conn.execute(
            text("SELECT n, amount_minor, text, maybe, digits, flag FROM bulk_edges ORDER BY n")
        ).all()
        times = conn.execute(text("SELECT value_time FROM bulk_edges ORDER BY n")).scalars()
        stored_times = [str(t)[:19] if t is not None else None for t in times]
    for row, expected in zip(rows, EDGES.iter_rows(named=True), strict=True):
        assert row.amount_minor == expected["amount_minor"]
        assert type(row.amount_minor) is int
        assert row.text == expected["text"]
        assert row.maybe == expected["maybe"]
        assert row.digits == expected["digits"]  # text that looks like a number stays text
        assert (None if row.flag is None else bool(row.flag)) == expected["flag"]
    assert stored_times == ["2026-01-02 03:04:05", "1999-12-31 23:59:59", None]


def test_more_rows_than_one_statement_carries_are_all_stored(bulk_table: Engine) -> None:
    many = pl.DataFrame({"n": range(120_001), "amount_minor": range(0, 240_002, 2)})
    with bulk_table.begin() as conn:
        write_frame(conn, "bulk_edges", many)
    with bulk_table.connect() as conn:
        count, total = conn.execute(
            text("SELECT count(*), sum(amount_minor) FROM bulk_edges")
        ).one()
    assert (count, total) == (120_001, sum(range(0, 240_002, 2)))


def test_a_float_is_refused_not_rounded(bulk_table: Engine) -> None:
    with bulk_table.begin() as conn, pytest.raises(TypeError, match="no exact bulk form"):
        write_frame(conn, "bulk_edges", pl.DataFrame({"n": [1], "amount_minor": [0.1]}))
