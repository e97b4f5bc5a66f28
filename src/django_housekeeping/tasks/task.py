"""The task handle: what ``@housekeeping_task`` returns and what the registry holds.

A :class:`HousekeepingTask` is frozen and typed. It is still callable like the function it wraps
(``delete_old_conversations(ctx)``), knows its ``.name``, and runs itself: ``.run(dry_run=…)``
here and now, ``.dispatch()`` in a background thread (the run is recorded ``queued`` at once).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.tasks.options import TaskOptions
from django_housekeeping.tasks.schedules import InvalidSchedule, Schedule

if TYPE_CHECKING:
    from django_housekeeping.models import TaskRun
    from django_housekeeping.running.runner import DispatchedRun

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@dataclass(frozen=True)
class HousekeepingTask:
    """A registered task: a function to run, or a group of other tasks run by name.

    ``declared`` holds the options the code declares; ``schedule``, ``options``, ``enabled``,
    ``misfire_grace``, ``coalesce`` and ``purge_options`` are the effective values, the declared
    ones merged with ``HOUSEKEEPING["TASKS"][name]`` (:meth:`TaskOptions.merged`) when read.
    """

    # Django's templates call what is callable: show the task, do not run its function.
    do_not_call_in_templates: ClassVar[bool] = True

    name: str
    func: Callable[..., Any] | None
    declared: TaskOptions = field(default_factory=TaskOptions)
    description: str = ""
    timeout: float | None = None
    tags: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    origin: str = ""
    destructive: bool = True
    after: tuple[str, ...] = ()  # the tasks it runs after in a group or "all" (tasks/order.py)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the task's function as it was written (a group has none)."""
        if self.func is None:
            raise TypeError(f"{self.name!r} is a group of tasks; run it with .run()")
        return self.func(*args, **kwargs)

    # -- running it -----------------------------------------------------------------------------
    # The run path sits above the tasks (it runs them): imported when asked for, a documented
    # cycle of the layers (tasks -> running -> tasks).

    def run(self, *, dry_run: bool = False, **kwargs: Any) -> TaskRun:
        """Run the task here and now through ``run_task``; return its run."""
        from django_housekeeping.running.runner import run_task

        return run_task(self, dry_run=dry_run, **kwargs)

    def dispatch(self, *, dry_run: bool = False, **kwargs: Any) -> DispatchedRun:
        """Record a run (``queued``) and execute it in a background thread of this process."""
        from django_housekeeping.running.runner import start_runs

        (dispatched,) = start_runs([self.name], dry_run=dry_run, **kwargs)
        return dispatched

    # -- what it is -----------------------------------------------------------------------------

    @property
    def is_group(self) -> bool:
        return self.func is None

    @property
    def override(self) -> Mapping[str, Any]:
        """``HOUSEKEEPING["TASKS"][name]``, or an empty dict."""
        return housekeeping_settings.task_override(self.name)

    @property
    def effective(self) -> TaskOptions:
        """The declared options with the settings' override applied."""
        return self.declared.merged(self.override)

    @property
    def schedule(self) -> Schedule | None:
        """The effective schedule; ``InvalidSchedule`` when the settings' override is invalid."""
        effective = self.effective
        if effective.schedule_error is not None:
            raise InvalidSchedule(effective.schedule_error)
        return effective.schedule

    @property
    def options(self) -> dict[str, Any]:
        """A fresh dict of the effective options, for one run to use as it likes."""
        return dict(self.effective.options)

    @property
    def enabled(self) -> bool:
        return self.effective.enabled

    @property
    def misfire_grace(self) -> float:
        """Seconds after its slot a scheduled run may still start; later ones are missed."""
        grace = self.effective.misfire_grace
        return float(grace if grace is not None else housekeeping_settings.MISFIRE_GRACE)

    @property
    def coalesce(self) -> bool:
        """Of several slots due at once, run only the latest (the others are recorded)."""
        return self.effective.coalesce

    @property
    def retries(self) -> int:
        """How many times an ``interrupted`` run of the task is run again (a new attempt of the
        same slot); 0: never."""
        return self.effective.retries

    @property
    def expect_success_every(self) -> timedelta | None:
        """How long the task may go without succeeding before it is overdue, under its own
        schedule (:meth:`expected_success_within`); ``None`` for a task run by hand only."""
        try:
            return self.expected_success_within(self.schedule)
        except InvalidSchedule:
            return None

    def expected_success_within(self, schedule: Schedule | None) -> timedelta | None:
        """How long the task may go without succeeding when it follows ``schedule``: as declared
        (or overridden in settings), else two of the schedule's intervals plus the misfire
        grace; ``None`` without a schedule."""
        declared = self.effective.expect_success_every
        if declared is not None:
            return declared
        if schedule is None:
            return None
        return 2 * schedule.longest_interval() + timedelta(seconds=self.misfire_grace)

    @property
    def purge_options(self) -> dict[str, Any]:
        """The keyword arguments ``ctx.purge`` passes to ``purge()``."""
        return dict(self.effective.purge)

    @property
    def takes_context(self) -> bool:
        """Whether the function is called with the TaskContext (as its one positional argument)."""
        return self.func is not None and any(
            parameter.kind in _POSITIONAL or parameter.kind is inspect.Parameter.VAR_POSITIONAL
            for parameter in inspect.signature(self.func).parameters.values()
        )
