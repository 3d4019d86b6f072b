"""The examples in the engine's docstrings run and say what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import tracing

MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(tracing.__path__, prefix="tracing."))


@pytest.mark.parametrize("name", ["tracing", *MODULES])
def test_docstring_examples(name: str) -> None:
    failures, _ = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert failures == 0
