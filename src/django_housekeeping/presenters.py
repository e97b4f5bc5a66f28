"""What every face shows: tasks, runs, results, the scheduler's state and statistics, as plain data.

One presenter for the command line, the admin, the staff dashboard and the API: the one-line
summary of a run (and of its error), per-model counts, effective schedules, the JSON the dashboard
and the API serve (the API declares its shape with DRF serializers for its OpenAPI schema), and
the scheduler's status.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import PurePath
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from django.apps import apps
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Choices, Count, Model, QuerySet
from django.db.models.signals import ModelSignal, post_delete, pre_delete
from django.utils import timezone
from django.utils.translation import get_language
from django_apscheduler.models import DjangoJob

from django_housekeeping.conf import housekeeping_settings

# deletion_counts lives with the models, so that the run totals (monitoring, a lower layer) read a
# result as the faces show it; re-exported here for the faces.
from django_housekeeping.models import (
    PROGRESS_NOTE,
    ErasureRecord,
    SchedulerLease,
    TaskRun,
    TaskState,
    error_summary,
)
from django_housekeeping.models import deletion_counts as deletion_counts
from django_housekeeping.models import is_count as _is_count
from django_housekeeping.monitoring.rollup import closed_window as rollup_closed_window
from django_housekeeping.monitoring.rollup import last_closed_day as rollup_last_closed_day
from django_housekeeping.monitoring.rollup import nearest_rank as rollup_nearest_rank
from django_housekeeping.monitoring.rollup import remember_closed as rollup_remember_closed
from django_housekeeping.monitoring.rollup import run_day
from django_housekeeping.monitoring.rollup import window as rollup_window
from django_housekeeping.purging import holds
from django_housekeeping.scheduling.lease import LEASE_NAME
from django_housekeeping.scheduling.store import stored_triggers
from django_housekeeping.tasks.plan import planned_schedule
from django_housekeeping.tasks.registry import ALL, NotRegistered, registry
from django_housekeeping.tasks.retention import (
    RetentionPolicy,
    Window,
    describe_window,
    policies,
)
from django_housekeeping.tasks.schedules import InvalidSchedule, describe_trigger, parse_schedule
from django_housekeeping.tasks.task import HousekeepingTask


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


@dataclass(frozen=True)
class TaskView:
    """A task with what the database says of it: its operators' state (pause, schedule override),
    the job store's next run, its last run. Every face's per-task data is made from these."""

    task: HousekeepingTask
    state: TaskState | None
    next_run: datetime | None
    last_run: TaskRun | None

    @property
    def paused(self) -> bool:
        return bool(self.state and self.state.paused)

    @property
    def schedule(self) -> str:
        """The schedule the scheduler follows, and where it comes from."""
        return describe_effective_schedule(self.task, self.state.schedule if self.state else "")


def task_views() -> list[TaskView]:
    """Every registered task and group, with its state, next run and last run (a few queries)."""
    tasks = list(registry)
    names = [task.name for task in tasks]
    states = {state.task_name: state for state in TaskState.objects.filter(task_name__in=names)}
    next_runs = dict(DjangoJob.objects.filter(id__in=names).values_list("id", "next_run_time"))
    latest = last_runs(names)
    return [
        TaskView(task, states.get(task.name), next_runs.get(task.name), latest.get(task.name))
        for task in tasks
    ]


def state_of(view: TaskView) -> str:
    """``enabled``, ``paused`` (by an operator) or ``disabled`` (in the code or settings)."""
    if not view.task.enabled:
        return "disabled"
    return "paused" if view.paused else "enabled"


def task_as_dict(view: TaskView) -> dict[str, Any]:
    """A task as ``housekeeping list --json`` gives it."""
    task = view.task
    return {
        "name": task.name,
        "description": task.description,
        "schedule": view.schedule,
        "enabled": task.enabled,
        "state": state_of(view),
        "paused": view.paused,
        "after": list(task.after),
        "options": task.options,
        "tags": list(task.tags),
        "members": list(task.members),
        "timeout": task.timeout,
        "last_run": run_as_dict(view.last_run) if view.last_run is not None else None,
    }


def _stopped_by(result: dict[str, Any]) -> str:
    """Why a purge's result is partial: cancelled, timed out, or its ``max_seconds``."""
    if result.get("cancelled") is True:
        return "cancelled"
    timed_out = result.get("timed_out")
    if isinstance(timed_out, int | float) and not isinstance(timed_out, bool):
        return f"timed out after {timed_out:g} s"
    return "stopped at max_seconds"


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
        "attempt": run.attempt,
        "retry_of_id": run.retry_of_id,
        "cancel_requested_at": run.cancel_requested_at,
        # Read only for a run someone cancelled (a few): no join for every listed run.
        "cancelled_by": run.cancelled_by.get_username()
        if run.cancelled_by_id is not None and run.cancelled_by is not None
        else None,
    }


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
        numbers = _numbers(result)
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


def summarize_result(result: Any) -> str:
    """One line for a person: per-model counts for a purge, the reason a run was skipped or
    missed, a group's members, a statistics task's numbers, compact JSON for anything else."""
    summary: str = read_result(result)["summary"]
    return summary


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
    if run.result is None or _progress_note(run) is not None:
        if run.status == TaskRun.Status.QUEUED:
            return _details("none", "queued…")
        if run.status != TaskRun.Status.RUNNING:
            return _details("none", "")
        note = _progress_note(run)
        return _details("none", f"running… {note}" if note else "running…")
    return read_result(run.result)


@functools.lru_cache(maxsize=64)
def _choice_labels(choices: type[Choices], language: str | None) -> dict[str, str]:
    return {str(value): str(label) for value, label in choices.choices}


def choice_label(choices: type[Choices], value: str) -> str:
    """The label of ``value`` among ``choices`` (e.g. ``TaskRun.Status``) in the active language,
    translated once per language rather than once per row: ``get_FOO_display()`` hashes every
    lazy label of the field's choices, each a translation lookup."""
    return _choice_labels(choices, get_language()).get(value, value)


def status_label(status: str) -> str:
    """A run status's label, e.g. ``"succeeded"`` → ``"Succeeded"``."""
    return choice_label(TaskRun.Status, status)


def trigger_label(trigger: str) -> str:
    """A run trigger's label."""
    return choice_label(TaskRun.Trigger, trigger)


def _progress_note(run: TaskRun) -> str | None:
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


def erasure_as_dict(record: ErasureRecord) -> dict[str, Any]:
    """An erasure record as every face shows it (it holds no field value of the erased rows)."""
    deleted = {str(label): count for label, count in sorted((record.deleted or {}).items())}
    return {
        "id": record.pk,
        "model": record.model,
        "pk": record.object_pk,
        "status": record.status,
        "dry_run": record.dry_run,
        "reason": record.reason,
        "requested_by": record.requested_by.get_username() if record.requested_by else None,
        "requested_at": record.requested_at,
        "finished_at": record.finished_at,
        "deleted": deleted,
        "total": sum(count for count in deleted.values() if _is_count(count)),
        "protected": dict(sorted((record.protected or {}).items())),
        "held": list(record.held or []),
    }


def to_json(value: Any, *, indent: int | None = None) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, indent=indent, sort_keys=indent is not None)


# -- the dashboard and the API ------------------------------------------------------------------

DEFAULT_STATISTICS_DAYS = 30
MAX_STATISTICS_DAYS = 366
# The newest points of a series kept in a window: about a point per two pixels of a wide chart;
# a stats task every 5 minutes for a year is far more than a chart can show, and every point is a
# run's result read and parsed.
MAX_STATISTICS_POINTS = 400
# The largest primary key a database stores: a larger one in a URL is simply not found.
MAX_PK = 2**63 - 1

RunUrl = Callable[[int], str]


def run_payload(run: TaskRun, run_url: RunUrl | None = None) -> dict[str, Any]:
    """A run as the dashboard and the API show it: :func:`run_as_dict` plus a one-line summary and
    the result laid out (``details``, see :func:`result_details`), live progress and, given
    ``run_url``, the run's URL."""
    data = run_as_dict(run)
    done, total = run.progress_done, run.progress_total
    percent = None
    if done is not None and total:
        percent = round(min(done / total, 1.0) * 100, 1)
    data["progress"] = {
        "done": done,
        "total": total,
        "percent": percent,
        "note": _progress_note(run) if not run.is_finished else None,
    }
    data["heartbeat_at"] = run.heartbeat_at
    data["cancel_requested"] = run.cancel_requested_at is not None
    details = result_details(run)
    data["summary"] = details["summary"]
    data["details"] = details
    data["url"] = run_url(run.pk) if run_url is not None else None
    return data


def run_detail_payload(run: TaskRun, run_url: RunUrl | None = None) -> dict[str, Any]:
    """:func:`run_payload` with the runs of a group's members."""
    data = run_payload(run, run_url)
    data["children"] = [
        run_payload(child, run_url) for child in run.children.order_by("started_at", "id")
    ]
    return data


def find_run(pk: object) -> TaskRun | None:
    """The run with primary key ``pk`` (given as text from a URL), or ``None``."""
    text = str(pk)
    if not text.isascii() or not text.isdigit() or int(text) > MAX_PK:
        return None
    return TaskRun.objects.select_related("triggered_by").filter(pk=int(text)).first()


def tasks_payload(run_url: RunUrl | None = None) -> list[dict[str, Any]]:
    """Every registered task and group with its effective schedule, pause state, next run and
    last run, as the dashboard and the API show them."""
    return [
        {
            "name": view.task.name,
            "description": view.task.description,
            "is_group": view.task.is_group,
            "members": list(view.task.members),
            "schedule": view.schedule,
            "enabled": view.task.enabled,
            "paused": view.paused,
            "next_run": view.next_run,
            "options": view.task.options,
            "tags": list(view.task.tags),
            "timeout": view.task.timeout,
            "destructive": registry.is_destructive(view.task.name),
            "last_run": run_payload(view.last_run, run_url) if view.last_run else None,
        }
        for view in task_views()
    ]


def statistics_task_names() -> list[str]:
    """The names ``statistics_payload`` accepts: every registered task except groups."""
    return sorted(task.name for task in registry if not task.is_group)


def _check_statistics_task(task_name: str) -> None:
    """Raise ``NotRegistered`` unless ``task_name`` is a registered task that is no group."""
    tasks = registry.as_mapping()
    if task_name == ALL or task_name not in tasks or tasks[task_name].is_group:
        raise NotRegistered(task_name, statistics_task_names())


def statistics_payload(
    task_name: str | None = None,
    days: int = DEFAULT_STATISTICS_DAYS,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The library's own numbers over the last ``days`` days (``housekeeping``, see
    :func:`housekeeping_statistics`) and the site's statistics: the latest numbers of its
    statistics task and their time series over the same window. The window is whole days in the
    site's time zone: from the day of ``now - days`` to today, ``since`` being that first day's
    midnight.

    The site's statistics task is ``task_name`` (a request's ``?task=``), else
    ``HOUSEKEEPING["STATISTICS_TASK"]``. Its statistics are the results of its succeeded runs that
    were no dry runs: every number in a run's result (a JSON object) is a point of the series of
    that key. Without a statistics task, ``task`` is ``None`` and ``statistics`` and ``series`` are
    empty. Raises ``NotRegistered`` when ``task_name`` is no registered task (groups included: a
    group's result is no statistics); a configured task that is not registered is reported in
    ``warning`` instead, so that a settings mistake does not take the library's numbers away.
    """
    now = now or timezone.now()
    since = window_start(now - timedelta(days=days))
    warning: str | None = None
    if task_name is not None:
        _check_statistics_task(task_name)
    elif housekeeping_settings.STATISTICS_TASK is not None:
        configured = housekeeping_settings.STATISTICS_TASK
        try:
            _check_statistics_task(configured)
        except NotRegistered as exc:
            warning = f'HOUSEKEEPING["STATISTICS_TASK"] names no task that has statistics: {exc}'
        else:
            task_name = configured
    payload: dict[str, Any] = {
        "task": task_name,
        "days": days,
        "since": since,
        "run_id": None,
        "generated_at": None,
        "statistics": {},
        "series": [],
        "warning": warning,
    }
    if task_name is not None:
        payload.update(_site_statistics(task_name, since))
    payload["housekeeping"] = housekeeping_statistics(since, now)
    return payload


def _site_statistics(task_name: str, since: datetime) -> dict[str, Any]:
    """The latest numbers of ``task_name``'s succeeded real runs and their series: the newest
    :data:`MAX_STATISTICS_POINTS` runs of the window, those of closed days as this process keeps
    them (:func:`~django_housekeeping.monitoring.rollup.remember_closed`)."""
    succeeded = TaskRun.objects.filter(
        task_name=task_name, status=TaskRun.Status.SUCCEEDED, dry_run=False
    )

    def newest(runs: QuerySet[TaskRun]) -> list[tuple[int, datetime, Any]]:
        return list(
            runs.order_by("-started_at", "-id").values_list("id", "started_at", "result")[
                :MAX_STATISTICS_POINTS
            ]
        )

    today = day_start(rollup_last_closed_day() + timedelta(days=1))
    window = newest(succeeded.filter(started_at__gte=max(since, today)))
    if since < today and len(window) < MAX_STATISTICS_POINTS:
        closed = rollup_remember_closed(
            ("series", task_name, since, today),
            lambda: newest(succeeded.filter(started_at__gte=since, started_at__lt=today)),
        )
        window = (window + closed)[:MAX_STATISTICS_POINTS]
    # The window has no end: its newest run, if any, is the latest one. Else the latest is older.
    latest = (
        window[0]
        if window
        else succeeded.filter(started_at__lt=since)
        .order_by("-started_at", "-id")
        .values_list("id", "started_at", "result")
        .first()
    )
    window = window[::-1]  # oldest first (and not the list this process keeps)

    values = _numbers(latest[2]) if latest is not None else {}
    series: dict[str, list[dict[str, Any]]] = {key: [] for key in values}
    for run_id, started_at, result in window:
        for key, value in _numbers(result).items():
            series.setdefault(key, []).append({"at": started_at, "value": value, "run_id": run_id})
    return {
        "run_id": latest[0] if latest is not None else None,
        "generated_at": latest[1] if latest is not None else None,
        "statistics": values,
        "series": [{"key": key, "points": points} for key, points in series.items()],
    }


# The statuses of the runs whose durations are counted: runs that ran their task to its end.
DURATION_STATUSES = (TaskRun.Status.SUCCEEDED, TaskRun.Status.FAILED)


def day_start(day: date) -> datetime:
    """The midnight that starts ``day`` in the site's time zone."""
    start = datetime.combine(day, time.min)
    return timezone.make_aware(start) if settings.USE_TZ else start


def window_start(since: datetime) -> datetime:
    """The start of the statistics' window that ``since`` falls in: its day's midnight in the
    site's time zone (the statistics count whole days)."""
    return day_start(run_day(since))


def housekeeping_statistics(since: datetime, now: datetime) -> dict[str, Any]:
    """The library's own numbers, for every site: the runs started from ``since``'s day to
    ``now``'s (whole days in the site's time zone) that were no dry runs (dry runs delete nothing
    and would only blur the numbers). Finished runs are read from the daily rollup
    (:mod:`~django_housekeeping.monitoring.rollup`): a few rows per task and day, however long
    the history is; queued and running ones from the history (through its status index).

    - ``tasks``: per task name (groups included, each run counted once), ``runs`` by status,
      ``rows_deleted`` by its own runs, and ``duration_seconds``: the ``p50`` and ``p95`` of the
      durations of its succeeded and failed runs, by the nearest-rank method over the rollup's
      duration buckets (within 19 % of the exact nearest-rank duration, or 1 ms below 1 ms;
      exact when the runs of the bucket took the same time; ``None`` without any).
    - ``rows_deleted_per_day``: every day from ``since``'s to ``now``'s (days without deletions
      included, with 0), the rows the runs started that day deleted, in all and per model. A
      group's run is not counted: its members' own runs are.
    """
    first, last = run_day(since), run_day(now)
    tasks: dict[str, dict[str, Any]] = {}

    def task(name: str) -> dict[str, Any]:
        return tasks.setdefault(name, {"runs": {}, "rows_deleted": 0, "duration_seconds": {}})

    buckets: dict[str, dict[int, tuple[int, float]]] = {}
    # Closed days from the sums this process keeps, today from the database.
    closed_last = min(last, rollup_last_closed_day())
    sums = [rollup_closed_window(first, closed_last)] if first <= closed_last else []
    sums.append(rollup_window(max(first, closed_last + timedelta(days=1)), last))
    for name, status, bucket, runs, seconds in (row for part in sums for row in part.runs):
        counts = task(name)["runs"]
        counts[status] = counts.get(status, 0) + runs
        if status in DURATION_STATUSES:
            held = buckets.setdefault(name, {}).get(bucket, (0, 0.0))
            buckets[name][bucket] = (held[0] + runs, held[1] + seconds)
    active = (
        TaskRun.objects.filter(
            status__in=TaskRun.ACTIVE_STATUSES,
            dry_run=False,
            started_at__gte=window_start(since),
            started_at__lte=now,
        )
        .values_list("task_name", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for name, status, runs in active:
        task(name)["runs"][status] = runs
    for name in tasks:
        tasks[name]["runs"] = dict(sorted(tasks[name]["runs"].items()))

    days: dict[date, dict[str, Any]] = {}
    for offset in range((last - first).days + 1):
        days[first + timedelta(days=offset)] = {"rows": 0, "models": {}}
    deletions = (row for part in sums for row in part.deletions)
    for name, day, label, count in deletions:
        totals = days.setdefault(day, {"rows": 0, "models": {}})
        totals["models"][label] = totals["models"].get(label, 0) + count
        totals["rows"] += count
        task(name)["rows_deleted"] += count
    for name in tasks:
        tasks[name]["duration_seconds"] = {
            "p50": rollup_nearest_rank(buckets.get(name, {}), 50),
            "p95": rollup_nearest_rank(buckets.get(name, {}), 95),
        }
    return {
        "tasks": dict(sorted(tasks.items())),
        "rows_deleted_per_day": [{"day": day, **totals} for day, totals in sorted(days.items())],
    }


def nearest_rank(values: list[float], percent: float) -> float | None:
    """The ``percent`` percentile of the sorted ``values`` by the nearest-rank method: the value
    at rank ``ceil(percent / 100 * n)``, 1-based; ``None`` for no values."""
    if not values:
        return None
    rank = max(math.ceil(percent / 100 * len(values)), 1)
    return values[rank - 1]


def _numbers(result: Any) -> dict[str, int | float]:
    """The numeric values of a result object (booleans and non-finite floats left out)."""
    if not isinstance(result, dict):
        return {}
    return {
        str(key): value
        for key, value in result.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


# -- the scheduler ---------------------------------------------------------------------------------


def scheduler_status() -> dict[str, Any]:
    """The leader (host, pid, lease age, healthy or stale) and every task's job."""
    now = timezone.now()
    lease = SchedulerLease.objects.filter(name=LEASE_NAME).first()
    leader: dict[str, Any] | None = None
    if lease is not None and lease.owner:
        heartbeat = lease.heartbeat_at or lease.acquired_at
        leader = {
            "owner": lease.owner,
            "host": lease.host,
            "pid": lease.pid,
            "token": lease.token,
            "acquired_at": lease.acquired_at,
            "heartbeat_at": heartbeat,
            "expires_at": lease.expires_at,
            "lease_age_seconds": (now - heartbeat).total_seconds() if heartbeat else None,
            "healthy": lease.expires_at > now,
        }
    healthy = bool(leader and leader["healthy"])
    return {
        "now": now,
        "state": "running" if healthy else ("stale" if leader else "stopped"),
        "healthy": healthy,
        "leader": leader,
        "jobs": jobs_status(),
    }


def jobs_status() -> list[dict[str, Any]]:
    """Every task's job, as ``housekeeping status`` and the API's status show it.

    ``trigger`` is the schedule this process's settings give the task; ``leader_trigger`` the one
    in the job store, which the leader runs (``None``: no job stored); ``schedule_differs`` says
    they differ — a settings change not deployed to the scheduler process yet, say.
    """
    stored = stored_triggers()
    return [
        {
            "id": view.task.name,
            "name": view.task.description or view.task.name,
            "trigger": view.schedule,
            **_leader_schedule(view, stored),
            "next_run": view.next_run,
            "enabled": view.task.enabled,
            "paused": view.paused,
            "last_run": run_as_dict(view.last_run) if view.last_run is not None else None,
        }
        for view in task_views()
    ]


UNREADABLE_JOB = "unreadable job state"


def _leader_schedule(view: TaskView, stored: dict[str, BaseTrigger | None]) -> dict[str, Any]:
    """The job store's schedule for ``view``'s task, compared with the one these settings give:
    triggers are compared as the leader compares them when it syncs (their reprs)."""
    tz = timezone.get_default_timezone()
    try:
        planned = planned_schedule(view.task, view.state)
    except InvalidSchedule:
        planned = None  # the leader does not schedule it either
    planned_trigger = repr(planned.to_trigger(tz)) if planned is not None else None
    if view.task.name not in stored:
        return {"leader_trigger": None, "schedule_differs": planned_trigger is not None}
    trigger = stored[view.task.name]
    if trigger is None:  # unknown: not said to differ
        return {"leader_trigger": UNREADABLE_JOB, "schedule_differs": False}
    if planned is not None and repr(trigger) == planned_trigger:
        return {"leader_trigger": str(planned), "schedule_differs": False}
    return {"leader_trigger": describe_trigger(trigger, tz), "schedule_differs": True}


# -- retention policies --------------------------------------------------------------------------

# Rows due are counted up to this many (a COUNT of a LIMITed subquery, as the admin's history
# counts its runs); beyond it a face says "more than".
ROWS_DUE_LIMIT = 10_000


def capped_count(queryset: QuerySet[Any], limit: int) -> int:
    """The rows ``queryset`` selects, counted up to ``limit + 1``: what a ``COUNT(*)`` of a
    ``LIMIT``ed, unordered subquery costs, however large the table. The admin's history
    paginator and the policies' rows due both count so."""
    return queryset.order_by()[: limit + 1].count()


def count_display(count: int, limit: int) -> dict[str, Any]:
    """``{"count", "capped", "text"}``: the number, whether it hit ``limit`` (``count`` is then
    ``limit``), and ``"1,234"`` or ``"more than 10,000"``."""
    capped = count > limit
    shown = min(count, limit)
    return {
        "count": shown,
        "capped": capped,
        "text": f"more than {shown:,}" if capped else f"{shown:,}",
    }


def window_payload(
    policy: RetentionPolicy, window: Window, now: datetime, *, alone: bool = False
) -> dict[str, Any]:
    """One window of a policy as the faces show it, with its cutoff at ``now``; ``rows`` says
    which rows it applies to (``"every row"`` when ``alone``, the policy's one window)."""
    if not window.default:
        rows = f"{policy.keep_by}={window.value!r}"
    else:
        rows = "every row" if alone else "every other row"
    return {
        "rows": rows,
        "default": window.default,
        "value": window.value,
        "keep": describe_window(window.keep),
        "keep_seconds": window.keep.total_seconds(),
        "cutoff": window.cutoff(now),
        "source": window.source,
    }


def delete_receivers(labels: Iterable[str]) -> list[dict[str, Any]]:
    """Which ``pre_delete``/``post_delete`` receivers deleting rows of the models ``labels`` name
    would call now: ``[{"model", "signal", "receivers": ["module.function", ...]}]``."""
    rows = []
    for label in sorted(set(labels)):
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            continue  # a model no longer installed
        for name, signal in (("pre_delete", pre_delete), ("post_delete", post_delete)):
            receivers = _receiver_names(signal, model)
            if receivers:
                rows.append({"model": label, "signal": name, "receivers": receivers})
    return rows


def _receiver_names(signal: ModelSignal, model: type[Model]) -> list[str]:
    if not signal.has_listeners(model):
        return []
    # Django offers no public list of a sender's receivers: its own lookup, the one send() uses.
    live = signal._live_receivers(model)
    found = [*live[0], *live[1]] if isinstance(live, tuple) else list(live)
    return [_callable_name(receiver) for receiver in found]


def _callable_name(receiver: Any) -> str:
    target = getattr(receiver, "__func__", receiver)
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}.{name}" if module else name


def preview_payload(run: TaskRun, run_url: RunUrl | None = None) -> dict[str, Any]:
    """A policy's dry run as its preview: :func:`run_payload`, and the delete receivers that the
    models it would delete rows of have (``receivers``)."""
    data = run_payload(run, run_url)
    deleting = [row["model"] for row in data["details"]["models"] if row["deleted"]]
    data["receivers"] = delete_receivers(deleting)
    return data


def _latest(name: str, *, dry_run: bool) -> TaskRun | None:
    """The latest run of ``name``, on its own or as a member of a group (the way a site's daily
    group runs its policies)."""
    return (
        TaskRun.objects.select_related("triggered_by")
        .filter(task_name=name, dry_run=dry_run)
        .order_by("-started_at", "-id")
        .first()
    )


def policies_payload(
    run_url: RunUrl | None = None, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Every retention policy as the admin, the dashboard and the API show it: its windows in
    effect (settings applied) with their cutoffs at ``now``, the rows due now (counted up to
    :data:`ROWS_DUE_LIMIT`), the rows due that a legal hold names, its schedule,
    next run, last real run and latest dry run (``preview``, with its delete receivers)."""
    now = now or timezone.now()
    found = list(policies())
    if not found:
        return []
    views = {view.task.name: view for view in task_views()}
    payload = []
    for task, policy in found:
        view = views[task.name]
        windows = policy.windows(task.override)
        rows_due = policy.due(now, windows)
        due = count_display(capped_count(rows_due, ROWS_DUE_LIMIT), ROWS_DUE_LIMIT)
        held = holds.count_held(rows_due)
        last_run = _latest(task.name, dry_run=False)
        preview = _latest(task.name, dry_run=True)
        payload.append(
            {
                "name": task.name,
                "description": task.description,
                "model": policy.label,
                "field": policy.field,
                "keep_by": policy.keep_by,
                "windows": [
                    window_payload(policy, window, now, alone=len(windows) == 1)
                    for window in windows
                ],
                "rows_due": due,
                "held_in_scope": held,
                "held_text": f"{held:,}",
                "schedule": view.schedule,
                "enabled": task.enabled,
                "paused": view.paused,
                "next_run": view.next_run,
                "last_run": run_payload(last_run, run_url) if last_run is not None else None,
                "preview": preview_payload(preview, run_url) if preview is not None else None,
            }
        )
    return payload
