"""The examples the API documents beside its schemas."""

from typing import Any

from pydantic import ConfigDict
from typing_extensions import Unpack


def example(value: dict[str, Any], **config: Unpack[ConfigDict]) -> ConfigDict:
    """A model's config (`config`) with the example its schema shows (`json_schema_extra`)."""
    return ConfigDict(json_schema_extra={"example": value}, **config)
