"""Heartbeats: how a run shows that its process is alive, and what happens when it stops.

While a run executes, one thread per process refreshes ``heartbeat_at`` of every run this process
executes, every ``HOUSEKEEPING["HEARTBEAT_INTERVAL"]`` seconds, in one ``UPDATE``. A run whose
heartbeat is older than ``HOUSEKEEPING["HEARTBEAT_TIMEOUT"]`` belongs to a process that died
(``kill -9``, a gunicorn worker timeout, a lost host): :func:`mark_interrupted` records it
``interrupted``, with its host and pid in the error, and releases its task's active-run claim so
the task's next run is not blocked. The scheduler's leader calls it on every tick; a run that
finds a stale run of its task in the way calls it for that run.

A run enqueued on Django's Tasks framework (the ``"django_tasks"`` executor) has no process while it
waits in the queue, so it does not beat then; it beats from the moment a worker starts it. One that
no worker starts within ``QUEUE_TIMEOUT`` is given up: :func:`fail_lost_runs` records it
``failed`` (the leader calls it on every tick too).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import DatabaseError, connections, router, transaction
from django.db.models import Q
from django.utils import timezone

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.models import PROGRESS_NOTE, TaskRun
from django_housekeeping.running.history import superseded
from django_housekeeping.signals import task_failed, task_finished
from django_housekeeping.tasks.registry import registry

logger = logging.getLogger("django_housekeeping")

Status = TaskRun.Status


class _Heart:
    """The heartbeat thread of this process and the runs it beats for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: set[int] = set()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._wake = threading.Event()

    def add(self, run_id: int) -> None:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's thread does not exist here
                self._runs, self._thread, self._pid = set(), None, os.getpid()
            self._runs.add(run_id)
            if self._thread is None:
                self._wake.clear()
                self._thread = threading.Thread(
                    target=self._beat_forever, name="housekeeping-heartbeat", daemon=True
                )
                self._thread.start()

    def discard(self, run_id: int) -> None:
        with self._lock:
            self._runs.discard(run_id)
            if not self._runs:
                self._wake.set()  # the thread ends now rather than after its next interval

    def _beat_forever(self) -> None:
        try:
            while True:
                self._wake.wait(float(housekeeping_settings.HEARTBEAT_INTERVAL))
                with self._lock:
                    runs = sorted(self._runs)
                    if not runs:
                        self._thread = None
                        return
                    self._wake.clear()
                self._beat(runs)
        finally:
            connections.close_all()

    @staticmethod
    def _beat(runs: list[int]) -> None:
        try:
            TaskRun.objects.filter(pk__in=runs, status__in=TaskRun.ACTIVE_STATUSES).update(
                heartbeat_at=timezone.now()
            )
        except DatabaseError as exc:
            # The next beat tries again on a new connection; a run is only interrupted after
            # HEARTBEAT_TIMEOUT without any beat.
            logger.warning("Could not refresh the heartbeat of runs %s: %s", runs, exc)
            connections[router.db_for_write(TaskRun)].close()


_heart = _Heart()


@contextmanager
def beating(run: TaskRun) -> Iterator[None]:
    """Refresh ``run``'s heartbeat from a thread while the block executes.

    Not inside a caller's transaction: another connection cannot see (or, on MariaDB, would wait
    for) the uncommitted row, and the transaction's own connection is busy with the task.
    """
    if transaction.get_connection(router.db_for_write(TaskRun)).in_atomic_block:
        yield
        return
    _heart.add(run.pk)
    try:
        yield
    finally:
        _heart.discard(run.pk)


def heartbeat_cutoff(now: datetime | None = None) -> datetime:
    """Runs whose last heartbeat is older than this are presumed dead."""
    timeout = timedelta(seconds=float(housekeeping_settings.HEARTBEAT_TIMEOUT))
    return (now or timezone.now()) - timeout


def is_stale(run: TaskRun, now: datetime | None = None) -> bool:
    """Whether the run's process is presumed dead. A run waiting in the Tasks framework's queue
    has no process yet: it is never stale (:func:`fail_lost_runs` gives it up instead)."""
    if run.status == Status.QUEUED and run.enqueued_at is not None:
        return False
    return run.heartbeat_at is None or run.heartbeat_at < heartbeat_cutoff(now)


# Runs that a process executes, or will execute at once (queued for a thread of its own): they
# beat. A run enqueued on the Tasks framework waits for a worker without beating.
_BEATING = Q(status=Status.RUNNING) | Q(status=Status.QUEUED, enqueued_at__isnull=True)


def _is_progress_note(result: object) -> bool:
    return isinstance(result, dict) and set(result) == {PROGRESS_NOTE}


def mark_interrupted(
    *, task_name: str | None = None, run_id: int | None = None, now: datetime | None = None
) -> list[TaskRun]:
    """Record every queued or running run whose heartbeat stopped as ``interrupted``.

    Limited to one task or one run when asked. Each run is updated only if it is still as it was
    read (so a run that finished meanwhile, or that another process marked first, is left alone),
    and its task's active-run claim is released in the same statement. ``task_failed`` (with the
    reason) and ``task_finished`` are sent for each, after the transaction commits.
    """
    now = now or timezone.now()
    stale = TaskRun.objects.filter(
        Q(heartbeat_at__lt=heartbeat_cutoff(now)) | Q(heartbeat_at__isnull=True), _BEATING
    )
    if task_name is not None:
        stale = stale.filter(task_name=task_name)
    if run_id is not None:
        stale = stale.filter(pk=run_id)
    marked = []
    for run in stale.order_by("pk"):
        error = interruption_message(run)
        duration = max(now - run.started_at, timedelta(0))
        # A run that died while it said what it was doing ("paused: replica lag 7 s") has no
        # result: the note was only ever its progress.
        result = None if _is_progress_note(run.result) else run.result
        updated = TaskRun.objects.filter(
            pk=run.pk, status=run.status, heartbeat_at=run.heartbeat_at
        ).update(
            status=Status.INTERRUPTED,
            active_task=None,
            finished_at=now,
            duration=duration,
            error=error,
            result=result,
        )
        if not updated:
            continue
        run.status, run.active_task, run.error = Status.INTERRUPTED, None, error
        run.result = result
        run.finished_at, run.duration = now, duration
        if superseded(run):  # found late: a later run already succeeded (no alert either)
            logger.warning(
                "Interrupted %s (run #%s), superseded by a later success: %s",
                run.task_name,
                run.pk,
                error,
            )
        else:
            logger.error("Interrupted %s (run #%s): %s", run.task_name, run.pk, error)
        transaction.on_commit(
            lambda run=run: _send_failed(run),  # type: ignore[misc]
            using=router.db_for_write(TaskRun),
        )
        marked.append(run)
    return marked


def interruption_message(run: TaskRun) -> str:
    where = f"host {run.host or '?'}, pid {run.pid if run.pid is not None else '?'}"
    last = (
        f"its last heartbeat was at {run.heartbeat_at.isoformat()}"
        if run.heartbeat_at is not None
        else "it never sent a heartbeat"
    )
    timeout = float(housekeeping_settings.HEARTBEAT_TIMEOUT)
    return (
        f"Interrupted: the process running it ({where}) stopped: {last}, more than "
        f"{timeout:g} s (HEARTBEAT_TIMEOUT) ago."
    )


def fail_lost_runs(now: datetime | None = None) -> list[TaskRun]:
    """Record every run enqueued more than ``QUEUE_TIMEOUT`` ago and still ``queued`` as
    ``failed``: no worker took it (its message was lost, or no worker runs). Its task is free
    again; a worker that receives the message later does not run it."""
    now = now or timezone.now()
    timeout = float(housekeeping_settings.QUEUE_TIMEOUT)
    lost = TaskRun.objects.filter(
        status=Status.QUEUED, enqueued_at__lt=now - timedelta(seconds=timeout)
    )
    failed = []
    for run in lost.order_by("pk"):
        error = (
            f"No worker started this run within {timeout:g} s (QUEUE_TIMEOUT) of its enqueueing "
            f"on the Tasks framework (backend {housekeeping_settings.EXECUTOR_BACKEND!r}, queue "
            f"{housekeeping_settings.EXECUTOR_QUEUE!r}): its message was lost, or no worker "
            "runs on that queue."
        )
        marked = fail_queued(run.pk, error, now=now)
        if marked is not None:
            failed.append(marked)
    return failed


def fail_queued(run_id: int, error: str, *, now: datetime | None = None) -> TaskRun | None:
    """Record the run ``failed`` with ``error`` if it is still ``queued`` (a worker that took it
    meanwhile wins), releasing its task's claim; ``task_failed`` and ``task_finished`` are sent
    after the transaction commits. Returns the run, or ``None`` if it was no longer queued."""
    now = now or timezone.now()
    run = TaskRun.objects.filter(pk=run_id, status=Status.QUEUED).first()
    if run is None:
        return None
    duration = max(now - run.started_at, timedelta(0))
    updated = TaskRun.objects.filter(pk=run.pk, status=Status.QUEUED).update(
        status=Status.FAILED, active_task=None, finished_at=now, duration=duration, error=error
    )
    if not updated:
        return None
    run.status, run.active_task, run.error = Status.FAILED, None, error
    run.finished_at, run.duration = now, duration
    logger.error("Failed %s (run #%s): %s", run.task_name, run.pk, error)
    transaction.on_commit(
        lambda: _send_failed(run),
        using=router.db_for_write(TaskRun),
    )
    return run


def _send_failed(run: TaskRun) -> None:
    sender = registry.as_mapping().get(run.task_name)
    if not superseded(run):  # a later run already succeeded: no failure to report now
        task_failed.send(sender=sender, run=run, exception=None, reason=run.error)
    task_finished.send(sender=sender, run=run)
