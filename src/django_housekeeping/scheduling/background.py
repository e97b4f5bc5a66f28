"""The ``django_tasks`` executor: scheduled slots enqueued on Django's Tasks framework.

With ``HOUSEKEEPING["EXECUTOR"] = "django_tasks"`` the leader does not run slots itself; it
enqueues :data:`run_slot` on the ``settings.TASKS`` backend, and whatever workers that backend has
run them — on any machine that shares the database. The slot is still claimed when the run starts
(the unique ``(task_name, slot)`` insert), so a slot enqueued twice still runs once.

Django 6.0+ ships ``django.tasks``; on Django 5.2 install the ``django-tasks`` backport
(``pip install django-housekeeping[tasks]``). This module is imported only when the executor is
chosen, because defining a task reads ``settings.TASKS``.
"""

from __future__ import annotations

from datetime import datetime

try:
    from django.tasks import task  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # Django < 6.0: the backport
    from django_tasks import task  # type: ignore[import-not-found,no-redef,unused-ignore]

from django_housekeeping.scheduling.slots import run_scheduled_slot


@task()  # type: ignore[untyped-decorator,misc,unused-ignore]
def run_slot(task_name: str, slot: str) -> int | None:
    """Run one scheduled slot (``slot`` in ISO 8601); return the TaskRun id, or None if claimed."""
    run = run_scheduled_slot(task_name, datetime.fromisoformat(slot))
    return run.pk if run is not None else None


def enqueue_slot(task_name: str, slot: datetime) -> None:
    run_slot.enqueue(task_name, slot.isoformat())
