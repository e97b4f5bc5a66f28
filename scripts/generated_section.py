"""The part of a docs page between two markers that a script generates (``scripts/settings-docs``,
``scripts/checks-docs``): read it, then write the new one or, with ``--check``, say whether it is
current."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def read(output: Path, start: str, end: str) -> tuple[str, str, str] | None:
    """``(text, before, after)`` of ``output`` around its markers; ``None`` (said on stderr)
    when the page lacks one."""
    text = output.read_text(encoding="utf-8")
    before, found_start, rest = text.partition(start)
    _, found_end, after = rest.partition(end)
    if not found_start or not found_end:
        print(f"{output.relative_to(ROOT)} has no generated-section markers", file=sys.stderr)
        return None
    return text, before, after


def write_or_check(output: Path, text: str, updated: str, *, script: str, check: bool) -> int:
    """Write ``updated`` to ``output``, or with ``check`` only compare; the exit status."""
    name = output.relative_to(ROOT)
    if check:
        if updated != text:
            print(f"{name} is out of date: run scripts/{script}")
            return 1
        print(f"{name} is up to date")
        return 0
    output.write_text(updated, encoding="utf-8")
    print(f"wrote {name}")
    return 0
