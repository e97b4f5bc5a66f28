"""Plain-data views of tasks and runs, shared by the command line, the admin and the API."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from django_housekeeping.models import TaskRun
from django_housekeeping.registry import HousekeepingTask
from django_housekeeping.schedules import InvalidSchedule, parse_schedule


def describe_schedule(task: HousekeepingTask) -> str:
    try:
        schedule = task.schedule
    except InvalidSchedule as exc:
        return f"invalid: {exc}"
    return str(schedule) if schedule is not None else "manual"


def describe_effective_schedule(task: HousekeepingTask, admin_schedule: str = "") -> str:
    """The schedule the scheduler follows, and where it comes from.

    An override set in the admin (``TaskState.schedule``) wins over ``HOUSEKEEPING["TASKS"]``,
    which wins over the code's ``schedule=``. An invalid admin override is reported, not raised:
    the scheduler does not schedule the task while it is invalid.
    """
    if admin_schedule:
        try:
            return f"{parse_schedule(admin_schedule)} (set in the admin)"
        except InvalidSchedule as exc:
            return f"invalid admin schedule: {exc}"
    description = describe_schedule(task)
    if "schedule" in task.override and not description.startswith("invalid"):
        return f"{description} (from settings)"
    return description


def last_runs(names: Iterable[str]) -> dict[str, TaskRun]:
    """The most recent run of each named task (one query per task, using the recent-runs index)."""
    latest: dict[str, TaskRun] = {}
    for name in names:
        run = TaskRun.objects.filter(task_name=name).order_by("-started_at", "-id").first()
        if run is not None:
            latest[name] = run
    return latest


def task_as_dict(task: HousekeepingTask, last_run: TaskRun | None = None) -> dict[str, Any]:
    return {
        "name": task.name,
        "description": task.description,
        "schedule": describe_schedule(task),
        "enabled": task.enabled,
        "options": task.options,
        "tags": list(task.tags),
        "members": list(task.members),
        "timeout": task.timeout,
        "last_run": run_as_dict(last_run) if last_run is not None else None,
    }


def run_as_dict(run: TaskRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "task": run.task_name,
        "status": run.status,
        "trigger": run.trigger,
        "triggered_by": run.triggered_by.get_username() if run.triggered_by else None,
        "dry_run": run.dry_run,
        "slot": run.slot,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_seconds": run.duration_seconds,
        "progress": {"done": run.progress_done, "total": run.progress_total},
        "result": run.result,
        "error": run.error,
        "host": run.host,
        "pid": run.pid,
        "parent_id": run.parent_id,
    }


# The results the library itself records for a run that did not run its task: slots the scheduler
# skipped or missed (see executors.record_unrun_slots) and a run skipped by run_task because
# another run of the task was still going.
_UNRUN_SLOTS_KEYS = frozenset({"reason", "slots", "first_slot", "last_slot"})
_ALREADY_RUNNING_KEYS = frozenset({"reason", "running_run_id"})


def summarize_result(result: Any) -> str:
    """One line for a person: per-model counts for a purge, the reason a run was skipped or
    missed, compact JSON for anything else."""
    if isinstance(result, dict):
        unrun = _summarize_unrun(result)
        if unrun is not None:
            return unrun
    if isinstance(result, dict) and isinstance(result.get("deleted"), dict):
        verb = "would delete" if result.get("dry_run") else "deleted"
        counts = ", ".join(f"{label} {count}" for label, count in result["deleted"].items())
        summary = f"{verb} {result.get('total', 0)}" + (f" ({counts})" if counts else "")
        protected = result.get("protected")
        if isinstance(protected, dict):
            skipped = sum(count for count in protected.values() if _is_count(count))
            if skipped:
                summary += f"; {skipped} protected row{'' if skipped == 1 else 's'} kept"
        if result.get("partial") is True:
            summary += "; partial: stopped at max_seconds, the next run continues"
        return summary
    if isinstance(result, dict) and isinstance(result.get("tasks"), dict):
        failed = result.get("failed") or []
        return f"{len(result['tasks'])} tasks" + (
            f", failed: {', '.join(failed)}" if failed else ""
        )
    return to_json(result)


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


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def run_summary(run: TaskRun) -> str:
    """One line for a person, the same on every face: the error's type and message for a failed or
    interrupted run, what was (or would be) deleted, the reason a run did not run, the result."""
    if run.error:
        return error_summary(run.error)
    if run.result is None:
        if run.status == TaskRun.Status.QUEUED:
            return "queued…"
        return "running…" if run.status == TaskRun.Status.RUNNING else ""
    return summarize_result(run.result)


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


def deletion_counts(result: Any) -> dict[str, int]:
    """Rows deleted (or, in a dry run, to be deleted) per model, in a purge's result or in the
    results of a group's members."""
    counts: dict[str, int] = {}
    if not isinstance(result, dict):
        return counts
    if isinstance(result.get("deleted"), dict):
        for label, count in result["deleted"].items():
            if _is_count(count):
                counts[str(label)] = counts.get(str(label), 0) + count
    if isinstance(result.get("tasks"), dict):
        for member in result["tasks"].values():
            if isinstance(member, dict):
                for label, count in deletion_counts(member.get("result")).items():
                    counts[label] = counts.get(label, 0) + count
    return counts


def to_json(value: Any, *, indent: int | None = None) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, indent=indent, sort_keys=indent is not None)
