"""django-housekeeping: scheduled, exactly-once data-retention tasks for Django.

Importing this package imports no models: ``run_task`` and ``purge`` are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Imported eagerly: were it loaded lazily, importing the submodule would shadow the function.
from django_housekeeping.purge import PurgeLimitExceeded, PurgeResult, purge
from django_housekeeping.registry import (
    AlreadyRegistered,
    HousekeepingTask,
    NotRegistered,
    group,
    housekeeping_task,
    registry,
)
from django_housekeeping.schedules import InvalidSchedule, cron, every

if TYPE_CHECKING:
    from django_housekeeping.context import TaskContext
    from django_housekeeping.runner import run_task

__version__ = "0.1.0"

__all__ = [
    "AlreadyRegistered",
    "HousekeepingTask",
    "InvalidSchedule",
    "NotRegistered",
    "PurgeLimitExceeded",
    "PurgeResult",
    "TaskContext",
    "cron",
    "every",
    "group",
    "housekeeping_task",
    "purge",
    "registry",
    "run_task",
]

_LAZY = {
    "run_task": "django_housekeeping.runner",
    "TaskContext": "django_housekeeping.context",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
