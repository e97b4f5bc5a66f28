"""Public signals sent by :func:`django_housekeeping.run_task`.

``task_started(sender=HousekeepingTask, run=TaskRun)``
    A run row was created with status ``running`` and the task is about to execute. A receiver
    that raises fails the run (the exception is recorded like one of the task's own). Not sent
    for a run skipped because another run of the task is still running.
``task_finished(sender=HousekeepingTask, run=TaskRun)``
    The run ended, whatever its status (succeeded, failed, skipped); ``run`` holds the outcome,
    already saved.
``task_failed(sender=HousekeepingTask, run=TaskRun, exception=BaseException | None)``
    The run failed; sent before ``task_finished``. ``exception`` is ``None`` when the failure was
    not an exception of the task (for example a group in which a member failed).

A group sends its own ``task_started`` first, then each member's signals in turn, then its own
``task_failed`` (if a member failed) and ``task_finished``.
"""

from django.dispatch import Signal

task_started = Signal()
task_finished = Signal()
task_failed = Signal()
