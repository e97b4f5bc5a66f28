"""What a task function receives: :class:`TaskContext`.

Two context managers let the code that calls ``run_task`` (the command line, say) reach into the
runs it starts without new ``run_task`` arguments: :func:`observe_progress` sees every
``ctx.progress`` call (to draw a progress bar) and, if asked, every ``ctx.note``;
:func:`forcing_purge_limits` lets the purges of those runs exceed their
``max_rows``/``max_fraction``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.utils import timezone

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.models import PROGRESS_NOTE, TaskRun
from django_housekeeping.purging.archive import ArchiveOrigin, default_archive_path
from django_housekeeping.purging.engine import PurgeResult, purge
from django_housekeeping.tasks import stopping

if TYPE_CHECKING:
    from django_housekeeping.tasks.task import HousekeepingTask

ProgressObserver = Callable[["TaskContext", int, "int | None"], None]
NoteObserver = Callable[["TaskContext", "str | None"], None]

_observers: ContextVar[tuple[ProgressObserver, ...]] = ContextVar(
    "housekeeping_progress_observers", default=()
)
_note_observers: ContextVar[tuple[NoteObserver, ...]] = ContextVar(
    "housekeeping_note_observers", default=()
)
_force: ContextVar[bool] = ContextVar("housekeeping_force_purge_limits", default=False)


@contextmanager
def observe_progress(
    observer: ProgressObserver, *, notes: NoteObserver | None = None
) -> Iterator[None]:
    """Call ``observer(ctx, done, total)`` on every ``ctx.progress`` of the runs started inside,
    and ``notes(ctx, message)`` on every ``ctx.note`` (``"paused: replica lag 7 s"``, then
    ``None``)."""
    token = _observers.set((*_observers.get(), observer))
    note_token = _note_observers.set(
        (*_note_observers.get(), notes) if notes is not None else _note_observers.get()
    )
    try:
        yield
    finally:
        _note_observers.reset(note_token)
        _observers.reset(token)


@contextmanager
def forcing_purge_limits() -> Iterator[None]:
    """Purges of the runs started inside ignore their ``max_rows``/``max_fraction`` limits."""
    token = _force.set(True)
    try:
        yield
    finally:
        _force.reset(token)


class RunInterrupted(Exception):
    """The run was marked ``interrupted`` by another process; it must not go on."""


@dataclass
class TaskContext:
    """The run a task function is executing in.

    ``now`` is the slot time of a scheduled run (so a rerun computes the same cutoffs) and the start
    time otherwise; ``options`` is a fresh dict of the task's effective options. ``force`` lets
    ``purge`` exceed the task's limits (set by :func:`forcing_purge_limits`).
    """

    task: HousekeepingTask
    run: TaskRun
    now: datetime
    dry_run: bool
    options: dict[str, Any]
    force: bool = field(default_factory=_force.get)
    # What this run's purges deleted so far (a cancelled or timed-out run reports it).
    deleted: dict[str, int] = field(default_factory=dict)

    def purge(self, queryset: QuerySet[Any], **kwargs: Any) -> PurgeResult:
        """Delete ``queryset`` and its cascades in batches (only count them in a dry run).

        Uses the task's ``purge`` options (declared, overridden in settings), updated with
        ``kwargs`` (any keyword argument of :func:`~django_housekeeping.purging.engine.purge` but
        ``dry_run``); reports progress after every batch (and :meth:`note` while the purge waits
        on a replica) and archives into a file named after the
        task and the run, whose manifest names them too.
        """
        if "dry_run" in kwargs:
            raise TypeError("ctx.purge() follows the run's dry_run; it takes no dry_run argument")
        options: dict[str, Any] = {**self.task.purge_options, **kwargs}
        options.setdefault("force", self.force)
        options.setdefault("progress", self.progress)
        options.setdefault("notify", self.note)
        archive = options.get("archive")
        if archive is None:
            archive = housekeeping_settings.PURGE_ARCHIVE
        if archive is True and not self.dry_run:
            archive = default_archive_path(
                queryset.model._meta.label if isinstance(queryset, QuerySet) else "purge",
                prefix=f"{self.task.name}-run{self.run.pk}",
            )
        options["archive"] = archive
        options.setdefault("archive_origin", ArchiveOrigin(task=self.task.name, run=self.run.pk))
        try:
            result = purge(queryset, dry_run=self.dry_run, **options)
        except stopping.RunStopped as stop:  # cancelled or timed out between two batches
            stop.deleted = stopping.merged(self.deleted, stop.deleted)
            raise
        self.deleted = stopping.merged(self.deleted, result["deleted"])
        return result

    def progress(self, done: int, total: int | None = None) -> None:
        """Record how far the task has got; also refreshes the run's heartbeat.

        Raises :class:`~django_housekeeping.tasks.stopping.RunCancelled` when someone asked to
        cancel the run, :class:`~django_housekeeping.tasks.stopping.RunTimedOut` when it is past
        its timeout, and :class:`RunInterrupted` when the run is no longer running: its process
        was stopped (SIGSTOP, a paused VM) for longer than ``HEARTBEAT_TIMEOUT``, the run was
        marked ``interrupted`` and the task may be running elsewhere, so this one stops here (a
        purge, between two batches).
        """
        self.run.progress_done = done
        self.run.progress_total = total
        self.run.heartbeat_at = timezone.now()
        updated = TaskRun.objects.filter(
            pk=self.run.pk, status__in=TaskRun.ACTIVE_STATUSES, cancel_requested_at__isnull=True
        ).update(progress_done=done, progress_total=total, heartbeat_at=self.run.heartbeat_at)
        if not updated:
            stopping.check(self.task, self.run, self.deleted, timeout=False)
        else:
            stopping.check_timeout(self.task, self.run, self.deleted)
        if not updated and TaskRun.objects.filter(pk=self.run.pk).exists():
            raise RunInterrupted(
                f"run #{self.run.pk} of {self.task.name} was marked interrupted while its process "
                "did not answer; it stops here, as another run of the task may have started"
            )
        for observer in _observers.get():
            observer(self, done, total)

    def note(self, message: str | None) -> None:
        """Say what the run is doing while it does not progress (``"paused: replica lag 7 s"``);
        ``None`` clears it.

        Kept, while the run is active, as its result ``{"progress_note": message}``: the faces show
        it beside the progress (:func:`django_housekeeping.presenters.result_details`), and the
        run's real result replaces it when it ends. A message (a purge waiting on a replica notes
        it on every wait) raises, like :meth:`progress`, when the run is cancelled or timed out.
        """
        if message is not None:
            stopping.check(self.task, self.run, self.deleted)
        TaskRun.objects.filter(pk=self.run.pk, status__in=TaskRun.ACTIVE_STATUSES).update(
            result={PROGRESS_NOTE: message} if message else None
        )
        for observer in _note_observers.get():
            observer(self, message)
