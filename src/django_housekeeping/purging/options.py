"""The purge options a task may declare (``@housekeeping_task(purge={...})``) or a deployment may
override (``HOUSEKEEPING["TASKS"][name]["purge"]``), and how they are validated.

Kept apart from the engine so the registry and the system checks can validate them without
importing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_housekeeping.conf.settings import (
    BOOLEAN,
    LAG,
    PAUSE,
    POSITIVE_INT,
    SECONDS,
    Rule,
    is_positive,
)

PURGE_OPTION_KEYS = (
    "archive",
    "batch_size",
    "max_fraction",
    "max_replica_lag",
    "max_rows",
    "max_seconds",
    "partitions",
    "pause",
)


# The rules of the settings table, so that a rule is written once (``batch_size`` here and
# ``PURGE_BATCH_SIZE`` there are the same).
_RULES: dict[str, Rule] = {
    "archive": BOOLEAN,
    "batch_size": POSITIVE_INT.or_none(),
    "max_fraction": Rule(
        lambda value: is_positive(value) and value <= 1, "a number above 0 and at most 1"
    ).or_none(),
    "max_replica_lag": LAG.or_none(),
    "max_rows": POSITIVE_INT.or_none(),
    "max_seconds": SECONDS.or_none(),
    "partitions": BOOLEAN,
    "pause": PAUSE.or_none(),
}


def purge_option_errors(options: Any) -> list[str]:
    """What is wrong with a ``purge`` options dict, one sentence per problem (empty: valid)."""
    if not isinstance(options, Mapping):
        return [f"must be a dict, got {type(options).__name__}"]
    errors = [
        f"has an unknown key {key!r} (valid keys: {', '.join(PURGE_OPTION_KEYS)})"
        for key in sorted(set(options) - set(PURGE_OPTION_KEYS), key=repr)
    ]
    for key, rule in _RULES.items():
        if key in options and not rule(options[key]):
            errors.append(f"[{key!r}] must be {rule.expected}, got {options[key]!r}")
    return errors


def check_purge_value(key: str, value: Any) -> None:
    """Raise ``ValueError`` when ``value`` is not valid for the purge option ``key``."""
    rule = _RULES[key]
    if not rule(value):
        raise ValueError(f"purge option {key!r} must be {rule.expected}, got {value!r}")
