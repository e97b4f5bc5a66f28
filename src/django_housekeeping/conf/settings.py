"""The one settings table: every key of ``settings.HOUSEKEEPING``, declared once.

Each :class:`Setting` carries its default, the :class:`Rule` a valid value follows (with the phrase
a person reads when it does not) and one line of documentation. From that one declaration:

- ``housekeeping_settings.NAME`` reads the value at access time (so ``override_settings`` just
  works) and is typed (mypy knows ``LEASE_TTL`` is a number);
- the system checks ``E003`` (unknown key) and ``E005`` (wrong value) are generated
  (:mod:`django_housekeeping.conf.checks`);
- the settings reference in docs/configuration.md is generated (``scripts/settings-docs``, checked
  by the tests).

Per-task overrides (``HOUSEKEEPING["TASKS"][name]``) have their own table, next to the tasks they
change: :data:`django_housekeeping.tasks.options.OVERRIDES`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "HOUSEKEEPING"
EXECUTORS = ("thread", "django_tasks")

T = TypeVar("T")


# -- rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """What a valid value is: a test, and how a person says it (``"a positive number of
    seconds"``), for the message of a value that fails it."""

    test: Callable[[Any], bool]
    expected: str

    def __call__(self, value: Any) -> bool:
        return self.test(value)

    def or_none(self) -> Rule:
        return Rule(lambda value: value is None or self.test(value), f"{self.expected} or None")


def is_positive(value: Any) -> bool:
    """A number above zero (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def is_non_negative_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_non_negative(value: Any) -> bool:
    """A finite number of zero or more (not a bool)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def is_lag(value: Any) -> bool:
    """A positive ``timedelta``, or a positive finite number of seconds (not a bool)."""
    if isinstance(value, timedelta):
        return value > timedelta(0)
    return is_non_negative(value) and value > 0


def is_aliases(value: Any) -> bool:
    """A list or tuple of database aliases (non-empty strings)."""
    return isinstance(value, list | tuple) and all(
        isinstance(alias, str) and bool(alias) for alias in value
    )


BOOLEAN = Rule(lambda value: isinstance(value, bool), "True or False")
SECONDS = Rule(is_positive, "a positive number of seconds")
DAYS = Rule(is_positive, "a positive number of days")
POSITIVE_INT = Rule(is_positive_int, "a positive integer")
MAPPING = Rule(lambda value: isinstance(value, Mapping), "a dict")
PAUSE = Rule(is_non_negative, "a number of 0 or more")
LAG = Rule(is_lag, "a positive timedelta or number of seconds")


@dataclass(frozen=True)
class Rate:
    """A rate limit: ``limit`` per ``period`` seconds."""

    limit: int
    period: int

    def __str__(self) -> str:
        return f"{self.limit} per {self.period} s"


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)s?\s*$")


def parse_rate(value: object) -> Rate | None:
    """``"30/minute"``, ``"5/10s"``, ``"100/day"`` → :class:`Rate`; ``None`` if not a rate."""
    if not isinstance(value, str):
        return None
    match = _RATE.match(value)
    if match is None:
        return None
    limit, multiple, unit = int(match[1]), int(match[2] or 1), match[3][0]
    if limit < 1 or multiple < 1:
        return None
    return Rate(limit, multiple * _PERIODS[unit])


# -- the table -----------------------------------------------------------------------------------


class Setting(Generic[T]):
    """One key of ``HOUSEKEEPING``: its default, its rule and its documentation.

    A descriptor of :class:`HousekeepingSettings`: reading it on the settings object returns the
    configured value (or the default), read from ``settings.HOUSEKEEPING`` at that moment.
    """

    name: str

    def __init__(self, default: T, rule: Rule, doc: str) -> None:
        self.default = default
        self.rule = rule
        self.doc = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Setting[T]: ...

    @overload
    def __get__(self, obj: HousekeepingSettings, owner: type | None = None) -> T: ...

    def __get__(
        self, obj: HousekeepingSettings | None, owner: type | None = None
    ) -> Setting[T] | T:
        if obj is None:
            return self
        value: T = obj.user_settings.get(self.name, self.default)
        return value


class HousekeepingSettings:
    """``settings.HOUSEKEEPING`` with its defaults, e.g. ``housekeeping_settings.HISTORY_DAYS``.

    The class body is the table: one :class:`Setting` per key, in the order the reference shows.
    """

    AUTOSTART = Setting(
        True,
        BOOLEAN,
        "Start one scheduler service per serving process, lazily (see [the "
        "scheduler](scheduler.md)); one of them leads. `False` when you run `manage.py "
        "housekeeping scheduler` yourself.",
    )
    EXECUTOR = Setting(
        "thread",
        Rule(lambda value: value in EXECUTORS, " or ".join(map(repr, EXECUTORS))),
        '`"thread"`: scheduled runs execute in a thread pool of the leading scheduler '
        "process, and runs a person starts in a thread of the process that answered. "
        '`"django_tasks"`: every run — scheduled slots and runs started from the admin, the '
        "dashboard, the API or `housekeeping run --via-executor` — is recorded `queued` and "
        "enqueued on Django's Tasks framework (`settings.TASKS`; Django 6.0+, or the "
        "`django-tasks` backport via the `[tasks]` extra on 5.2), and that backend's workers "
        "execute it, on any machine sharing the database (see [deployment](deployment.md)).",
    )
    EXECUTOR_BACKEND: Setting[str] = Setting(
        "default",
        Rule(lambda value: isinstance(value, str) and bool(value), "a backend alias of TASKS"),
        'With `EXECUTOR = "django_tasks"`: the alias in `settings.TASKS` of the backend runs '
        "are enqueued on.",
    )
    EXECUTOR_QUEUE: Setting[str] = Setting(
        "default",
        Rule(lambda value: isinstance(value, str) and bool(value), "a queue name"),
        'With `EXECUTOR = "django_tasks"`: the queue runs are enqueued on (the backend\'s '
        "`QUEUES` must list it; start the workers on it).",
    )
    QUEUE_TIMEOUT: Setting[float] = Setting(
        600,
        SECONDS,
        'With `EXECUTOR = "django_tasks"`: a run still `queued` this many seconds after it was '
        "enqueued (no worker took it: the message was lost, or no worker runs) is marked "
        "`failed` by the leader, which frees its task; a worker that receives it later does "
        "not run it.",
    )
    TASKS: Setting[Mapping[str, Mapping[str, Any]]] = Setting(
        MappingProxyType({}),
        Rule(lambda value: isinstance(value, Mapping), "a dict of task name -> overrides"),
        "Per-task overrides by task name, without a code change: "
        "[below](#per-task-overrides-housekeepingtasksname).",
    )
    HISTORY_DAYS: Setting[float] = Setting(
        90,
        DAYS,
        "Finished runs older than this many days are deleted by the leader, once an hour.",
    )
    DEFAULT_TIMEOUT: Setting[float] = Setting(
        3600,
        SECONDS,
        "Seconds a run of a task without its own `timeout=` may take: past it, the run stops at "
        'its next progress step and ends failed, "timed out after N s" '
        "([Tasks: timeouts](tasks.md#timeouts)).",
    )
    HEARTBEAT_INTERVAL: Setting[float] = Setting(
        10,
        SECONDS,
        "Seconds between two heartbeats of a queued or running run (a thread of its process "
        "refreshes `heartbeat_at`).",
    )
    HEARTBEAT_TIMEOUT: Setting[float] = Setting(
        60,
        SECONDS,
        "A run whose last heartbeat is older than this many seconds belongs to a dead "
        "process: it is marked `interrupted` and its task is free again (see [the run "
        "lifecycle](history.md#the-run-lifecycle)). Must be longer than `HEARTBEAT_INTERVAL` "
        "(`E010`).",
    )
    LEASE_TTL: Setting[float] = Setting(
        30,
        SECONDS,
        "Seconds a leader may go without renewing its lease. A standby takes over within this "
        "time (plus about a second) after the leader dies.",
    )
    MISFIRE_GRACE: Setting[float] = Setting(
        600,
        SECONDS,
        "For tasks without `misfire_grace=`: how many seconds late a slot may still run.",
    )
    API_PERMISSION_CLASSES: Setting[list[str] | tuple[str, ...]] = Setting(
        ["django_housekeeping.api.permissions.HousekeepingPermission"],
        Rule(
            lambda value: (
                isinstance(value, list | tuple) and all(isinstance(path, str) for path in value)
            ),
            "a list of dotted paths to DRF permission classes",
        ),
        "DRF permission classes (dotted paths) of the API. The housekeeping "
        "[permissions](permissions.md) are checked whatever they say: classes here can only "
        "add conditions.",
    )
    TRIGGER_THROTTLE_RATE: Setting[str | None] = Setting(
        "30/minute",
        Rule(
            lambda value: value is None or parse_rate(value) is not None,
            'a rate such as "30/minute" (per second, minute, hour or day), or None',
        ),
        "Runs one person may start per period, on the admin, the dashboard and the API "
        "together, counted in the database so that it holds across processes "
        "([throttling](permissions.md#throttling)); `N/second`, `N/minute`, `N/hour`, `N/day` "
        "or `N/10s`; `None` turns it off.",
    )
    MAX_WAIT: Setting[float] = Setting(
        20,
        SECONDS,
        "The longest the API's `?wait=` holds a request, in seconds: under the usual worker "
        "timeouts (gunicorn's is 30 s). A run that outlasts it is answered 202 with its URL.",
    )
    PURGE_BATCH_SIZE: Setting[int | None] = Setting(
        None,
        POSITIVE_INT.or_none(),
        "Rows of the purged queryset's model per batch (and per transaction) for every purge "
        "that does not set `batch_size`. `None`: adaptive batches of about 50,000 rows with "
        "their cascades (10,000 on MySQL/MariaDB and when delete signals have receivers) — "
        "see [purge](purge.md).",
    )
    ERASABLE_MODELS: Setting[list[str] | tuple[str, ...] | None] = Setting(
        None,
        Rule(
            lambda value: (
                isinstance(value, list | tuple) and all(isinstance(label, str) for label in value)
            ),
            'a list of model labels ("app_label.Model" or "app_label.*")',
        ).or_none(),
        "The models an erasure request may delete a row of, on every face: "
        '`"app_label.Model"` or `"app_label.*"` labels (`E015` for one that names nothing). '
        "`None`: `AUTH_USER_MODEL` and the models of the apps that declare housekeeping tasks "
        "or retention policies. This library's models, the job store, `contenttypes`, "
        "`auth.Permission`/`Group`, sessions, `admin.LogEntry` and the migrations are never "
        "erasable, whatever it says (see [erasure scope](retention.md#erasure-scope)).",
    )
    PURGE_ARCHIVE = Setting(
        False,
        BOOLEAN,
        "`True`: every purge writes the rows it deletes, cascades included, to an archive "
        'first; a task\'s `purge={"archive": ...}` decides for that task.',
    )
    PURGE_PARTITIONS = Setting(
        True,
        BOOLEAN,
        "`True`: on a PostgreSQL table range-partitioned on the purge's cutoff column, the "
        "partitions wholly before the cutoff are detached and dropped instead of deleted row by "
        'row, when nothing would be lost by it; a task\'s `purge={"partitions": ...}` decides '
        "for that task (see [partitioned tables](purge.md#partitioned-tables)).",
    )
    PURGE_ARCHIVE_DIR: Setting[str | os.PathLike[str] | None] = Setting(
        None,
        Rule(lambda value: isinstance(value, str | os.PathLike), "a directory path").or_none(),
        "The directory archives are written to (created if missing). Required as soon as "
        "anything archives (`E009`).",
    )
    PURGE_PAUSE: Setting[float] = Setting(
        0,
        PAUSE,
        "After each batch, every purge that does not set `pause` sleeps this many times the "
        "batch's duration (`0.5`: a purge takes about 1.5 times as long and leaves the database "
        "idle a third of the time); `0`: no pause. See [throttling](purge.md#throttling).",
    )
    REPLICAS: Setting[list[str] | tuple[str, ...]] = Setting(
        [],
        Rule(is_aliases, "a list of database aliases"),
        "Database aliases (of `DATABASES`, `E014`) of the read replicas whose replay lag a purge "
        "reads before each batch, waiting while any is above `MAX_REPLICA_LAG`. See "
        "[throttling](purge.md#throttling).",
    )
    MAX_REPLICA_LAG: Setting[timedelta | float | None] = Setting(
        timedelta(seconds=10),
        LAG.or_none(),
        "With `REPLICAS`: the replay lag (a `timedelta` or seconds) above which every purge that "
        "does not set `max_replica_lag` waits before its next batch; `None`: purges do not wait "
        "on replicas unless they set `max_replica_lag`.",
    )

    ALERT_MAIL_ADMINS = Setting(
        False,
        BOOLEAN,
        "`True`: mail the site's `ADMINS` (`mail_admins`) when a task fails or is overdue, once "
        "per failure streak, and once more when it succeeds again (see "
        "[observability](observability.md#alerts)). The signals `alert_raised` and "
        "`alert_resolved` are sent either way.",
    )
    PING_URL: Setting[str | None] = Setting(
        None,
        Rule(lambda value: isinstance(value, str), "a URL (with `{task}` in it)").or_none(),
        "The cron-monitor check-in URL of every task without a `ping_url` of its own, with "
        '`{task}` replaced by the task\'s name, e.g. `"https://hc-ping.com/<key>/{task}"`: '
        "`GET {url}/start` when a run starts, `{url}` when it succeeds, `{url}/fail` when it "
        "fails (see [observability](observability.md#cron-monitor-check-ins)). It may hold a "
        "secret: keep it out of the repository. `None`: no check-ins but the tasks' own.",
    )
    PING_TIMEOUT: Setting[float] = Setting(
        2.0,
        SECONDS,
        "How long one check-in may take, in seconds, its one retry included: a monitor that "
        "does not answer delays a run's start, and its end, by at most this much, and never "
        "fails it.",
    )
    METRICS_TOKEN: Setting[str | None] = Setting(
        None,
        Rule(
            lambda value: isinstance(value, str) and len(value) >= 16,
            "a string of 16 or more characters",
        ).or_none(),
        "A secret a Prometheus scraper sends as `Authorization: Bearer <token>` to read "
        "`metrics/` without a user account (see [observability](observability.md#metrics)). "
        "`None`: only users with `view_taskrun` may read it. Keep it out of the repository.",
    )
    STATISTICS_TASK: Setting[str | None] = Setting(
        None,
        Rule(lambda value: isinstance(value, str) and bool(value), "a task name").or_none(),
        "The task whose results are the site's own statistics (the API's `statistics` and the "
        "dashboard show its numbers beside the library's own). `None`: the library's numbers "
        "only, unless a request names a task with `?task=`.",
    )

    @property
    def user_settings(self) -> Mapping[str, Any]:
        """``settings.HOUSEKEEPING``, or an empty dict when it is missing or no dict (``E005``)."""
        value = getattr(settings, SETTING_NAME, None)
        return value if isinstance(value, Mapping) else {}

    if not TYPE_CHECKING:  # for mypy, a setting the table does not declare is an error

        def __getattr__(self, name: str) -> Any:
            raise AttributeError(f"{SETTING_NAME} has no setting {name!r}")

    def task_override(self, task_name: str) -> Mapping[str, Any]:
        """The ``HOUSEKEEPING["TASKS"][task_name]`` dict, or an empty one."""
        return self._task_overrides.get(task_name, {})

    @cached_property
    def _task_overrides(self) -> Mapping[str, Mapping[str, Any]]:
        tasks: Any = self.TASKS  # what the settings say, E005 or not
        if not isinstance(tasks, Mapping):
            return {}
        return {
            str(name): override for name, override in tasks.items() if isinstance(override, Mapping)
        }

    def reload(self) -> None:
        self.__dict__.pop("_task_overrides", None)


SETTINGS: tuple[Setting[Any], ...] = tuple(
    value for value in vars(HousekeepingSettings).values() if isinstance(value, Setting)
)
DEFAULTS: Mapping[str, Any] = MappingProxyType({item.name: item.default for item in SETTINGS})

housekeeping_settings = HousekeepingSettings()


@receiver(setting_changed)
def _reload_housekeeping_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        housekeeping_settings.reload()
