"""The summary's counts per hop and per kind of flag are the same whether counted in Python
(small results) or by Polars (large ones), in ascending order of hop and of kind."""

import polars as pl
import pytest

from app.trace import views


def test_counts_per_hop_and_per_flag_kind_agree_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    accounts = pl.DataFrame({"hops": [3, 0, 1, 1, 10, 2, 1, 3]})
    flags = pl.DataFrame({"flag": ["overdrawn", "cycle", "überweisung", "cycle", "Zeta"]})
    small = views.hop_counts(accounts), views.flag_counts(flags)
    assert small == (
        {"0": 1, "1": 3, "2": 1, "3": 2, "10": 1},
        {"Zeta": 1, "cycle": 2, "overdrawn": 1, "überweisung": 1},
    )
    assert list(small[0]) == ["0", "1", "2", "3", "10"]
    monkeypatch.setattr(views, "_COUNT_IN_PYTHON", 0)
    large = views.hop_counts(accounts), views.flag_counts(flags)
    assert large == small
    assert [list(d) for d in large] == [list(d) for d in small]
    assert views.hop_counts(accounts.head(0)) == {} == views.flag_counts(flags.head(0))
