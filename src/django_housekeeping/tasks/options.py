"""A task's options — schedule, options, enabled, misfire grace, coalescing, retries, purge
options — as the code declares them, and as a deployment overrides them in
``HOUSEKEEPING["TASKS"][name]``.

:data:`OVERRIDES` is the table of the keys a deployment may override, each declared once with what
a valid value is and one line of documentation: the system checks (``E001``, ``E004``, ``E008``,
``E012``) and the reference in docs/configuration.md are generated from it. :class:`TaskOptions`
holds a task's declared values; :meth:`TaskOptions.merged` applies an override, the one merge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from django_housekeeping.conf.ping_urls import ping_url_problems
from django_housekeeping.conf.settings import BOOLEAN, SECONDS, Rule, is_non_negative_int
from django_housekeeping.purging.options import purge_option_errors
from django_housekeeping.tasks.schedules import InvalidSchedule, Schedule, parse_schedule

Problems = Callable[[Any], list[str]]


def _rule(rule: Rule) -> Problems:
    return lambda value: [] if rule(value) else [f"must be {rule.expected}"]


def as_duration(value: Any) -> timedelta | None:
    """A positive ``timedelta``, or a positive number of seconds as one; ``None`` otherwise."""
    if isinstance(value, timedelta):
        return value if value > timedelta(0) else None
    if SECONDS(value):
        return timedelta(seconds=value)
    return None


DURATION = Rule(lambda value: as_duration(value) is not None, "a positive timedelta or seconds")

WINDOW_EXPECTED = "a positive timedelta or a positive number of days"


def as_window(value: Any) -> timedelta | None:
    """A retention window: a positive ``timedelta``, or a positive number of days as one;
    ``None`` for anything else (a bool is no number of days)."""
    if isinstance(value, timedelta):
        return value if value > timedelta(0) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        try:
            return timedelta(days=value)
        except OverflowError:
            return None
    return None


def window_problems(value: Any) -> list[str]:
    """What is wrong with a ``keep`` value (one phrase), for the system checks."""
    return [] if as_window(value) is not None else [f"must be {WINDOW_EXPECTED}, got {value!r}"]


def keep_for_problems(value: Any) -> list[str]:
    """What is wrong with a ``keep_for`` value: not a dict, or a window that is none."""
    if not isinstance(value, Mapping):
        return [f"must be a dict of keep_by value -> window, got {type(value).__name__}"]
    return [
        f"[{key!r}] must be {WINDOW_EXPECTED}, got {window!r}"
        for key, window in value.items()
        if as_window(window) is None
    ]


def _schedule_problems(value: Any) -> list[str]:
    try:
        parse_schedule(value)
    except InvalidSchedule as exc:
        return [f"is invalid: {exc}"]
    return []


@dataclass(frozen=True)
class Override:
    """One key of a task's override: what is wrong with a value (one phrase per problem), the
    system check that reports it, and one line of documentation."""

    name: str
    problems: Problems
    check_id: int
    doc: str


OVERRIDES: Mapping[str, Override] = MappingProxyType(
    {
        override.name: override
        for override in (
            Override(
                "schedule",
                _schedule_problems,
                1,
                "A 5-field cron string (or `cron(...)`/`every(...)`/`None`), replacing the code's "
                "schedule.",
            ),
            Override(
                "options",
                _rule(Rule(lambda value: isinstance(value, Mapping), "a dict")),
                4,
                "A dict merged over the code's `options` (e.g. a retention period in days).",
            ),
            Override(
                "enabled",
                _rule(BOOLEAN),
                4,
                '`False` takes the task out of the schedule, `"all"` and groups.',
            ),
            Override(
                "misfire_grace",
                _rule(SECONDS),
                4,
                "Seconds after its slot a scheduled run may still start, as the decorator "
                "argument.",
            ),
            Override("coalesce", _rule(BOOLEAN), 4, "`True`/`False`, as the decorator argument."),
            Override(
                "expect_success_every",
                _rule(DURATION),
                4,
                "A `timedelta` (or seconds): the task is overdue, and the site unhealthy, when it "
                "has not succeeded for this long (see [health](observability.md#health)).",
            ),
            Override(
                "keep",
                window_problems,
                12,
                "A retention policy's window (a `timedelta` or a number of days), replacing "
                "`retention(keep=...)` (see [retention](retention.md#per-deployment-windows)).",
            ),
            Override(
                "keep_for",
                keep_for_problems,
                12,
                "A retention policy's per-`keep_by` windows (`{value: timedelta or days}`), "
                "merged key by key over `retention(keep_for=...)`.",
            ),
            Override(
                "retries",
                _rule(Rule(is_non_negative_int, "a whole number, 0 or more")),
                4,
                "How many times an `interrupted` run (its process died) is run again, as a new "
                "attempt of the same slot, as the decorator argument (see [retries](history.md"
                "#retries)).",
            ),
            Override(
                "ping_url",
                ping_url_problems,
                19,
                'The task\'s cron-monitor check-in URL (`{task}` stands for its name; `""`: no '
                "check-ins), replacing the decorator's and `PING_URL` (see [check-ins]"
                "(observability.md#cron-monitor-check-ins)).",
            ),
            Override(
                "sentry_monitor",
                _rule(Rule(lambda value: isinstance(value, str), "a monitor slug (a string)")),
                4,
                'The slug of the task\'s Sentry Crons monitor (`""`: none), as the decorator '
                "argument.",
            ),
            Override(
                "purge",
                purge_option_errors,
                8,
                "A dict merged over the decorator's `purge={...}`: `batch_size`, `max_rows`, "
                "`max_fraction`, `max_seconds`, `archive`, `partitions` (see "
                "[purge](purge.md#options)).",
            ),
        )
    }
)


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


def declared_schedule(value: object) -> dict[str, Any]:
    """``schedule=`` as the code declares it, as ``TaskOptions`` keywords: a schedule that cannot
    be read is kept as ``schedule_error`` (the system check E016 names the task and the value)
    instead of raising while the app's ``housekeeping.py`` is imported, which would stop every
    ``manage.py`` command, ``migrate`` included."""
    try:
        return {"schedule": parse_schedule(value)}
    except InvalidSchedule as exc:
        return {"schedule_error": f"schedule={value!r}: {exc}"}


@dataclass(frozen=True)
class TaskOptions:
    """A task's options as the code declares them (or, merged, as they are in effect)."""

    schedule: Schedule | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: _frozen(None), hash=False)
    enabled: bool = True
    misfire_grace: float | None = None
    coalesce: bool = True
    expect_success_every: timedelta | None = None
    retries: int = 0
    purge: Mapping[str, Any] = field(default_factory=lambda: _frozen(None), hash=False)
    ping_url: str | None = None
    sentry_monitor: str | None = None
    # Why the declared schedule (E016) or an override's (E001) could not be read; the task's
    # schedule raises it.
    schedule_error: str | None = None

    def merged(self, override: Mapping[str, Any]) -> TaskOptions:
        """These options with a deployment's override applied: the ``options`` and ``purge``
        dicts merged key by key, the others replaced. Keys and values the system checks refuse
        are left out; an invalid schedule is kept as ``schedule_error``, for where it is read."""
        changes: dict[str, Any] = {}
        if "schedule" in override:
            try:
                changes["schedule"] = parse_schedule(override["schedule"])
                changes["schedule_error"] = None  # a valid override replaces a bad declared one
            except InvalidSchedule as exc:
                changes["schedule_error"] = str(exc)
        for name in ("options", "purge"):
            if isinstance(override.get(name), Mapping):
                changes[name] = _frozen({**getattr(self, name), **override[name]})
        for name in ("enabled", "coalesce"):
            if isinstance(override.get(name), bool):
                changes[name] = override[name]
        expected = as_duration(override.get("expect_success_every"))
        if expected is not None:
            changes["expect_success_every"] = expected
        if is_non_negative_int(override.get("retries")):
            changes["retries"] = override["retries"]
        for name in ("ping_url", "sentry_monitor"):
            if isinstance(override.get(name), str):
                changes[name] = override[name]
        if SECONDS(override.get("misfire_grace")):
            changes["misfire_grace"] = float(override["misfire_grace"])
        return replace(self, **changes) if changes else self
