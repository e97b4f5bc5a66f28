"""Recording a run's row, and claiming with it what only one run may hold.

A run's insert claims its task's active run (the unique ``active_task`` column) and, for a
scheduled run, its slot (``task_name``, ``slot``, ``attempt``): :func:`claim` inserts it, takes the
claim over from a holder whose heartbeat stopped, and tries again when the database picks the
insert as a deadlock's victim. :func:`start_queued` moves a recorded ``queued`` run to ``running``
in the process that executes it. The run path (:mod:`django_housekeeping.running.runner`) calls
these; its public exceptions stay importable from there.
"""

from __future__ import annotations

import logging
import os
import socket
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    connections,
    router,
    transaction,
)
from django.utils import timezone

from django_housekeeping import tracing
from django_housekeeping.models import TaskRun, TaskStateChange
from django_housekeeping.running.heartbeats import is_stale, mark_interrupted
from django_housekeeping.running.reconnect import is_deadlock
from django_housekeeping.tasks.task import HousekeepingTask

logger = logging.getLogger("django_housekeeping")

Status = TaskRun.Status

# How often recording a run is tried when the database picks it as a deadlock's victim.
DEADLOCK_ATTEMPTS = 3


class SlotAlreadyClaimed(IntegrityError):
    """Another process already recorded a run for this task and slot."""


def new_run(
    task: HousekeepingTask,
    *,
    dry_run: bool,
    trigger: str,
    user: AbstractBaseUser | None,
    slot: datetime | None,
    parent: TaskRun | None,
    status: str = Status.RUNNING,
    enqueued: bool = False,
    attempt: int = 1,
    retry_of: TaskRun | None = None,
) -> TaskRun:
    started_at = timezone.now()
    return TaskRun(
        task_name=task.name,
        slot=slot,
        trigger=trigger,
        triggered_by=user,  # type: ignore[misc]  # AUTH_USER_MODEL may be any user model
        parent=parent,
        dry_run=dry_run,
        status=status,
        started_at=started_at,
        heartbeat_at=started_at,
        host=socket.gethostname()[:255],
        pid=os.getpid(),
        active_task=task.name,
        attempt=attempt,
        retry_of=retry_of,
        enqueued_at=started_at if enqueued else None,
        # A scheduled run names who last resumed or rescheduled its task (docs/permissions.md).
        state_change=TaskStateChange.latest(task.name)
        if trigger == "schedule" and not parent
        else None,
        # A queued run continues the trace of the code that queued it, wherever it executes.
        trace_context=tracing.carrier() if status == Status.QUEUED else None,
    )


def claim(run: TaskRun) -> TaskRun | None:
    """Insert ``run``, claiming its task's active run (and its slot, if it has one).

    Returns ``None`` when the run is recorded, or the run that holds the claim. A holder whose
    heartbeat stopped is marked ``interrupted`` first, and the claim taken over. A slot that
    another process recorded first raises :class:`SlotAlreadyClaimed`. An insert the database
    picks as a deadlock's victim (InnoDB, when processes insert the same active task while
    another run of it ends) is tried again, outside a caller's transaction (inside, the whole
    transaction is lost: the caller's to handle, as
    :func:`~django_housekeeping.running.runner.start_runs` does).
    """
    error: DatabaseError
    for _attempt in range(DEADLOCK_ATTEMPTS):
        try:
            insert_run(run)
            return None
        except SlotAlreadyClaimed:
            raise
        except IntegrityError as exc:
            error = exc
        except OperationalError as exc:
            if not is_deadlock(exc) or connections[router.db_for_write(TaskRun)].in_atomic_block:
                raise
            logger.info("A deadlock while recording a run of %s; trying again", run.task_name)
            run.pk, error = None, exc
            continue
        holder = TaskRun.objects.filter(active_task=run.task_name).first()
        if holder is None:
            continue  # it ended between our insert and this read: try again
        if is_stale(holder):
            mark_interrupted(run_id=holder.pk)
            continue
        return holder
    raise error


def insert_run(run: TaskRun) -> None:
    """Insert the run's row: this claims its task's active run and, for a scheduled run, its slot.

    A slot another process claimed first raises :class:`SlotAlreadyClaimed` (an
    ``IntegrityError``); the savepoint keeps a caller's open transaction usable after it.
    """
    try:
        with savepoint_if_in_transaction():
            run.save(force_insert=True)
    except IntegrityError as exc:
        run.pk = None
        if (
            run.slot is not None
            and TaskRun.objects.filter(
                task_name=run.task_name, slot=run.slot, attempt=run.attempt
            ).exists()
        ):
            raise SlotAlreadyClaimed(
                f"slot {run.slot} of {run.task_name} is already claimed"
            ) from exc
        raise


def savepoint_if_in_transaction() -> AbstractContextManager[Any]:
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


def start_queued(run: TaskRun) -> bool:
    """Move a queued run to ``running`` in this process; ``False`` if it is no longer queued
    (marked interrupted meanwhile, say): then it is not executed."""
    now = timezone.now()
    host, pid = socket.gethostname()[:255], os.getpid()
    started = TaskRun.objects.filter(pk=run.pk, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=now, heartbeat_at=now, host=host, pid=pid
    )
    if not started:
        logger.warning("Run #%s of %s is no longer queued; not running it", run.pk, run.task_name)
        return False
    run.status, run.started_at, run.heartbeat_at, run.host, run.pid = (
        Status.RUNNING,
        now,
        now,
        host,
        pid,
    )
    return True
