"""The job store: django-apscheduler's ``DjangoJobStore`` without its own execution log.

Runs are recorded once, as :class:`~django_housekeeping.models.TaskRun` rows; the store only keeps
the jobs and their next run times in the host database.
"""

from __future__ import annotations

import pickle
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJob


def stored_triggers() -> dict[str, BaseTrigger | None]:
    """The trigger of every job in the store, by job id (a task's name): what the leader runs.

    ``DjangoJob.job_state`` is ``pickle.dumps(job.__getstate__())`` (django-apscheduler's
    ``DjangoJobStore.add_job``/``update_job``): a dict whose ``"trigger"`` is the APScheduler
    trigger object. A state that does not load (a leader of another version, say) is ``None``.
    """
    triggers: dict[str, BaseTrigger | None] = {}
    for job_id, job_state in DjangoJob.objects.values_list("id", "job_state"):
        triggers[job_id] = _trigger(job_state)
    return triggers


def _trigger(job_state: bytes | memoryview | None) -> BaseTrigger | None:
    try:
        # The same trust as the scheduler's: the job store unpickles these rows to run them.
        state: Any = pickle.loads(bytes(job_state or b""))
    except Exception:  # any unreadable state is reported as unknown, not raised
        return None
    trigger = state.get("trigger") if isinstance(state, dict) else None
    return trigger if isinstance(trigger, BaseTrigger) else None


class HousekeepingJobStore(DjangoJobStore):  # type: ignore[misc]  # django-apscheduler is untyped
    def register_event_listeners(self) -> None:
        """Do not write DjangoJobExecution rows: TaskRun is the history."""
