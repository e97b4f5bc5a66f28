"""Public signals sent by :func:`django_housekeeping.run_task`.

``task_started(sender=HousekeepingTask, run=TaskRun)``
    A run row was created with status ``running`` and the task is about to execute.
``task_finished(sender=HousekeepingTask, run=TaskRun)``
    The run ended, whatever its status (succeeded, failed, skipped); ``run`` holds the outcome.
``task_failed(sender=HousekeepingTask, run=TaskRun, exception=BaseException | None)``
    The run failed; sent before ``task_finished``. ``exception`` is ``None`` when the failure was
    not an exception of the task (for example a group in which a member failed).
"""

from django.dispatch import Signal

task_started = Signal()
task_finished = Signal()
task_failed = Signal()
