"""A run's result read for a person, the one reader every face uses: what it is (``kind``), its
one-line summary, and the parts a face lays out as tables (per-model counts, numbers, a group's
members, a policy's cutoffs, dropped partitions)."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.utils import timezone

from django_housekeeping.models import PROGRESS_NOTE, TaskRun, error_summary
from django_housekeeping.models import is_count as _is_count
from django_housekeeping.presenters.encoding import to_json

# The results the library itself records for a run that did not run its task: slots the scheduler
# skipped or missed (see scheduling.slots.record_unrun_slots) and a run skipped by run_task because
# another run of the task was still going.
_UNRUN_SLOTS_KEYS = frozenset({"reason", "slots", "first_slot", "last_slot"})


_ALREADY_RUNNING_KEYS = frozenset({"reason", "running_run_id"})


# What a run's result is, as :func:`result_details` reads it (``details["kind"]``).
RESULT_KINDS = ("purge", "group", "numbers", "unrun", "error", "other", "none")


# The counts of a purge's per-model table, in its columns' order.
PURGE_COUNTS = ("deleted", "protected", "held")


def _details(kind: str, summary: str, **fields: Any) -> dict[str, Any]:
    """A ``details`` dict: every key present, whatever the kind."""
    return {
        "kind": kind,
        "summary": summary,
        "verb": None,
        "models": [],
        "total": None,
        "partial": False,
        "archive": None,
        "numbers": [],
        "members": [],
        "cutoffs": [],
        "partitions": [],
        "partitions_note": None,
        **fields,
    }


def read_result(result: Any) -> dict[str, Any]:
    """A task's result as every face shows it: what it is (``kind``), its one-line ``summary``
    and the parts a face lays out as tables. The one reader of results: see :func:`result_details`
    for the keys."""
    if result is None:
        return _details("none", "")
    if isinstance(result, dict):
        unrun = _summarize_unrun(result)
        if unrun is not None:
            return _details("unrun", unrun)
        if isinstance(result.get("deleted"), dict):
            return _read_purge(result)
        if isinstance(result.get("tasks"), dict):
            return _read_group(result)
        numbers = result_numbers(result)
        if numbers and len(numbers) == len(result):
            rows = [{"key": key, "value": numbers[key]} for key in sorted(numbers)]
            summary = ", ".join(f"{row['key']} {row['value']}" for row in rows)
            return _details("numbers", summary, numbers=rows)
    return _details("other", to_json(result))


def _counts(value: Any) -> dict[str, int]:
    """``{"app_label.Model": rows}`` out of a result's ``deleted``, ``protected`` or ``held``
    (anything that is no such mapping counts nothing)."""
    if not isinstance(value, dict):
        return {}
    return {str(label): count for label, count in value.items() if _is_count(count)}


def _rows(count: int, what: str) -> str:
    return f"{count} {what} row{'' if count == 1 else 's'}"


def _read_purge(result: dict[str, Any]) -> dict[str, Any]:
    counts = {key: _counts(result.get(key)) for key in PURGE_COUNTS}
    labels = sorted(set().union(*counts.values()))
    models = [
        {"model": label, **{key: counts[key].get(label, 0) for key in PURGE_COUNTS}}
        for label in labels
    ]
    total = result.get("total")
    if not _is_count(total):
        total = sum(counts["deleted"].values())
    verb = "would delete" if result.get("dry_run") else "deleted"
    partial = result.get("partial") is True
    archive = result.get("archive")
    archive = archive if isinstance(archive, str) and archive else None

    # Sorted by model, as the table is: PostgreSQL and MySQL give a JSON object's keys back in
    # their own order.
    deleted = ", ".join(f"{label} {count}" for label, count in sorted(counts["deleted"].items()))
    summary = f"{verb} {total}" + (f" ({deleted})" if deleted else "")
    for key in ("protected", "held"):
        kept = sum(counts[key].values())
        if kept:
            summary += f"; {_rows(kept, key)} kept"
    partitions = _read_partitions(result)
    if len(partitions) == 1:
        summary += f"; {partitions[0]['line']}"
    elif partitions:
        rows = sum(partition["rows"] for partition in partitions)
        dropped = "would drop" if result.get("dry_run") else "dropped"
        summary += f"; {dropped} {len(partitions)} partitions (≈{rows:,} rows)"
    note = result.get("partitions")
    note = note if isinstance(note, str) and note else None
    if note is not None and note.startswith("batched:"):
        summary += f"; {note}"
    if archive is not None:
        summary += f"; archived to {PurePath(archive).name}"
    if partial:
        summary += "; partial: " + _stopped_by(result) + ", the next run continues"
    throttled = _read_throttle(result.get("throttle"))
    if throttled:
        summary += f"; {throttled}"
    cutoffs = _read_cutoffs(result)
    if cutoffs:
        policy = result.get("policy")
        field = policy.get("field") if isinstance(policy, dict) else None
        summary += f"; {field if isinstance(field, str) else 'rows'} older than " + ", ".join(
            (f"{row['rows']}: " if not row["default"] else "") + f"{row['cutoff']} ({row['keep']})"
            for row in cutoffs
        )
    return _details(
        "purge",
        summary,
        verb=verb,
        models=models,
        total=total,
        partial=partial,
        archive=archive,
        cutoffs=cutoffs,
        partitions=partitions,
        partitions_note=note,
    )


def _stopped_by(result: dict[str, Any]) -> str:
    """Why a purge's result is partial: cancelled, timed out, or its ``max_seconds``."""
    if result.get("cancelled") is True:
        return "cancelled"
    timed_out = result.get("timed_out")
    if isinstance(timed_out, int | float) and not isinstance(timed_out, bool):
        return f"timed out after {timed_out:g} s"
    return "stopped at max_seconds"


def _read_partitions(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The partitions a purge dropped (``result["dropped_partitions"]``): ``name``, ``rows`` and
    the ``line`` a face shows ("dropped partition chat_event_2025_01 (≈812,345 rows)"); anything
    malformed is left out."""
    dropped = result.get("dropped_partitions")
    if not isinstance(dropped, list):
        return []
    verb = "would drop" if result.get("dry_run") else "dropped"
    partitions = []
    for item in dropped:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        rows = item.get("rows")
        rows = rows if _is_count(rows) else 0
        partitions.append(
            {
                "name": item["name"],
                "rows": rows,
                "line": f"{verb} partition {item['name']} (≈{rows:,} rows)",
            }
        )
    return partitions


def _read_throttle(throttle: Any) -> str | None:
    """A purge's throttle (``result["throttle"]``) in a few words: ``"throttled: paused 12.0 s,
    waited 8.5 s on replicas (lag up to 7 s), replica 'eu' unreadable"``; ``None`` when it was
    not throttled."""
    if not isinstance(throttle, dict):
        return None
    parts = []
    paused = _number(throttle.get("paused_seconds"))
    if paused is not None and paused > 0:
        parts.append(f"paused {paused:.1f} s")
    waited = _number(throttle.get("replica_wait_seconds"))
    if waited is not None and waited > 0:
        lag = _number(throttle.get("max_replica_lag"))
        most = f" (lag up to {lag:.0f} s)" if lag is not None else ""
        parts.append(f"waited {waited:.1f} s on replicas{most}")
    unreadable = throttle.get("unreadable_replicas")
    if isinstance(unreadable, dict) and unreadable:
        aliases = ", ".join(repr(str(alias)) for alias in sorted(unreadable, key=str))
        parts.append(f"replica{'s' if len(unreadable) > 1 else ''} {aliases} unreadable")
    return f"throttled: {', '.join(parts)}" if parts else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _read_cutoffs(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A retention policy's cutoffs (``result["cutoffs"]``), one row per window: ``rows`` (which
    rows: ``"plan='pro'"``, or ``"every other row"``), ``keep``, ``cutoff`` (local time, to the
    minute) and ``default``; anything malformed is left out."""
    cutoffs = result.get("cutoffs")
    if not isinstance(cutoffs, list):
        return []
    rows = []
    for item in cutoffs:
        if not isinstance(item, dict) or not isinstance(item.get("cutoff"), str):
            continue
        default = item.get("default") is True
        keep_by = item.get("keep_by")
        rows.append(
            {
                "rows": "every other row"
                if default or not isinstance(keep_by, str)
                else f"{keep_by}={item.get('value')!r}",
                "default": default,
                "keep": str(item.get("keep", "")),
                "cutoff": format_cutoff(item["cutoff"]),
                "source": str(item.get("source", "")),
            }
        )
    return rows


def format_cutoff(value: str) -> str:
    """An ISO datetime as ``"2026-10-31 18:40"`` in the current time zone (as given if not one)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if settings.USE_TZ and timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime("%Y-%m-%d %H:%M")


def _read_group(result: dict[str, Any]) -> dict[str, Any]:
    failed = [str(name) for name in result.get("failed") or []]
    members = []
    for name, outcome in result["tasks"].items():
        outcome = outcome if isinstance(outcome, dict) else {}
        if "result" in outcome:
            summary = read_result(outcome["result"])["summary"]
        else:  # a member that did not run: a disabled one, say
            reason = outcome.get("reason")
            summary = reason if isinstance(reason, str) else ""
        status = outcome.get("status")
        members.append(
            {
                "task": str(name),
                "status": status if isinstance(status, str) else "",
                "summary": summary,
            }
        )
    count = len(members)
    summary = f"{count} task{'' if count == 1 else 's'}" + (
        f", failed: {', '.join(failed)}" if failed else ""
    )
    return _details("group", summary, members=members)


def _summarize_unrun(result: dict[Any, Any]) -> str | None:
    """``"the previous run was still running (3 slots)"``; ``None`` for any other result."""
    reason = result.get("reason")
    if not isinstance(reason, str) or not reason:
        return None
    slots = result.get("slots")
    if set(result) <= _UNRUN_SLOTS_KEYS and _is_count(slots):
        return f"{reason} ({slots} slot{'' if slots == 1 else 's'})"
    running_run_id = result.get("running_run_id")
    if set(result) == _ALREADY_RUNNING_KEYS and _is_count(running_run_id):
        return f"{reason} (run #{running_run_id})"
    return None


def result_numbers(result: Any) -> dict[str, int | float]:
    """The numeric values of a result object (booleans and non-finite floats left out)."""
    if not isinstance(result, dict):
        return {}
    return {
        str(key): value
        for key, value in result.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


def result_details(run: TaskRun) -> dict[str, Any]:
    """A run's result as every face lays it out, read once (:func:`read_result`):

    - ``kind``: ``purge``, ``group``, ``numbers`` (a flat object of numbers: statistics),
      ``unrun`` (slots skipped or missed, a run skipped while another ran), ``error`` (a failed
      or interrupted run), ``other`` (any other JSON) or ``none`` (no result yet);
    - ``summary``: the one line of :func:`run_summary`;
    - a purge's ``verb`` (``deleted`` / ``would delete``), ``models`` (one row per model with
      ``deleted``, ``protected`` and ``held`` rows, sorted by model), ``total``, ``partial``
      (stopped at ``max_seconds``), ``archive`` (the archive file), ``partitions`` (the
      partitions dropped whole: ``[{"name", "rows", "line"}]``, ``line`` reading "dropped
      partition chat_event_2025_01 (≈812,345 rows)") and ``partitions_note`` (why partitions
      were purged by batches instead, or None);
    - ``numbers``: ``[{"key", "value"}]`` sorted by key; ``members``: a group's
      ``[{"task", "status", "summary"}]``.
    """
    if run.error:
        return _details("error", error_summary(run.error))
    if run.result is None or progress_note(run) is not None:
        if run.status == TaskRun.Status.QUEUED:
            return _details("none", "queued…")
        if run.status != TaskRun.Status.RUNNING:
            return _details("none", "")
        note = progress_note(run)
        return _details("none", f"running… {note}" if note else "running…")
    return read_result(run.result)


def progress_note(run: TaskRun) -> str | None:
    """What an active run says it is doing (``"paused: replica lag 7 s"``), if anything."""
    result = run.result
    if isinstance(result, dict) and set(result) == {PROGRESS_NOTE}:
        note = result[PROGRESS_NOTE]
        return note if isinstance(note, str) and note else None
    return None


def run_summary(run: TaskRun) -> str:
    """One line for a person, the same on every face: the error's type and message for a failed or
    interrupted run, what was (or would be) deleted, the reason a run did not run, the result."""
    summary: str = result_details(run)["summary"]
    return summary
