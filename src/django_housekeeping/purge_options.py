"""The purge options a task may declare (``@housekeeping_task(purge={...})``) or a deployment may
override (``HOUSEKEEPING["TASKS"][name]["purge"]``), and how they are validated.

Kept apart from the engine so the registry and the system checks can validate them without
importing it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

PURGE_OPTION_KEYS = ("archive", "batch_size", "max_fraction", "max_rows", "max_seconds")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _fraction(value: Any) -> bool:
    return _positive_number(value) and value <= 1


_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "archive": (lambda value: isinstance(value, bool), "True or False"),
    "batch_size": (
        lambda value: value is None or _positive_int(value),
        "a positive integer or None",
    ),
    "max_fraction": (
        lambda value: value is None or _fraction(value),
        "a number above 0 and at most 1, or None",
    ),
    "max_rows": (lambda value: value is None or _positive_int(value), "a positive integer or None"),
    "max_seconds": (
        lambda value: value is None or _positive_number(value),
        "a positive number of seconds or None",
    ),
}


def purge_option_errors(options: Any) -> list[str]:
    """What is wrong with a ``purge`` options dict, one sentence per problem (empty: valid)."""
    if not isinstance(options, Mapping):
        return [f"must be a dict, got {type(options).__name__}"]
    errors = [
        f"has an unknown key {key!r} (valid keys: {', '.join(PURGE_OPTION_KEYS)})"
        for key in sorted(set(options) - set(PURGE_OPTION_KEYS), key=repr)
    ]
    for key, (is_valid, expected) in _RULES.items():
        if key in options and not is_valid(options[key]):
            errors.append(f"[{key!r}] must be {expected}, got {options[key]!r}")
    return errors


def check_purge_value(key: str, value: Any) -> None:
    """Raise ``ValueError`` when ``value`` is not valid for the purge option ``key``."""
    is_valid, expected = _RULES[key]
    if not is_valid(value):
        raise ValueError(f"purge option {key!r} must be {expected}, got {value!r}")
