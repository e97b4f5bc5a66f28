"""The task registry, and the decorator and ``group()`` that register tasks into it.

Shaped like ``django.contrib.admin``'s site: ``register``/``unregister``/``get``, iteration, an
``AlreadyRegistered`` error and ``autodiscover()`` over every installed app's ``housekeeping.py``.
The decorator returns the :class:`~django_housekeeping.tasks.task.HousekeepingTask` it registers:
the task's handle, still callable like the function.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from importlib import import_module
from types import MappingProxyType
from typing import Any, overload

from django.apps import apps
from django.utils.module_loading import module_has_submodule

from django_housekeeping.conf.ping_urls import ping_url_problems
from django_housekeeping.conf.settings import is_non_negative_int
from django_housekeeping.purging.options import purge_option_errors
from django_housekeeping.tasks.options import TaskOptions, as_duration, declared_schedule
from django_housekeeping.tasks.schedules import InvalidSchedule
from django_housekeeping.tasks.task import HousekeepingTask

ALL = "all"

TaskFunction = Callable[..., Any]


class AlreadyRegistered(Exception):
    """Two tasks were registered under one name."""


class NotRegistered(LookupError):
    """No task has the name asked for."""

    def __init__(self, name: str, valid_names: Iterable[str]) -> None:
        self.name = name
        self.valid_names = sorted(valid_names)
        super().__init__(
            f"unknown task {name!r}; valid tasks: {', '.join(self.valid_names) or '(none)'}"
        )

    def __str__(self) -> str:
        return str(self.args[0])


class TaskRegistry:
    """Every task known to this process, by name."""

    def __init__(self) -> None:
        self._registry: dict[str, HousekeepingTask] = {}

    def register(self, task: HousekeepingTask) -> HousekeepingTask:
        if not isinstance(task.name, str) or not task.name.strip():
            raise ValueError(f"a housekeeping task needs a non-empty name, got {task.name!r}")
        if task.name == ALL:
            raise AlreadyRegistered(
                f"the task name {ALL!r} is reserved for every enabled task ({task.origin})"
            )
        existing = self._registry.get(task.name)
        if existing is not None:
            raise AlreadyRegistered(
                f"a housekeeping task named {task.name!r} is already registered by "
                f"{existing.origin}; {task.origin} registers it again"
            )
        self._registry[task.name] = task
        return task

    def unregister(self, name: str) -> None:
        if name not in self._registry:
            raise NotRegistered(name, self._registry)
        del self._registry[name]

    def get(self, name: str) -> HousekeepingTask:
        """The task called ``name``; ``"all"`` is a group of every enabled task."""
        if name == ALL:
            return HousekeepingTask(
                name=ALL,
                func=None,
                description="Every enabled task",
                members=tuple(task.name for task in self if not task.is_group and task.enabled),
                origin="django_housekeeping",
            )
        try:
            return self._registry[name]
        except KeyError:
            raise NotRegistered(name, self.names()) from None

    def is_destructive(self, name: str) -> bool:
        """Whether running the task may delete anything: a task unless it declares
        ``destructive=False``, a group if any of its members is."""
        return self._destructive(self.get(name), set())

    def _destructive(self, task: HousekeepingTask, seen: set[str]) -> bool:
        if not task.is_group:
            return task.destructive
        seen.add(task.name)
        return any(
            self._destructive(self.get(member), seen)
            for member in task.members
            if member in self and member not in seen
        )

    def names(self) -> list[str]:
        """Every name ``get`` accepts, ``"all"`` included."""
        return sorted([*self._registry, ALL])

    def __contains__(self, name: object) -> bool:
        return name == ALL or name in self._registry

    def __iter__(self) -> Iterator[HousekeepingTask]:
        return iter(sorted(self._registry.values(), key=lambda task: task.name))

    def __len__(self) -> int:
        return len(self._registry)

    def __bool__(self) -> bool:
        # Always true, like Django's admin site: autodiscover_modules(register_to=...) takes its
        # snapshot of the registry only `if register_to:`, and an empty registry must not skip
        # it (restoring a snapshot never taken hides the module's error behind an
        # UnboundLocalError).
        return True

    def as_mapping(self) -> Mapping[str, HousekeepingTask]:
        return MappingProxyType(self._registry)


registry = TaskRegistry()


def _check_signature(func: Callable[..., Any]) -> None:
    """A task is called as ``func()`` or ``func(ctx)``: reject what cannot be called so."""
    parameters = inspect.signature(func).parameters
    if len(parameters) > 1:
        raise TypeError(
            f"{_origin(func)} takes {len(parameters)} arguments; a housekeeping task "
            "takes none or one (the TaskContext)"
        )
    for parameter in parameters.values():
        if (
            parameter.kind is inspect.Parameter.KEYWORD_ONLY
            and parameter.default is parameter.empty
        ):
            raise TypeError(
                f"{_origin(func)} takes the keyword-only argument {parameter.name!r}; a "
                "housekeeping task is given its TaskContext as its one positional argument"
            )


def _origin(func: Callable[..., Any]) -> str:
    where = _qualified_name(func)
    try:
        filename = inspect.getsourcefile(func)
        _, line = inspect.getsourcelines(func)
    except (OSError, TypeError):
        return where
    return f"{where} ({filename}:{line})"


def _qualified_name(func: Callable[..., Any]) -> str:
    """``"<module>.<qualname>"``; for a callable without them (a partial), its repr."""
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return f"{module}.{qualname}"
    return repr(func)


@overload
def housekeeping_task(func: TaskFunction, /) -> HousekeepingTask: ...


@overload
def housekeeping_task(
    *,
    name: str | None = None,
    schedule: object = None,
    options: Mapping[str, Any] | None = None,
    description: str = "",
    enabled: bool = True,
    timeout: float | None = None,
    tags: Iterable[str] = (),
    misfire_grace: float | None = None,
    coalesce: bool = True,
    purge: Mapping[str, Any] | None = None,
    destructive: bool = True,
    expect_success_every: timedelta | None = None,
    retries: int = 0,
    ping_url: str | None = None,
    sentry_monitor: str | None = None,
    after: Iterable[str] = (),
) -> Callable[[TaskFunction], HousekeepingTask]: ...


def housekeeping_task(
    func: TaskFunction | None = None,
    /,
    *,
    name: str | None = None,
    schedule: object = None,
    options: Mapping[str, Any] | None = None,
    description: str = "",
    enabled: bool = True,
    timeout: float | None = None,
    tags: Iterable[str] = (),
    misfire_grace: float | None = None,
    coalesce: bool = True,
    purge: Mapping[str, Any] | None = None,
    destructive: bool = True,
    expect_success_every: timedelta | None = None,
    retries: int = 0,
    ping_url: str | None = None,
    sentry_monitor: str | None = None,
    after: Iterable[str] = (),
) -> HousekeepingTask | Callable[[TaskFunction], HousekeepingTask]:
    """Register a function as a housekeeping task; return the task's handle.

    The handle is a frozen :class:`~django_housekeeping.tasks.task.HousekeepingTask`, callable
    like the function, with ``.name``, ``.run(dry_run=…)`` and ``.dispatch()``.

    Works bare (``@housekeeping_task``) and with arguments. The function takes no argument or one
    :class:`~django_housekeeping.tasks.context.TaskContext`. ``purge`` holds the options
    ``ctx.purge`` uses (``batch_size``, ``max_rows``, ``max_fraction``, ``max_seconds``,
    ``archive``, ``partitions``).
    ``destructive=False`` declares a read-only task (statistics, say): the admin runs it without
    asking for a confirmation first.
    ``expect_success_every`` (a ``timedelta``) is how long the task may go without succeeding
    before it counts as overdue; by default two intervals of its schedule plus its misfire grace.
    ``retries`` is how many times a run whose process died (``interrupted``) is run again, as a
    new attempt of the same slot (default 0: never). ``after`` names the tasks (or groups) it
    runs after when a group or ``"all"`` runs it (docs/tasks.md#order).
    ``ping_url`` is the task's cron-monitor check-in URL (``GET {url}/start``, ``{url}``,
    ``{url}/fail``; ``{task}`` in it stands for the name), ``sentry_monitor`` the slug of its
    Sentry Crons monitor (docs/observability.md).
    """
    url_errors = ping_url_problems(ping_url)
    if url_errors:
        raise ValueError(f"@housekeeping_task(ping_url=...) {'; '.join(url_errors)}")
    if sentry_monitor is not None and not isinstance(sentry_monitor, str):
        raise ValueError(
            f"@housekeeping_task(sentry_monitor=...) must be a string, got {sentry_monitor!r}"
        )
    if not is_non_negative_int(retries):
        raise ValueError(
            f"@housekeeping_task(retries=...) must be a whole number, 0 or more, got {retries!r}"
        )
    if expect_success_every is not None and as_duration(expect_success_every) is None:
        raise ValueError(
            "@housekeeping_task(expect_success_every=...) must be a positive timedelta, got "
            f"{expect_success_every!r}"
        )
    purge_errors = purge_option_errors(purge if purge is not None else {})
    if purge_errors:
        raise ValueError(f"@housekeeping_task(purge=...) {'; '.join(purge_errors)}")

    def decorator(function: TaskFunction) -> HousekeepingTask:
        if not callable(function):
            raise TypeError(f"@housekeeping_task needs a function, got {function!r}")
        _check_signature(function)
        return registry.register(
            HousekeepingTask(
                name=_qualified_name(function) if name is None else name,
                func=function,
                declared=TaskOptions(
                    **declared_schedule(schedule),
                    options=MappingProxyType(dict(options or {})),
                    enabled=enabled,
                    misfire_grace=misfire_grace,
                    coalesce=coalesce,
                    expect_success_every=as_duration(expect_success_every),
                    retries=retries,
                    purge=MappingProxyType(dict(purge or {})),
                    ping_url=ping_url,
                    sentry_monitor=sentry_monitor,
                ),
                description=description or inspect.getdoc(function) or "",
                timeout=timeout,
                tags=_tags(tags),
                origin=_origin(function),
                destructive=bool(destructive),
                after=names_after(after),
            )
        )

    if func is not None:
        return decorator(func)
    return decorator


def group(
    name: str,
    members: Iterable[str],
    *,
    schedule: object = None,
    description: str = "",
    enabled: bool = True,
    tags: Iterable[str] = (),
    after: Iterable[str] = (),
) -> HousekeepingTask:
    """Register a task made of other tasks, run one after the other by name: in the order
    listed, except that a member declaring ``after=`` runs after those it names
    (docs/tasks.md#order). ``after`` orders the group itself within another group.

    A failing member does not stop the others; the group fails if any member failed.
    """
    member_names = (members,) if isinstance(members, str) else tuple(members)
    if not member_names:
        raise ValueError(f"group {name!r} needs at least one member task")
    caller = inspect.currentframe()
    caller = caller.f_back if caller is not None else None
    where = f" ({caller.f_code.co_filename}:{caller.f_lineno})" if caller is not None else ""
    return registry.register(
        HousekeepingTask(
            name=name,
            func=None,
            declared=TaskOptions(**declared_schedule(schedule), enabled=enabled),
            description=description or f"Runs {', '.join(member_names)}",
            tags=_tags(tags),
            members=member_names,
            origin=f"group {name!r}{where}",
            after=names_after(after),
        )
    )


def names_after(after: Iterable[str]) -> tuple[str, ...]:
    """``after="stats"`` is one name; anything but names is refused at once."""
    names = (after,) if isinstance(after, str) else tuple(after)
    if not all(isinstance(name, str) and name for name in names):
        raise TypeError(f"after= must be task names, got {after!r}")
    return names


def _tags(tags: Iterable[str]) -> tuple[str, ...]:
    """``tags="retention"`` is one tag, not nine one-letter ones."""
    return (tags,) if isinstance(tags, str) else tuple(tags)


# The apps whose housekeeping.py raised InvalidSchedule when imported (a bad ``cron(...)`` in a
# decorator's arguments), by module: what the system check E016 reports.
discovery_errors: dict[str, str] = {}


def autodiscover() -> None:
    """Import ``housekeeping.py`` from every installed app, registering its tasks.

    As Django's ``autodiscover_modules`` does (a module that fails to import leaves none of its
    registrations behind and its error is raised), except that an ``InvalidSchedule`` is kept in
    ``discovery_errors`` for the system checks: a mistyped cron expression is a configuration
    error like one in the settings, and must not stop ``migrate`` or ``shell``.
    """
    for app_config in apps.get_app_configs():
        module = f"{app_config.name}.housekeeping"
        before_import = dict(registry._registry)
        try:
            import_module(module)
        except InvalidSchedule as exc:
            registry._registry = before_import
            discovery_errors[module] = f"{_where(exc, module)}{exc}"
        except Exception:
            registry._registry = before_import
            if module_has_submodule(app_config.module, "housekeeping"):
                raise
        else:
            discovery_errors.pop(module, None)


def _where(exc: BaseException, module: str) -> str:
    """``"file:line: "`` of the line of ``module`` that raised ``exc``, or nothing."""
    found = ""
    for frame, line in traceback.walk_tb(exc.__traceback__):
        if frame.f_globals.get("__name__") == module:
            found = f"{frame.f_code.co_filename}:{line}: "
    return found
