"""Checked by mypy (the ``types`` environment), not run: the settings object is typed from the
settings table, so every setting has its type and an unknown one is an error."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, assert_type

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.tasks.registry import housekeeping_task
from django_housekeeping.tasks.task import HousekeepingTask

assert_type(housekeeping_settings.AUTOSTART, bool)
assert_type(housekeeping_settings.EXECUTOR, str)
assert_type(housekeeping_settings.TASKS, Mapping[str, Mapping[str, Any]])
assert_type(housekeeping_settings.HISTORY_DAYS, float)
assert_type(housekeeping_settings.LEASE_TTL, float)
assert_type(housekeeping_settings.HEARTBEAT_TIMEOUT, float)
assert_type(housekeeping_settings.MAX_WAIT, float)
assert_type(housekeeping_settings.API_PERMISSION_CLASSES, list[str] | tuple[str, ...])
assert_type(housekeeping_settings.TRIGGER_THROTTLE_RATE, str | None)
assert_type(housekeeping_settings.PURGE_BATCH_SIZE, int | None)
assert_type(housekeeping_settings.PURGE_ARCHIVE, bool)
assert_type(housekeeping_settings.PURGE_ARCHIVE_DIR, str | os.PathLike[str] | None)


@housekeeping_task
def a_task() -> None: ...


assert_type(a_task, HousekeepingTask)
assert_type(a_task.name, str)

typo = housekeeping_settings.HISTORY_DAY  # type: ignore[attr-defined]  # mypy refuses it
