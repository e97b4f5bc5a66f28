"""``run_task``: the single execution path for every entry point.

The scheduler, the command line, the admin, the API and the dashboard all call :func:`run_task`. It
records a :class:`~django_housekeeping.models.TaskRun`, executes the task (or the members of a
group), stores the JSON result or the traceback, and sends the public signals.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import traceback
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, router, transaction
from django.utils import timezone

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.context import TaskContext
from django_housekeeping.models import TaskRun
from django_housekeeping.registry import HousekeepingTask, registry
from django_housekeeping.signals import task_failed, task_finished, task_started

logger = logging.getLogger("django_housekeeping")

Status = TaskRun.Status


class SlotAlreadyClaimed(IntegrityError):
    """Another process already recorded a run for this task and slot."""


def run_task(
    name: str,
    *,
    dry_run: bool = False,
    trigger: str = TaskRun.Trigger.MANUAL,
    user: AbstractBaseUser | AnonymousUser | None = None,
    slot: datetime | None = None,
) -> TaskRun:
    """Run the task called ``name`` (a task, a group or ``"all"``) and return its TaskRun.

    Raises :class:`~django_housekeeping.registry.NotRegistered` for an unknown name. Whatever the
    task raises is recorded on the returned run (status ``failed``, full traceback), never lost.
    """
    task = registry.get(name)
    if trigger not in TaskRun.Trigger.values:
        raise ValueError(f"unknown trigger {trigger!r}; valid: {', '.join(TaskRun.Trigger.values)}")
    return _execute(
        task,
        dry_run=dry_run,
        trigger=trigger,
        user=user if isinstance(user, AbstractBaseUser) else None,
        slot=slot,
        now=slot,
        parent=None,
        ancestors=(),
    )


def _execute(
    task: HousekeepingTask,
    *,
    dry_run: bool,
    trigger: str,
    user: AbstractBaseUser | None,
    slot: datetime | None,
    now: datetime | None,
    parent: TaskRun | None,
    ancestors: tuple[str, ...],
) -> TaskRun:
    started_at = timezone.now()
    run = TaskRun(
        task_name=task.name,
        slot=slot,
        trigger=trigger,
        triggered_by=user,  # type: ignore[misc]  # AUTH_USER_MODEL may be any user model
        parent=parent,
        dry_run=dry_run,
        started_at=started_at,
        heartbeat_at=started_at,
        host=socket.gethostname()[:255],
        pid=os.getpid(),
    )
    running = _running_run(task, started_at)
    if running is not None:
        run.status = Status.SKIPPED
        _insert(run)
        run.finish(
            Status.SKIPPED,
            result={"reason": "already running", "running_run_id": running.pk},
        )
        logger.info("Skipped %s: run #%s is still running", task.name, running.pk)
        task_finished.send(sender=task, run=run)
        return run
    _insert(run)
    logger.info("Started %s (run #%s, %s%s)", task.name, run.pk, trigger, ", dry run" * dry_run)

    exception: BaseException | None = None
    try:
        # Inside the try: a receiver that raises fails this run instead of leaving it "running".
        task_started.send(sender=task, run=run)
        if task.is_group:
            result, status = _run_members(
                task, run, user=user, now=now or started_at, ancestors=(*ancestors, task.name)
            )
        else:
            with _savepoint_if_in_transaction():
                result = _call(task, run, now=now or started_at)
            status = Status.SUCCEEDED
        _check_json(result)
        error = ""
    except BaseException as exc:
        exception = exc
        result, status, error = None, Status.FAILED, traceback.format_exc()
    run.finish(status, result=result, error=error)

    if status == Status.FAILED:
        logger.error(
            "Failed %s (run #%s)%s",
            task.name,
            run.pk,
            f"\n{error}" if error else f": failed members: {', '.join((result or {})['failed'])}",
        )
        task_failed.send(sender=task, run=run, exception=exception)
    else:
        logger.info("Finished %s (run #%s): %s", task.name, run.pk, status)
    task_finished.send(sender=task, run=run)
    if exception is not None and not isinstance(exception, Exception):
        raise exception  # KeyboardInterrupt, SystemExit: recorded, then let through
    return run


def _insert(run: TaskRun) -> None:
    """Insert the run's row: for a scheduled run, this claims its slot.

    A slot another process claimed first raises :class:`SlotAlreadyClaimed` (an
    ``IntegrityError``); the savepoint keeps a caller's open transaction usable after it.
    """
    try:
        with _savepoint_if_in_transaction():
            run.save(force_insert=True)
    except IntegrityError as exc:
        if run.slot is None:
            raise
        raise SlotAlreadyClaimed(f"slot {run.slot} of {run.task_name} is already claimed") from exc


def _savepoint_if_in_transaction() -> AbstractContextManager[Any]:
    """A savepoint when the caller holds a transaction open, else nothing.

    Inside an outer ``atomic`` block (``ATOMIC_REQUESTS``, a test case, a caller's own
    transaction), a database error in the task would leave the transaction unusable and the run
    could not be recorded as failed. Rolling back to the savepoint undoes the task's writes and
    keeps the transaction usable. Outside a transaction the task runs in autocommit, so a long
    purge is not one long transaction.
    """
    using = router.db_for_write(TaskRun)
    if transaction.get_connection(using).in_atomic_block:
        return transaction.atomic(using=using)
    return nullcontext()


def _call(task: HousekeepingTask, run: TaskRun, *, now: datetime) -> Any:
    assert task.func is not None
    if not task.takes_context:
        return task.func()
    context = TaskContext(task=task, run=run, now=now, dry_run=run.dry_run, options=task.options)
    return task.func(context)


def _run_members(
    group: HousekeepingTask,
    run: TaskRun,
    *,
    user: AbstractBaseUser | None,
    now: datetime,
    ancestors: tuple[str, ...],
) -> tuple[dict[str, Any], str]:
    """Run each member in turn; one member failing does not stop the others."""
    outcomes: dict[str, Any] = {}
    failed: list[str] = []
    for member_name in group.members:
        if member_name in ancestors:
            raise RecursionError(f"group {group.name!r} contains itself through {member_name!r}")
        member = registry.get(member_name)
        if not member.enabled and group.name != "all":
            outcomes[member_name] = {"status": Status.SKIPPED.value, "reason": "disabled"}
            continue
        member_run = _execute(
            member,
            dry_run=run.dry_run,
            trigger=run.trigger,
            user=user,
            slot=None,
            now=now,
            parent=run,
            ancestors=ancestors,
        )
        outcomes[member_name] = {
            "run_id": member_run.pk,
            "status": str(member_run.status),
            "result": member_run.result,
        }
        if member_run.status == Status.FAILED:
            failed.append(member_name)
    return {"tasks": outcomes, "failed": failed}, Status.FAILED if failed else Status.SUCCEEDED


def _running_run(task: HousekeepingTask, now: datetime) -> TaskRun | None:
    """Another run of ``task`` that is still running and not stale, if any."""
    timeout = task.timeout or housekeeping_settings.DEFAULT_TIMEOUT
    return (
        TaskRun.objects.filter(
            task_name=task.name,
            status=Status.RUNNING,
            heartbeat_at__gte=now - timedelta(seconds=timeout),
        )
        .order_by("-started_at")
        .first()
    )


def _check_json(result: Any) -> None:
    try:
        # allow_nan=False: NaN and Infinity are not JSON, and databases refuse them.
        json.dumps(result, cls=DjangoJSONEncoder, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"a task's result must be JSON-serializable: {exc}") from exc
