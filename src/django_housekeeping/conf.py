"""The one settings object: ``housekeeping_settings`` reads ``settings.HOUSEKEEPING`` lazily.

Values are read at access time, so ``override_settings`` just works; the few derived values that are
cached are dropped when ``setting_changed`` fires for ``HOUSEKEEPING``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "HOUSEKEEPING"

DEFAULTS: dict[str, Any] = {
    # Start the scheduler inside serving processes (runserver, gunicorn, uwsgi ...), leader-elected.
    "AUTOSTART": True,
    # "thread" runs tasks in the scheduler process; "django_tasks" enqueues them on settings.TASKS.
    "EXECUTOR": "thread",
    # Per-task overrides: {"name": {"schedule": ..., "options": {...}, "enabled": bool,
    #                               "misfire_grace": seconds, "coalesce": bool,
    #                               "purge": {"batch_size": ..., "max_rows": ..., ...}}}.
    "TASKS": {},
    # Runs older than this many days are pruned from the history.
    "HISTORY_DAYS": 90,
    # No effect since 0.2 (runs are judged alive by their heartbeats); accepted for compatibility.
    "DEFAULT_TIMEOUT": 3600,
    # Seconds between two heartbeats of a run; a run whose last heartbeat is older than
    # HEARTBEAT_TIMEOUT seconds belongs to a dead process and is marked "interrupted".
    "HEARTBEAT_INTERVAL": 10,
    "HEARTBEAT_TIMEOUT": 60,
    # Seconds without renewal after which the scheduler lease expires and a standby takes over.
    "LEASE_TTL": 30,
    # Seconds after its slot a scheduled run may still start, for tasks that declare none.
    "MISFIRE_GRACE": 600,
    # DRF permission classes of the API (dotted paths); the housekeeping permissions are checked
    # whatever they say.
    "API_PERMISSION_CLASSES": ["django_housekeeping.api.permissions.HousekeepingPermission"],
    # Runs one person may start per period, on every face together (admin, dashboard, API),
    # counted in the database; None turns the throttle off.
    "TRIGGER_THROTTLE_RATE": "30/minute",
    # The longest a request waits for its runs (the API's ?wait=): under common worker timeouts.
    "MAX_WAIT": 20,
    # Rows of the purged queryset's model per purge batch (and per transaction); None: adaptive
    # batches of about 50,000 rows with their cascades (10,000 when delete signals have receivers).
    "PURGE_BATCH_SIZE": None,
    # Archive every purged row (a gzip JSON Lines fixture per purge) before deleting it; tasks
    # may opt in or out with their "purge" options.
    "PURGE_ARCHIVE": False,
    # The directory archives are written to; needed as soon as any purge archives.
    "PURGE_ARCHIVE_DIR": None,
}

TASK_OVERRIDE_KEYS = frozenset(
    {"schedule", "options", "enabled", "misfire_grace", "coalesce", "purge"}
)


class HousekeepingSettings:
    """Attribute access to ``settings.HOUSEKEEPING`` with defaults, e.g. ``.HISTORY_DAYS``."""

    @property
    def user_settings(self) -> Mapping[str, Any]:
        value = getattr(settings, SETTING_NAME, None)
        return value if isinstance(value, Mapping) else {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"{SETTING_NAME} has no setting {name!r}")
        return self.user_settings.get(name, DEFAULTS[name])

    def task_override(self, task_name: str) -> Mapping[str, Any]:
        """The ``HOUSEKEEPING["TASKS"][task_name]`` dict, or an empty one."""
        return self._task_overrides.get(task_name, {})

    @cached_property
    def _task_overrides(self) -> Mapping[str, Mapping[str, Any]]:
        tasks = self.TASKS
        if not isinstance(tasks, Mapping):
            return {}
        return {
            str(name): override for name, override in tasks.items() if isinstance(override, Mapping)
        }

    def reload(self) -> None:
        self.__dict__.pop("_task_overrides", None)


housekeeping_settings = HousekeepingSettings()


@receiver(setting_changed)
def _reload_housekeeping_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        housekeeping_settings.reload()
