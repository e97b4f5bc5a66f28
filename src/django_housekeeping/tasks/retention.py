"""Declared retention policies: ``retention(Model, field=..., keep=...)`` registers a task.

A policy is an ordinary housekeeping task whose function is a :class:`RetentionPolicy`: each run
purges, through ``ctx.purge`` (batches, archive, limits, dry run), the rows whose ``field`` is
older than ``now - keep``. With ``keep_by`` and ``keep_for``, rows whose ``keep_by`` value (a
field of the model, or of a model it points to: ``"owner__plan"``) is a key of ``keep_for`` keep
that key's window instead. A deployment overrides the windows in
``HOUSEKEEPING["TASKS"][name]["keep"]`` and ``["keep_for"]``.

``retention()`` is called at import time (an app's ``housekeeping.py``) and reads no more of the
model than its label: whether the field exists, is a date and is indexed, and whether
``keep_by`` resolves, are the system checks' to say (``E011``, ``W002``, ``E013``), so that a
mistake is a readable check message rather than an import error. Importing this module imports
no models.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from django.db.models import Model, Q, QuerySet

from django_housekeeping.purging.options import purge_option_errors
from django_housekeeping.tasks.options import (
    WINDOW_EXPECTED,
    TaskOptions,
    as_window,
    declared_schedule,
)
from django_housekeeping.tasks.registry import names_after, registry
from django_housekeeping.tasks.task import HousekeepingTask

if TYPE_CHECKING:
    from django_housekeeping.tasks.context import TaskContext


def describe_window(window: timedelta) -> str:
    """``"30 days"``, ``"1 day"``, ``"12:00:00"``: a window as a person reads it."""
    if window % timedelta(days=1) == timedelta(0):
        days = window.days
        return f"{days} day{'' if days == 1 else 's'}"
    return str(window)


@dataclass(frozen=True)
class Window:
    """One retention window of a policy: the rows it applies to and how long they are kept.

    ``default`` is the window of every row no ``keep_for`` key names; otherwise ``value`` is the
    ``keep_by`` value it applies to. ``source`` is ``"code"`` or ``"settings"``.
    """

    keep: timedelta
    default: bool = True
    value: Any = None
    source: str = "code"

    def cutoff(self, now: datetime) -> datetime:
        """Rows whose field is older than this are due."""
        return now - self.keep


@dataclass(frozen=True, eq=False)
class RetentionPolicy:
    """What ``retention()`` declares; the function of the task it registers (called with the
    run's :class:`~django_housekeeping.tasks.context.TaskContext`)."""

    # Django's templates call what is callable: show the policy, do not run it.
    do_not_call_in_templates = True

    source: type[Model] | QuerySet[Any]
    field: str
    keep: timedelta
    keep_by: str | None = None
    keep_for: Mapping[Any, timedelta] = dataclass_field(
        default_factory=lambda: MappingProxyType({})
    )
    name: str = ""

    @property
    def model(self) -> type[Model]:
        return self.source.model if isinstance(self.source, QuerySet) else self.source

    @property
    def label(self) -> str:
        """``"app_label.Model"``."""
        return f"{self.model._meta.app_label}.{self.model._meta.object_name}"

    def queryset(self) -> QuerySet[Any]:
        """A fresh copy of the rows the policy governs (the declared queryset, or every row)."""
        if isinstance(self.source, QuerySet):
            return self.source.all()
        return self.model._default_manager.all()

    def windows(self, override: Mapping[str, Any] | None = None) -> list[Window]:
        """The windows in effect: the default one first, then one per ``keep_for`` key (in the
        declared order, then the settings' new keys), with ``HOUSEKEEPING["TASKS"][name]``'s
        ``keep`` and ``keep_for`` applied. Override values the checks refuse (``E012``) are
        ignored, and a ``keep_for`` override counts only for a policy with ``keep_by``."""
        override = override if override is not None else {}
        keep = as_window(override.get("keep"))
        windows = [Window(keep or self.keep, source="settings" if keep else "code")]
        per_value: dict[Any, Window] = {
            value: Window(window, default=False, value=value)
            for value, window in self.keep_for.items()
        }
        overridden = override.get("keep_for")
        if self.keep_by is not None and isinstance(overridden, Mapping):
            for value, window in overridden.items():
                valid = as_window(window)
                if valid is not None:
                    per_value[value] = Window(valid, default=False, value=value, source="settings")
        return [*windows, *per_value.values()]

    def due(self, now: datetime, windows: list[Window]) -> QuerySet[Any]:
        """The rows due at ``now`` under ``windows``: older than their window's cutoff."""
        lt = f"{self.field}__lt"
        default, *specific = windows
        if self.keep_by is None or not specific:
            return self.queryset().filter(**{lt: default.cutoff(now)})
        condition = Q()
        named = [window.value for window in specific if window.value is not None]
        for window in specific:
            if window.value is None:
                matches = Q(**{f"{self.keep_by}__isnull": True})
            else:
                matches = Q(**{self.keep_by: window.value})
            condition |= matches & Q(**{lt: window.cutoff(now)})
        others = ~Q(**{f"{self.keep_by}__in": named}) if named else Q()
        if len(named) < len(specific):  # NULL has a window of its own
            others &= Q(**{f"{self.keep_by}__isnull": False})
        condition |= others & Q(**{lt: default.cutoff(now)})
        return self.queryset().filter(condition)

    def cutoffs(self, now: datetime, windows: list[Window]) -> list[dict[str, Any]]:
        """The cutoffs a run used, as its result records them (JSON)."""
        return [
            {
                "default": window.default,
                "keep_by": None if window.default else self.keep_by,
                "value": window.value,
                "keep_seconds": window.keep.total_seconds(),
                "keep": describe_window(window.keep),
                "cutoff": window.cutoff(now).isoformat(),
                "source": window.source,
            }
            for window in windows
        ]

    def __call__(self, ctx: TaskContext) -> dict[str, Any]:
        """Purge the rows due at the run's ``now``; the purge result plus the cutoffs used."""
        windows = self.windows(ctx.task.override)
        result: dict[str, Any] = dict(ctx.purge(self.due(ctx.now, windows)))
        result["policy"] = {"model": self.label, "field": self.field, "keep_by": self.keep_by}
        result["cutoffs"] = self.cutoffs(ctx.now, windows)
        return result


def policies() -> Iterator[tuple[HousekeepingTask, RetentionPolicy]]:
    """Every registered retention policy, with its task, by name."""
    for task in registry:
        if isinstance(task.func, RetentionPolicy):
            yield task, task.func


def retention(
    model_or_queryset: type[Model] | QuerySet[Any],
    *,
    field: str,
    keep: timedelta | float,
    schedule: object = None,
    name: str | None = None,
    keep_by: str | None = None,
    keep_for: Mapping[Any, timedelta | float] | None = None,
    purge: Mapping[str, Any] | None = None,
    destructive: bool = True,
    description: str = "",
    tags: Iterable[str] = ("retention",),
    after: Iterable[str] = (),
) -> HousekeepingTask:
    """Register a retention policy: a task that purges the rows of ``model_or_queryset`` whose
    ``field`` (a date or datetime) is older than ``now - keep``; return its task handle.

    ``keep`` is a ``timedelta`` or a number of days. ``keep_by`` names a value of each row
    (a field, or a path through forward relations: ``"owner__plan"``) and ``keep_for`` maps such
    values to windows of their own (``{"pro": timedelta(days=365)}``); the other rows keep
    ``keep``. ``schedule``, ``purge``, ``destructive`` and ``after`` are the decorator's; the
    name defaults to ``"<app_label>.<model_name>_retention"``. Raises
    ``TypeError``/``ValueError`` for arguments that cannot make a policy,
    :class:`~django_housekeeping.AlreadyRegistered` for a name taken.
    """
    if isinstance(model_or_queryset, QuerySet):
        model: type[Model] = model_or_queryset.model
    elif isinstance(model_or_queryset, type) and issubclass(model_or_queryset, Model):
        model = model_or_queryset
    else:
        raise TypeError(f"retention() needs a model class or a queryset, got {model_or_queryset!r}")
    if not isinstance(field, str) or not field or "__" in field:
        raise ValueError(
            f"retention(field=...) must name a date or datetime field of {model.__name__}, "
            f"got {field!r}"
        )
    window = as_window(keep)
    if window is None:
        raise ValueError(f"retention(keep=...) must be {WINDOW_EXPECTED}, got {keep!r}")
    if keep_by is not None and (not isinstance(keep_by, str) or not keep_by.strip()):
        raise ValueError(
            f"retention(keep_by=...) must be a field path such as 'owner__plan', got {keep_by!r}"
        )
    if keep_for is not None and not isinstance(keep_for, Mapping):
        raise TypeError(
            f"retention(keep_for=...) must be a dict of keep_by value -> window, got "
            f"{type(keep_for).__name__}"
        )
    if keep_for and keep_by is None:
        raise ValueError("retention(keep_for=...) needs keep_by: the value its keys are of")
    windows: dict[Any, timedelta] = {}
    for value, value_window in (keep_for or {}).items():
        valid = as_window(value_window)
        if valid is None:
            raise ValueError(
                f"retention(keep_for={{{value!r}: ...}}) must be {WINDOW_EXPECTED}, got "
                f"{value_window!r}"
            )
        windows[value] = valid
    purge_errors = purge_option_errors(purge if purge is not None else {})
    if purge_errors:
        raise ValueError(f"retention(purge=...) {'; '.join(purge_errors)}")
    if name is None:
        name = f"{model._meta.app_label}.{model._meta.model_name}_retention"
    policy = RetentionPolicy(
        source=model_or_queryset,
        field=field,
        keep=window,
        keep_by=keep_by,
        keep_for=MappingProxyType(windows),
        name=name,
    )
    if not description:
        per = f", per {keep_by}" if keep_by else ""
        description = (
            f"Retention: delete {policy.label} rows whose {field} is older than "
            f"{describe_window(window)}{per}"
        )
    return registry.register(
        HousekeepingTask(
            name=name,
            func=policy,
            declared=TaskOptions(
                **declared_schedule(schedule),
                purge=MappingProxyType(dict(purge or {})),
            ),
            description=description,
            tags=(tags,) if isinstance(tags, str) else tuple(tags),
            origin=f"retention policy {name!r}{_caller()}",
            destructive=bool(destructive),
            after=names_after(after),
        )
    )


def _caller() -> str:
    """`` (file:line)`` of the code that called ``retention()``."""
    frame = inspect.currentframe()
    for _ in range(2):
        frame = frame.f_back if frame is not None else None
    return f" ({frame.f_code.co_filename}:{frame.f_lineno})" if frame is not None else ""
