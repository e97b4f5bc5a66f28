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

``alert_raised(sender=None, alert=TaskAlert)``
    A task failed (``alert.kind == "failed"``; ``alert.run`` is the failed or interrupted run) or
    is overdue (``"overdue"``: it has not succeeded for its ``expect_success_every``). Sent once
    per streak: not again for the next failures of the task until it has succeeded. ``alert.reason``
    is one line for a person. Sent by the process that saw it (the one running the task, or the
    scheduler's leader), after the alert is saved.
``alert_resolved(sender=None, alert=TaskAlert, run=TaskRun | None)``
    The task succeeded again (``run``) after an alert; ``alert.closed_at`` is set. Sent once per
    alert.

With ``HOUSEKEEPING["ALERT_MAIL_ADMINS"] = True`` the library's own receivers mail the site's
``ADMINS``; receivers of your own can route alerts anywhere (docs/observability.md).

A group sends its own ``task_started`` first, then each member's signals in turn, then its own
``task_failed`` (if a member failed) and ``task_finished``.
"""

from django.dispatch import Signal

task_started = Signal()
task_finished = Signal()
task_failed = Signal()
alert_raised = Signal()
alert_resolved = Signal()
