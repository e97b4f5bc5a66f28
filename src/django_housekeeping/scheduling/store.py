"""The job store: django-apscheduler's ``DjangoJobStore`` without its own execution log.

Runs are recorded once, as :class:`~django_housekeeping.models.TaskRun` rows; the store only keeps
the jobs and their next run times in the host database.
"""

from __future__ import annotations

from django_apscheduler.jobstores import DjangoJobStore


class HousekeepingJobStore(DjangoJobStore):  # type: ignore[misc]  # django-apscheduler is untyped
    def register_event_listeners(self) -> None:
        """Do not write DjangoJobExecution rows: TaskRun is the history."""
