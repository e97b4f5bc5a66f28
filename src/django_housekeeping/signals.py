"""Public signals sent by :func:`django_housekeeping.run_task`.

``task_started(sender=HousekeepingTask, run=TaskRun)``
    A run row was created with status ``running`` and the task is about to execute. A receiver
    that raises fails the run (the exception is recorded like one of the task's own). Not sent
    for a run skipped because another run of the task is still running.
``task_finished(sender=HousekeepingTask, run=TaskRun)``
    The run ended, whatever its status (succeeded, failed, skipped, interrupted); ``run`` holds
    the outcome, already saved.
``task_failed(sender=HousekeepingTask, run=TaskRun, exception=BaseException | None, reason=str)``
    The run failed or was interrupted; sent before ``task_finished``. ``reason`` is one line for a
    person: the exception's type and message, the failed members of a group, or why the run was
    marked ``interrupted`` (its process stopped sending heartbeats). ``exception`` is ``None``
    when the failure was not an exception raised in this process (a group in which a member
    failed, an interrupted run). For an interrupted run the signals are sent by the process that
    noticed (the scheduler's leader, or the next run of the task), and ``sender`` is ``None`` if
    the task is no longer registered there.

A group sends its own ``task_started`` first, then each member's signals in turn, then its own
``task_failed`` (if a member failed) and ``task_finished``.
"""

from django.dispatch import Signal

task_started = Signal()
task_finished = Signal()
task_failed = Signal()
