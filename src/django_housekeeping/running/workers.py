"""The ``"django_tasks"`` executor's task: what the leader enqueues and a worker executes.

With ``HOUSEKEEPING["EXECUTOR"] = "django_tasks"`` every run is recorded ``queued`` first, then
:func:`enqueue` hands its id to Django's Tasks framework, on the ``EXECUTOR_BACKEND`` backend of
``settings.TASKS`` and the ``EXECUTOR_QUEUE`` queue. A worker of that backend, on any host that
shares the database, calls :data:`execute_run`, which claims the ``queued`` row in one ``UPDATE``
and runs it through the run path (:func:`~django_housekeeping.running.runner.run_queued`): a
message delivered twice executes once.

Django 6.0+ ships ``django.tasks``; on Django 5.2 install the ``django-tasks`` backport
(``pip install django-housekeeping[tasks]``). This module is imported only when the executor is
used, because defining a task reads ``settings.TASKS``.
"""

from __future__ import annotations

try:
    from django.tasks import task  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # Django < 6.0: the backport
    from django_tasks import task  # type: ignore[import-not-found,no-redef,unused-ignore]

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.running.runner import run_queued


@task()  # type: ignore[untyped-decorator,misc,unused-ignore]
def execute_run(run_id: int) -> str | None:
    """Execute the queued run ``run_id`` (once, however often it is delivered); return how it
    ended, or ``None`` for a run no longer in the history."""
    run = run_queued(run_id)
    return str(run.status) if run is not None else None


def enqueue(run_id: int) -> None:
    """Enqueue the run on the configured backend and queue; raises what the backend raises."""
    execute_run.using(
        backend=housekeeping_settings.EXECUTOR_BACKEND,
        queue_name=housekeeping_settings.EXECUTOR_QUEUE,
    ).enqueue(run_id)
