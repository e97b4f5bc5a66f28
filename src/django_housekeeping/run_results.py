"""Reading what a run stored: the summary of its error, the rows its result says it deleted.

Importable from :mod:`django_housekeeping.models` too, where the package imports them. Pure
functions of stored values: no model, no database.
"""

from __future__ import annotations

from typing import Any


def error_summary(error: str) -> str:
    """The exception's type and the first line of its message, out of a stored traceback (the
    last one of a chain); a text that is no traceback (an interruption): its first line."""
    lines = error.strip().splitlines()
    if not lines:
        return ""
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call")]
    if not starts:
        return lines[0]
    # The frames of a traceback are indented; the exception follows them, unindented.
    for line in lines[starts[-1] + 1 :]:
        if line.strip() and not line[0].isspace():
            return line
    return lines[-1]


def is_count(value: object) -> bool:
    """A row count in a stored result: a non-negative int (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def deletion_counts(result: Any, *, members: bool = True) -> dict[str, int]:
    """Rows deleted (or, in a dry run, to be deleted) per model, in a purge's result and, with
    ``members``, in the results of a group's members (without: the run's own ``deleted`` only, as
    the run totals count it: each member's run counts its own rows)."""
    counts: dict[str, int] = {}
    if not isinstance(result, dict):
        return counts
    if isinstance(result.get("deleted"), dict):
        for label, count in result["deleted"].items():
            if is_count(count):
                counts[str(label)] = counts.get(str(label), 0) + count
    if members and isinstance(result.get("tasks"), dict):
        for member in result["tasks"].values():
            if isinstance(member, dict):
                for label, count in deletion_counts(member.get("result")).items():
                    counts[label] = counts.get(label, 0) + count
    return counts


# The key of an active run's result while it says what it is doing without progressing
# (``{"progress_note": "paused: replica lag 7 s"}``, see ``TaskContext.note``); the run's own
# result replaces it when the run ends.
PROGRESS_NOTE = "progress_note"
