"""Copying a record's attributes into another that holds them under the same names."""

from collections.abc import Iterable
from typing import Any


def same_named(source: object, names: Iterable[str]) -> dict[str, Any]:
    """`source`'s attributes `names`, as the keyword arguments of a record (an ORM row, a
    schema) that stores them as they are, under the same names."""
    return {name: getattr(source, name) for name in names}
