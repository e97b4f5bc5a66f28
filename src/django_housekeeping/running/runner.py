"""``run_task``: the single execution path for every entry point.

The scheduler, the command line, the admin, the API and the dashboard all run tasks through this
module. :func:`run_task` records a :class:`~django_housekeeping.models.TaskRun`, executes the task
(or the members of a group), stores the JSON result or the traceback, and sends the public signals.

:func:`start_runs` is how a person's request starts runs without executing them in the request: it
records each run ``queued`` first (so the caller knows its id at once), then a background thread
executes it through the very same code as :func:`run_task`. With ``HOUSEKEEPING["EXECUTOR"] =
"django_tasks"`` the run is enqueued on Django's Tasks framework instead (:func:`enqueue_run`, the
run's id in the message), and a worker on any host executes it (:func:`run_queued`); scheduled
slots take the same way (:func:`queue_run`).

One run of a task at a time, across every process: a run claims "the active run of its task" when
its row is inserted (the unique ``active_task`` column, set while the run is queued or running)
and releases it in the statement that records its outcome. A run whose process died keeps the
claim until its heartbeat is older than ``HEARTBEAT_TIMEOUT``; then it is marked ``interrupted``
(:mod:`django_housekeeping.running.heartbeats`) and the claim is free. The loser of a claim is
refused with :class:`AlreadyRunning` (:func:`start_runs`, or ``run_task(...,
if_running="raise")``) or recorded ``skipped`` with the reason (the scheduler's slots, a group's
members).

The insert that claims, and the move of a queued run to running, are in
:mod:`django_housekeeping.running.claims`.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from time import monotonic, sleep
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import (
    OperationalError,
    connections,
    router,
    transaction,
)

from django_housekeeping import tracing
from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.models import TaskRun, deletion_counts
from django_housekeeping.running import cancel, claims
from django_housekeeping.running.claims import SlotAlreadyClaimed
from django_housekeeping.running.heartbeats import beating, fail_queued
from django_housekeeping.running.reconnect import drop_broken_connection, is_deadlock
from django_housekeeping.signals import task_failed, task_finished, task_started
from django_housekeeping.tasks.context import TaskContext
from django_housekeeping.tasks.order import in_order
from django_housekeeping.tasks.registry import NotRegistered, registry
from django_housekeeping.tasks.stopping import cancel_requested, check_timeout
from django_housekeeping.tasks.task import HousekeepingTask

__all__ = [
    "AlreadyRunning",
    "DispatchedRun",
    "IfRunning",
    "SlotAlreadyClaimed",
    "dispatch_run",
    "enqueue_run",
    "queue_run",
    "run_queued",
    "run_task",
    "start_runs",
    "uses_executor",
    "wait_for_dispatched_runs",
]

logger = logging.getLogger("django_housekeeping")

Status = TaskRun.Status


class AlreadyRunning(Exception):
    """A run of the task is already queued or running (and its process is alive)."""

    def __init__(self, task_name: str, running: TaskRun) -> None:
        self.task_name = task_name
        self.running = running
        super().__init__(
            f"{task_name} is already {running.status} (run #{running.pk}, started "
            f"{running.started_at.isoformat()})"
        )


IfRunning = Literal["skip", "raise"]


@dataclass(frozen=True)
class DispatchedRun:
    """A run :func:`start_runs` recorded and handed to a background thread of this process, or
    (``thread`` is ``None``) enqueued for a worker of Django's Tasks framework."""

    run: TaskRun
    thread: threading.Thread | None

    @property
    def started(self) -> bool:
        """Whether the thread has started (it starts when the caller's transaction commits);
        always for an enqueued run."""
        return self.thread is None or self.thread.ident is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for the run to end; ``True`` if it ended.

        ``run`` is refreshed from the database either way. A thread that has not started (the
        caller's transaction is still open) is not waited for; an enqueued run is watched in the
        database, wherever a worker executes it.
        """
        if self.thread is None:
            deadline = None if timeout is None else monotonic() + timeout
            while True:
                self.run.refresh_from_db()
                if self.run.is_finished:
                    return True
                if deadline is not None and monotonic() >= deadline:
                    return False
                sleep(WATCH_INTERVAL)
        if self.started:
            self.thread.join(timeout)
        self.run.refresh_from_db()
        return self.started and not self.thread.is_alive()


# How often DispatchedRun.wait() reads an enqueued run's status.
WATCH_INTERVAL = 0.2

# Threads started by start_runs() in this process and not finished yet.
_dispatched: set[threading.Thread] = set()
_dispatched_lock = threading.Lock()


def run_task(
    name: str | HousekeepingTask,
    *,
    dry_run: bool = False,
    trigger: str = TaskRun.Trigger.MANUAL,
    user: AbstractBaseUser | AnonymousUser | None = None,
    slot: datetime | None = None,
    if_running: IfRunning = "skip",
) -> TaskRun:
    """Run the task ``name`` (a task or its name, a group or ``"all"``) here; return its TaskRun.

    Raises :class:`~django_housekeeping.tasks.registry.NotRegistered` for an unknown name.
    Whatever the task raises is recorded on the returned run (status ``failed``, full traceback),
    never lost.
    While another run of the task is active, the run is recorded ``skipped`` with the reason, or
    with ``if_running="raise"`` refused with :class:`AlreadyRunning` and not recorded.
    """
    task = name if isinstance(name, HousekeepingTask) else registry.get(name)
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
        if_running=if_running,
    )


def start_runs(
    names: Iterable[str],
    *,
    dry_run: bool = False,
    trigger: str = TaskRun.Trigger.MANUAL,
    user: AbstractBaseUser | AnonymousUser | None = None,
) -> list[DispatchedRun]:
    """Record a run of each named task and execute them in background threads, or with
    ``HOUSEKEEPING["EXECUTOR"] = "django_tasks"`` enqueue them for the Tasks framework's workers.

    Returns at once with the recorded runs (status ``queued``), in the order of ``names``
    (duplicates dropped). All or nothing: an unknown name raises
    :class:`~django_housekeeping.tasks.registry.NotRegistered` and a task that already has an active
    run raises :class:`AlreadyRunning`, and no run is recorded. Each run is executed like one of
    :func:`run_task` (the same signals, history and error handling); its thread starts when the
    caller's transaction commits (at once in autocommit) and closes its database connections
    when it ends.
    """
    if trigger not in TaskRun.Trigger.values:
        raise ValueError(f"unknown trigger {trigger!r}; valid: {', '.join(TaskRun.Trigger.values)}")
    tasks = [registry.get(name) for name in dict.fromkeys(names)]
    if not tasks:
        raise ValueError("start_runs() needs at least one task name")
    owner = user if isinstance(user, AbstractBaseUser) else None
    using = router.db_for_write(TaskRun)
    for attempt in range(1, claims.DEADLOCK_ATTEMPTS + 1):
        try:
            dispatched = _record_queued(tasks, dry_run=dry_run, trigger=trigger, owner=owner)
            break
        except OperationalError as exc:
            # A deadlock rolled the whole transaction back: record the runs again, unless the
            # transaction is the caller's (it is lost; the caller's error to handle).
            if attempt == claims.DEADLOCK_ATTEMPTS or not is_deadlock(exc):
                raise
            if connections[using].in_atomic_block:
                raise
            logger.info(
                "A deadlock while recording runs of %s; trying again", [t.name for t in tasks]
            )
    for item in dispatched:
        if item.thread is None:
            transaction.on_commit(partial(enqueue_run, item.run.pk), using=using)
        else:
            transaction.on_commit(partial(_start, item.thread), using=using)
    return dispatched


def _record_queued(
    tasks: list[HousekeepingTask],
    *,
    dry_run: bool,
    trigger: str,
    owner: AbstractBaseUser | None,
) -> list[DispatchedRun]:
    """Record a queued run of each task in one transaction: all of them, or none."""
    dispatched = []
    via_executor = uses_executor()
    # Each insert claims its task's active run (one statement, whatever other process tries the
    # same); the transaction records all the runs or none.
    with transaction.atomic(using=router.db_for_write(TaskRun)):
        for task in tasks:
            run = claims.new_run(
                task,
                dry_run=dry_run,
                trigger=trigger,
                user=owner,
                slot=None,
                parent=None,
                status=Status.QUEUED,
                enqueued=via_executor,
            )
            holder = claims.claim(run)
            if holder is not None:
                raise AlreadyRunning(task.name, holder)
            if via_executor:
                dispatched.append(DispatchedRun(run, None))
                continue
            thread = threading.Thread(
                target=_run_in_thread,
                args=(task, run.pk, owner),
                name=f"housekeeping-run-{run.pk}",
                daemon=True,
            )
            dispatched.append(DispatchedRun(run, thread))
    return dispatched


# -- the "django_tasks" executor: runs recorded here, executed by a worker ------------------------


def uses_executor() -> bool:
    """Whether runs go through Django's Tasks framework (``EXECUTOR = "django_tasks"``)."""
    return housekeeping_settings.EXECUTOR == "django_tasks"


def queue_run(
    task: HousekeepingTask,
    *,
    trigger: str,
    slot: datetime | None = None,
    user: AbstractBaseUser | None = None,
    dry_run: bool = False,
    attempt: int = 1,
    retry_of: TaskRun | None = None,
) -> TaskRun | None:
    """Record a run ``queued`` for the executor and hand it over (:func:`dispatch_run`).

    Its insert claims the slot (and attempt) and the task's active run, as :func:`run_task`'s
    does: :class:`SlotAlreadyClaimed` when another process recorded this slot's attempt first.
    While another run of the task is active, a scheduled slot is recorded ``skipped`` (returned)
    and a retry is not recorded (``None``: the next tick tries again).
    """
    run = claims.new_run(
        task,
        dry_run=dry_run,
        trigger=trigger,
        user=user,
        slot=slot,
        parent=None,
        status=Status.QUEUED,
        enqueued=uses_executor(),
        attempt=attempt,
        retry_of=retry_of,
    )
    holder = claims.claim(run)
    if holder is not None:
        if retry_of is not None:
            return None
        run.enqueued_at = None
        return _record_skipped(task, run, holder)
    dispatch_run(run)
    return run


def dispatch_run(run: TaskRun) -> None:
    """Execute a recorded ``queued`` run outside the caller: enqueue it on the Tasks framework
    (``"django_tasks"``), or start a thread of this process (``"thread"``); either once the
    caller's transaction commits."""
    using = router.db_for_write(TaskRun)
    if run.enqueued_at is not None:
        transaction.on_commit(partial(enqueue_run, run.pk), using=using)
        return
    task = registry.get(run.task_name)
    thread = threading.Thread(
        target=_run_in_thread,
        args=(task, run.pk, run.triggered_by),
        name=f"housekeeping-run-{run.pk}",
        daemon=True,
    )
    transaction.on_commit(partial(_start, thread), using=using)


def enqueue_run(run_id: int) -> bool:
    """Enqueue the recorded ``queued`` run on ``EXECUTOR_BACKEND`` / ``EXECUTOR_QUEUE``.

    A backend that refuses it (the broker is down, the queue is unknown) does not raise: the run
    is recorded ``failed`` with the reason (and ``task_failed`` sent), which frees its task, and
    ``False`` returned. Nothing is lost silently.
    """
    try:
        # Imported when used: Django's Tasks framework is an optional dependency, and defining
        # the task reads settings.TASKS.
        from django_housekeeping.running.workers import enqueue

        enqueue(run_id)
    except Exception as exc:
        reason = "".join(traceback.format_exception_only(exc)).strip()
        backend = housekeeping_settings.EXECUTOR_BACKEND
        queue = housekeeping_settings.EXECUTOR_QUEUE
        error = (
            f"Could not enqueue the run on the {backend!r} backend of TASKS (queue "
            f"{queue!r}): {reason}"
        )
        logger.error("Run #%s: %s", run_id, error)
        fail_queued(run_id, error)
        return False
    return True


def run_queued(run_id: int) -> TaskRun | None:
    """Execute the queued run ``run_id`` here: what a worker of the Tasks framework calls.

    The run is claimed in one ``UPDATE ... WHERE status = 'queued'``, so that a message delivered
    twice, a broker's retry or a run that already ended (or was given up) never executes again;
    then it runs like any other (:func:`run_task`'s path). Returns the run, or ``None`` for an id
    that is not in the history (pruned).
    """
    run = TaskRun.objects.select_related("triggered_by").filter(pk=run_id).first()
    if run is None:
        logger.warning("Run #%s is not in the history; nothing to run", run_id)
        return None
    if run.status != Status.QUEUED:
        logger.warning(
            "Run #%s of %s is already %s; not running it", run.pk, run.task_name, run.status
        )
        return run
    try:
        task = registry.get(run.task_name)
    except NotRegistered:
        fail_queued(run.pk, f"Task {run.task_name!r} is not registered in this worker.")
        run.refresh_from_db()
        return run
    if not claims.start_queued(run):
        run.refresh_from_db()
        return run
    return _perform(task, run, user=run.triggered_by, now=run.slot or run.started_at, ancestors=())


def _start(thread: threading.Thread) -> None:
    with _dispatched_lock:
        _dispatched.add(thread)
    thread.start()


def wait_for_dispatched_runs(timeout: float | None = None) -> bool:
    """Wait for the runs :func:`start_runs` started in this process; ``True`` if none is left.

    For a graceful shutdown, and for tests that must not end while a run still writes.
    """
    deadline = None if timeout is None else monotonic() + timeout
    while True:
        with _dispatched_lock:
            threads = list(_dispatched)
        if not threads:
            return True
        for thread in threads:
            remaining = None if deadline is None else deadline - monotonic()
            if remaining is not None and remaining <= 0:
                return False
            thread.join(remaining)
            if thread.is_alive():
                return False
            with _dispatched_lock:
                _dispatched.discard(thread)


def _run_in_thread(task: HousekeepingTask, run_id: int, user: AbstractBaseUser | None) -> None:
    try:
        # The thread's own instance: the caller keeps the one start_runs returned.
        run = TaskRun.objects.get(pk=run_id)
        if claims.start_queued(run):
            _perform(task, run, user=user, now=run.started_at, ancestors=())
    except BaseException:  # recorded on the run by _perform; a thread has nobody to raise to
        logger.exception("Run #%s of %s was interrupted", run_id, task.name)
    finally:
        connections.close_all()
        with _dispatched_lock:
            _dispatched.discard(threading.current_thread())


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
    if_running: IfRunning = "skip",
) -> TaskRun:
    run = claims.new_run(
        task, dry_run=dry_run, trigger=trigger, user=user, slot=slot, parent=parent
    )
    holder = claims.claim(run)
    if holder is None:
        return _perform(task, run, user=user, now=now or run.started_at, ancestors=ancestors)
    if if_running == "raise":
        raise AlreadyRunning(task.name, holder)
    return _record_skipped(task, run, holder)


def _record_skipped(task: HousekeepingTask, run: TaskRun, holder: TaskRun) -> TaskRun:
    """Record ``run`` skipped because ``holder`` is active: inserted (for a scheduled run, this
    claims its slot) with no claim of the active run, finished at once."""
    run.status, run.active_task = Status.SKIPPED, None
    claims.insert_run(run)
    _save_outcome(
        task,
        run,
        Status.SKIPPED,
        result={"reason": f"already {holder.status}", "running_run_id": holder.pk},
    )
    logger.info("Skipped %s: run #%s is still %s", task.name, holder.pk, holder.status)
    task_finished.send(sender=task, run=run)
    return run


def _perform(
    task: HousekeepingTask,
    run: TaskRun,
    *,
    user: AbstractBaseUser | None,
    now: datetime,
    ancestors: tuple[str, ...],
) -> TaskRun:
    """Execute a recorded (status ``running``) run and record how it ended, in its span."""
    with tracing.run_span(
        task=task.name,
        run_id=run.pk,
        trigger=run.trigger,
        dry_run=run.dry_run,
        carried=run.trace_context,
    ) as span:
        return _perform_run(task, run, span, user=user, now=now, ancestors=ancestors)


def _perform_run(
    task: HousekeepingTask,
    run: TaskRun,
    span: tracing.RunSpan,
    *,
    user: AbstractBaseUser | None,
    now: datetime,
    ancestors: tuple[str, ...],
) -> TaskRun:
    logger.info(
        "Started %s (run #%s, %s%s)", task.name, run.pk, run.trigger, ", dry run" * run.dry_run
    )

    exception: BaseException | None = None
    with beating(run):
        try:
            # Inside the try: a receiver that raises fails this run instead of leaving it
            # "running".
            task_started.send(sender=task, run=run)
            if task.is_group:
                result, status = _run_members(
                    task, run, user=user, now=now, ancestors=(*ancestors, task.name)
                )
            else:
                with claims.savepoint_if_in_transaction():
                    result = _call(task, run, now=now)
                status = Status.SUCCEEDED
            _check_json(result)
            error = ""
        except BaseException as exc:
            exception = exc
            result, status, error = None, Status.FAILED, traceback.format_exc()
            stopped = cancel.ending(run, exc)  # cancelled, or timed out: with what it deleted
            if stopped is not None:
                status, result, error = stopped
                exception = None if status == Status.CANCELLED else exc
        _save_outcome(task, run, status, result=result, error=error)
    counts = deletion_counts(result)
    span.finish(status=status, rows=sum(counts.values()) if counts else None, exception=exception)

    if status == Status.FAILED:
        if exception is not None:
            reason = "".join(traceback.format_exception_only(exception)).strip().splitlines()[0]
        else:
            reason = f"failed members: {', '.join((result or {})['failed'])}"
        logger.error(
            "Failed %s (run #%s): %s%s", task.name, run.pk, reason, f"\n{error}" * bool(error)
        )
        task_failed.send(sender=task, run=run, exception=exception, reason=reason)
    else:
        logger.info("Finished %s (run #%s): %s", task.name, run.pk, status)
    task_finished.send(sender=task, run=run)
    if exception is not None and not isinstance(exception, Exception):
        raise exception  # KeyboardInterrupt, SystemExit: recorded, then let through
    return run


def _save_outcome(
    task: HousekeepingTask, run: TaskRun, status: str, *, result: Any = None, error: str = ""
) -> None:
    """Save how the run ended; if the database connection broke meanwhile (outside a caller's
    transaction), once more on a new connection, so the run is not left ``running``."""
    try:
        run.finish(status, result=result, error=error)
    except Exception as exc:
        if not drop_broken_connection(exc):
            raise
        run.finish(status, result=result, error=error)
        logger.warning(
            "Saved the outcome of %s (run #%s: %s) on a new database connection; the first "
            "attempt failed: %s",
            task.name,
            run.pk,
            status,
            exc,
        )


def _call(task: HousekeepingTask, run: TaskRun, *, now: datetime) -> Any:
    assert task.func is not None
    if not task.takes_context:
        result = task.func()
        check_timeout(task, run, {})  # it reported no progress: judged at its end
        return result
    context = TaskContext(task=task, run=run, now=now, dry_run=run.dry_run, options=task.options)
    result = task.func(context)
    check_timeout(task, run, context.deleted)
    return result


def _run_members(
    group: HousekeepingTask,
    run: TaskRun,
    *,
    user: AbstractBaseUser | None,
    now: datetime,
    ancestors: tuple[str, ...],
) -> tuple[dict[str, Any], str]:
    """Run each member in turn, in their declared order; one member failing does not stop the
    others, a cancel of the group's run stops it after the current member."""
    outcomes: dict[str, Any] = {}
    failed: list[str] = []
    for member_name in in_order(group.members):
        if cancel_requested(run.pk):
            return cancel.group_cancelled(outcomes, failed), Status.CANCELLED
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


def _check_json(result: Any) -> None:
    try:
        # allow_nan=False: NaN and Infinity are not JSON, and databases refuse them.
        json.dumps(result, cls=DjangoJSONEncoder, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"a task's result must be JSON-serializable: {exc}") from exc
