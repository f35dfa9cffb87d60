"""Checks shared by every document reader: a missing or malformed part is one line, naming the file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import ConfigError

__all__ = ["check_keys", "check_list"]


def check_keys(data: object, keys: tuple[str, ...], where: str, what: str, part: str = "") -> None:
    """``data`` is an object holding every key of ``keys``."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: malformed {what} document: {part or 'it'} is not an object")
    missing = [k for k in keys if k not in data]
    if missing:
        owner = f"{part} lacks" if part else "lacks"
        raise ConfigError(f"{where}: malformed {what} document: {owner} {', '.join(map(repr, missing))}")


def check_list(data: Mapping[str, Any], key: str, where: str, what: str) -> list:
    """``data[key]`` is a list."""
    value = data[key]
    if not isinstance(value, list):
        raise ConfigError(f"{where}: malformed {what} document: {key!r} is not a list")
    return value
