"""django-housekeeping: scheduled, exactly-once data-retention tasks for Django.

Importing this package imports no models: ``run_task``, ``holds``, ``erase`` and
``ErasureRefused`` are loaded on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# None of these imports a model: importing the package needs no settings.
from django_housekeeping.purging.engine import PurgeLimitExceeded, PurgeResult, purge
from django_housekeeping.tasks.registry import (
    AlreadyRegistered,
    NotRegistered,
    group,
    housekeeping_task,
    registry,
)
from django_housekeeping.tasks.retention import retention
from django_housekeeping.tasks.schedules import InvalidSchedule, cron, every
from django_housekeeping.tasks.task import HousekeepingTask

if TYPE_CHECKING:
    from django_housekeeping.purging import holds
    from django_housekeeping.purging.erase import ErasureRefused, erase
    from django_housekeeping.running.runner import run_task
    from django_housekeeping.tasks.context import TaskContext

__version__ = "0.2.0"  # the one place: pyproject reads it (dynamic), the API schema too

__all__ = [
    "AlreadyRegistered",
    "ErasureRefused",
    "HousekeepingTask",
    "InvalidSchedule",
    "NotRegistered",
    "PurgeLimitExceeded",
    "PurgeResult",
    "TaskContext",
    "cron",
    "erase",
    "every",
    "group",
    "holds",
    "housekeeping_task",
    "purge",
    "registry",
    "retention",
    "run_task",
]

_LAZY = {
    "run_task": "django_housekeeping.running.runner",
    "TaskContext": "django_housekeeping.tasks.context",
    "erase": "django_housekeeping.purging.erase",
    "ErasureRefused": "django_housekeeping.purging.erase",
}


def __getattr__(name: str) -> Any:
    if name == "holds":  # the module: holds.place(), holds.release(), holds.is_held()
        return import_module("django_housekeeping.purging.holds")
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
