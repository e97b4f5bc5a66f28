"""A run as every face shows it: the plain dict of the command line, and the payload the
dashboard and the API serve (the API's ``RunSerializer`` declares that payload's shape)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_housekeeping.models import TaskRun
from django_housekeeping.presenters.results import progress_note, result_details
from django_housekeeping.running.cancel import Cancelled
from django_housekeeping.running.control import Conflict

# The largest primary key a database stores: a larger one in a URL is simply not found.
MAX_PK = 2**63 - 1


RunUrl = Callable[[int], str]


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
        "note": progress_note(run) if not run.is_finished else None,
    }
    data["heartbeat_at"] = run.heartbeat_at
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


# -- what the control layer's actions on runs answer -----------------------------------------------


def trigger_payload(
    outcome: str,
    names: list[str],
    dry_run: bool,
    runs: list[TaskRun],
    run_url: RunUrl | None = None,
) -> dict[str, Any]:
    """Runs started (the API's and the dashboard's trigger): ``status`` (``accepted`` while they
    run, else how they ended: ``outcome``), the tasks asked for, the runs and each finished run's
    result by task name."""
    return {
        "status": outcome,
        "tasks": names,
        "dry_run": dry_run,
        "runs": [run_payload(run, run_url) for run in runs],
        "results": {run.task_name: run.result for run in runs if run.is_finished},
    }


def cancel_payload(done: Cancelled, run_url: RunUrl | None = None) -> dict[str, Any]:
    """A cancel the control layer recorded: what happened, whether the run already ended (a
    queued one) and the run."""
    return {"detail": done.detail, "ended": done.ended, "run": run_payload(done.run, run_url)}


def conflict_payload(exc: Conflict, run_url: RunUrl | None = None) -> dict[str, Any]:
    """A trigger refused because the task already has an active run (409), with that run."""
    return {
        "detail": exc.message,
        "task": exc.task_name,
        "running_run": run_payload(exc.running, run_url),
    }
