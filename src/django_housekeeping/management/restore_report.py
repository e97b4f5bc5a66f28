"""What ``housekeeping restore`` prints: its ``--json`` document and its sentences."""

from __future__ import annotations

from typing import Any

from django_housekeeping.purging.restore import ArchiveStats


def restore_document(file: str, stats: ArchiveStats) -> dict[str, Any]:
    return {
        "file": file,
        "objects": stats.objects,
        "models": stats.models,
        "batches": stats.batches,
        "truncated": stats.truncated,
        "verified": stats.verified,
        "present": stats.present,
        "present_models": stats.present_models,
        "rewritten": stats.rewritten,
        "kept": stats.kept,
        "kept_models": stats.kept_models,
        "erased": stats.erased,
        "erased_models": stats.erased_models,
    }


def _models(counts: dict[str, int]) -> str:
    return ", ".join(f"{label} {count:,}" for label, count in counts.items())


def restore_lines(file: str, stats: ArchiveStats, *, overwrite: bool = False) -> list[str]:
    objects = f"{stats.objects:,} object{'' if stats.objects == 1 else 's'}"
    batches = f"{stats.batches:,} batch{'' if stats.batches == 1 else 'es'}"
    unverified = "" if stats.verified else ", unverified (--force)"
    models = _models(stats.models)
    lines = [
        f"Restored {objects} ({batches}) from {file}{unverified}"
        + (f": {models}." if models else ".")
    ]
    if stats.rewritten:
        were = "was" if stats.rewritten == 1 else "were"
        why = "--overwrite, or rows the purge updated" if overwrite else "rows the purge updated"
        lines.append(
            f"{stats.rewritten:,} of them {were} in the database with other values ({why}) and "
            f"{were} rewritten with the archived ones."
        )
    if stats.present:
        row = "row was" if stats.present == 1 else "rows were"
        lines.append(
            f"{stats.present:,} {row} in the database already, as archived, and skipped: "
            f"{_models(stats.present_models)}."
        )
    if stats.kept:
        row = "row was" if stats.kept == 1 else "rows were"
        lines.append(
            f"{stats.kept:,} {row} in the database with other values (changed since the purge) "
            f"and kept as they are (--overwrite restores the archived values): "
            f"{_models(stats.kept_models)}."
        )
    if stats.erased:
        row = "row was" if stats.erased == 1 else "rows were"
        lines.append(
            f"{stats.erased:,} {row} erased (an erasure record names them) and not restored: "
            f"{_models(stats.erased_models)}."
        )
    return lines
