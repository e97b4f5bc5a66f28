"""System checks for ``settings.HOUSEKEEPING`` and the registered tasks.

Every check has a stable ID, documented in docs/checks.md:

- ``django_housekeeping.E001`` a schedule in ``HOUSEKEEPING["TASKS"]`` is invalid.
- ``django_housekeeping.E002`` ``HOUSEKEEPING["TASKS"]`` names a task that is not registered.
- ``django_housekeeping.E003`` ``HOUSEKEEPING`` has a key this version does not know.
- ``django_housekeeping.E004`` a task override is malformed (not a dict, unknown key, wrong type).
- ``django_housekeeping.E005`` ``HOUSEKEEPING`` or one of its values has the wrong type.
- ``django_housekeeping.E006`` a group names an unknown task or contains itself.
- ``django_housekeeping.E007`` ``EXECUTOR`` is "django_tasks" but no Tasks framework is installed.
- ``django_housekeeping.E008`` a task's ``purge`` override is malformed.
- ``django_housekeeping.E009`` purges archive rows, but ``PURGE_ARCHIVE_DIR`` is not set.
- ``django_housekeeping.E010`` ``HEARTBEAT_TIMEOUT`` is not longer than ``HEARTBEAT_INTERVAL``.
- ``django_housekeeping.E011`` a retention policy's ``field`` is no date or datetime field of its
  model.
- ``django_housekeeping.E012`` a retention window in ``HOUSEKEEPING["TASKS"]`` (``keep``,
  ``keep_for``) is invalid, or given for a task that is no retention policy (or ``keep_for`` for a
  policy without ``keep_by``).
- ``django_housekeeping.E013`` a retention policy's ``keep_by`` does not resolve to one value per
  row (a field, through forward relations).
- ``django_housekeeping.E014`` ``REPLICAS`` names a database alias that is not in ``DATABASES``.
- ``django_housekeeping.E015`` ``ERASABLE_MODELS`` has a label that names no installed model or
  app, or a model that is never erasable.
- ``django_housekeeping.E016`` a schedule declared in code (``@housekeeping_task``, ``group()``,
  ``retention()``) is invalid.
- ``django_housekeeping.E017`` ``after=`` names a task or group that is not registered.
- ``django_housekeeping.E018`` ``after=`` declarations make a cycle (no order can satisfy them).
- ``django_housekeeping.E019`` a cron-monitor check-in URL (``PING_URL``, a task's ``ping_url``)
  is malformed.
- ``django_housekeeping.W001`` one of the library's named URLs resolves to another view.
- ``django_housekeeping.W002`` a retention policy's ``field`` has no index: each run scans the
  table.
- ``django_housekeeping.W003`` a task named ``stats`` exists and ``STATISTICS_TASK`` is not set:
  the statistics no longer show its results (0.1's default).
- ``django_housekeeping.W004`` another package named ``django_housekeeping`` is installed (Debian's
  ``python3-django-housekeeping`` is another project).
- ``django_housekeeping.W005`` a task has a ``sentry_monitor`` but ``sentry_sdk`` is not installed:
  it sends no Sentry check-in.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from importlib.util import find_spec
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist
from django.core.management.commands.migrate import Command as MigrateCommand
from django.db import models
from django.urls import URLPattern, get_resolver, resolve, reverse
from django.urls.resolvers import RoutePattern

from django_housekeeping.conf.packages import imported_package, other_packages
from django_housekeeping.conf.ping_urls import ping_url_problems
from django_housekeeping.conf.settings import (
    DEFAULTS,
    SETTING_NAME,
    SETTINGS,
    is_aliases,
    is_positive,
)
from django_housekeeping.purging.erasable import DENIED_APPS, denied
from django_housekeeping.tasks import order
from django_housekeeping.tasks.options import OVERRIDES
from django_housekeeping.tasks.registry import ALL, discovery_errors, registry
from django_housekeeping.tasks.retention import RetentionPolicy, policies

# Every check of the library carries this tag: the health runs them alone
# (``checks.run_checks(tags=[TAG])``), and ``manage.py check --tag django_housekeeping`` too.
TAG = "django_housekeeping"


DECLARED_SCHEDULE = "django_housekeeping.E016"


def _error(number: int, msg: str, hint: str | None = None) -> Error:
    return Error(msg, hint=hint, id=f"django_housekeeping.E{number:03d}")


@register(TAG)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``E003``/``E005`` for the settings table, ``E001``/``E002``/``E004``/``E008`` for the
    per-task overrides table: each key checked by the rule its table declares."""
    user_settings = getattr(settings, SETTING_NAME, {})
    if not isinstance(user_settings, Mapping):
        return [_error(5, f"{SETTING_NAME} must be a dict, got {type(user_settings).__name__}.")]
    errors: list[CheckMessage] = []
    for key in sorted(set(user_settings) - set(DEFAULTS), key=repr):
        errors.append(
            _error(
                3,
                f"{SETTING_NAME} has an unknown key {key!r}.",
                hint=f"Valid keys: {', '.join(sorted(DEFAULTS))}.",
            )
        )
    errors.extend(
        _error(
            5,
            f"{SETTING_NAME}[{item.name!r}] must be {item.rule.expected}, "
            f"got {user_settings[item.name]!r}.",
        )
        for item in SETTINGS
        if item.name in user_settings and not item.rule(user_settings[item.name])
    )
    tasks = user_settings.get("TASKS", {})
    if isinstance(tasks, Mapping):
        for name, override in tasks.items():
            errors.extend(_check_task_override(name, override))
    return errors


def _check_task_override(name: Any, override: Any) -> list[CheckMessage]:
    where = f"{SETTING_NAME}['TASKS'][{name!r}]"
    if name == ALL or name not in registry:
        return [
            _error(
                2,
                f"{where} names a task that is not registered.",
                hint=f"Registered tasks: {', '.join(task.name for task in registry) or '(none)'}.",
            )
        ]
    if not isinstance(override, Mapping):
        return [_error(4, f"{where} must be a dict, got {type(override).__name__}.")]
    errors: list[CheckMessage] = [
        _error(
            4,
            f"{where} has an unknown key {key!r}.",
            hint=f"Valid keys: {', '.join(sorted(OVERRIDES))}.",
        )
        for key in sorted(set(override) - set(OVERRIDES), key=repr)
    ]
    for key, item in OVERRIDES.items():
        if key in override:
            errors.extend(
                _error(item.check_id, f"{where}[{key!r}] {problem}.")
                for problem in item.problems(override[key])
            )
    return errors


def _checking_for_migrate() -> bool:
    """Whether these checks run for ``migrate`` (or a command derived from it).

    The arguments cannot tell: up to Django 6.0 ``migrate`` alone passed ``databases``, and from
    6.1 every command passes it (all the aliases when none is named). The command running the
    checks is on the call stack, found through ``inspect``'s public frame API."""
    frame = inspect.currentframe()
    while frame is not None:
        if isinstance(frame.f_locals.get("self"), MigrateCommand):
            return True
        frame = frame.f_back
    return False


@register(TAG)
def check_declared_schedules(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``E016``: a schedule the code declares that cannot be read — kept by the decorator (or
    by the discovery, for a ``cron(...)`` that raised in a module) rather than raised on import.

    When the checks run for ``migrate``, it is a warning with the same ID: a task's schedule has
    nothing to do with the schema, and a typo in a cron must not keep a deploy from migrating."""
    level = Warning if _checking_for_migrate() else Error
    messages: list[CheckMessage] = [
        level(
            f"Task {task.name!r} declares an invalid schedule: {task.declared.schedule_error}.",
            hint=f"Declared at {task.origin}. A cron expression has 5 fields (minute hour day "
            "month day_of_week); days of the week are 0-7 or sun, mon, … sat.",
            id=DECLARED_SCHEDULE,
        )
        for task in registry
        if task.declared.schedule_error is not None
    ]
    messages.extend(
        level(
            f"{module} declares an invalid schedule: {error}.",
            hint="None of this module's tasks is registered until it is fixed.",
            id=DECLARED_SCHEDULE,
        )
        for module, error in sorted(discovery_errors.items())
    )
    return messages


@register(TAG)
def check_other_packages(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``W004``: another ``django_housekeeping`` on the import path, which a change of the path
    (another virtualenv, ``--system-site-packages``) would import instead of this one."""
    return [
        Warning(
            f"Another package named django_housekeeping is installed at {other.path}: "
            f"{other.description}. This site imports {imported_package()}.",
            hint="Both install the same import name and a `housekeeping` command; uninstall one "
            "(apt remove python3-django-housekeeping, or pip uninstall in the other "
            "environment). See the FAQ in docs/faq.md.",
            id="django_housekeeping.W004",
        )
        for other in other_packages()
    ]


@register(TAG)
def check_retention_policies(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``E011``/``W002`` for a policy's field, ``E013`` for its ``keep_by``, ``E012`` for
    window overrides that no policy takes."""
    errors: list[CheckMessage] = []
    for task, declared in policies():
        errors.extend(_check_policy_field(task.name, declared))
        errors.extend(_check_keep_by(task.name, declared))
    user_settings = getattr(settings, SETTING_NAME, {})
    tasks = user_settings.get("TASKS", {}) if isinstance(user_settings, Mapping) else {}
    if not isinstance(tasks, Mapping):
        return errors
    mapping = registry.as_mapping()
    for name, override in tasks.items():
        found = mapping.get(name)
        if found is None or not isinstance(override, Mapping):
            continue  # E002/E004
        where = f"{SETTING_NAME}['TASKS'][{name!r}]"
        policy = found.func if isinstance(found.func, RetentionPolicy) else None
        is_policy = policy is not None
        for key in ("keep", "keep_for"):
            if key in override and not is_policy:
                errors.append(
                    _error(
                        12,
                        f"{where}[{key!r}] is set, but {name!r} is no retention policy.",
                        hint="Only tasks registered with retention() have retention windows.",
                    )
                )
        if policy is not None and "keep_for" in override and policy.keep_by is None:
            errors.append(
                _error(
                    12,
                    f"{where}['keep_for'] is set, but the policy {name!r} has no keep_by.",
                    hint="Declare retention(..., keep_by=...) to name the value its keys are of.",
                )
            )
    return errors


def _check_policy_field(name: str, policy: RetentionPolicy) -> list[CheckMessage]:
    model = policy.model
    try:
        field = model._meta.get_field(policy.field)
    except FieldDoesNotExist:
        return [
            _error(
                11,
                f"Retention policy {name!r}: {policy.label} has no field {policy.field!r}.",
                hint="field= names a date or datetime field of the model.",
            )
        ]
    if not isinstance(field, models.DateField) or not field.concrete:
        return [
            _error(
                11,
                f"Retention policy {name!r}: {policy.label}.{policy.field} is a "
                f"{type(field).__name__}, not a date or datetime field.",
            )
        ]
    if _indexed(model, field):
        return []
    return [
        Warning(
            f"Retention policy {name!r}: {policy.label}.{policy.field} has no index, so each "
            "run reads the whole table to find the rows due.",
            hint="Add db_index=True, or an index that starts with the field to Meta.indexes.",
            id="django_housekeeping.W002",
        )
    ]


def _indexed(model: type[models.Model], field: Any) -> bool:
    """``db_index``, unique, the primary key, or the first column of one of ``Meta.indexes``."""
    if field.db_index or field.unique or field.primary_key:
        return True
    return any(
        index.fields and index.fields[0].lstrip("-") == field.name for index in model._meta.indexes
    )


def _check_keep_by(name: str, policy: RetentionPolicy) -> list[CheckMessage]:
    if policy.keep_by is None:
        return []
    problem = keep_by_problem(policy.model, policy.keep_by)
    if problem is None:
        return []
    return [
        _error(
            13,
            f"Retention policy {name!r}: keep_by={policy.keep_by!r} {problem}.",
            hint="keep_by names a field of the model, or of a model it points to through "
            'foreign keys or one-to-one relations ("owner__plan"): one value per row.',
        )
    ]


def keep_by_problem(model: type[models.Model], path: str) -> str | None:
    """Why ``path`` is no single value of each of ``model``'s rows, or ``None``."""
    opts = model._meta
    parts = path.split("__")
    for position, part in enumerate(parts):
        try:
            field = opts.get_field(part)
        except FieldDoesNotExist:
            return f"names no field {part!r} of {opts.label}"
        last = position == len(parts) - 1
        if field.is_relation and (field.many_to_many or field.one_to_many):
            return f"goes through {opts.label}.{part}, which has many values per row"
        if last:
            return None
        if not field.is_relation or field.related_model is None:
            return f"goes on after {opts.label}.{part}, which is no relation"
        opts = field.related_model._meta
    return None


@register(TAG)
def check_heartbeats(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A run beats every HEARTBEAT_INTERVAL seconds: a shorter timeout would interrupt live runs."""
    user_settings = getattr(settings, SETTING_NAME, {})
    if not isinstance(user_settings, Mapping):
        return []
    interval = user_settings.get("HEARTBEAT_INTERVAL", DEFAULTS["HEARTBEAT_INTERVAL"])
    timeout = user_settings.get("HEARTBEAT_TIMEOUT", DEFAULTS["HEARTBEAT_TIMEOUT"])
    if not (is_positive(interval) and is_positive(timeout)) or timeout > interval:
        return []  # E005 reports a value that is no positive number
    return [
        _error(
            10,
            f"{SETTING_NAME}['HEARTBEAT_TIMEOUT'] ({timeout!r} s) must be longer than "
            f"HEARTBEAT_INTERVAL ({interval!r} s): live runs would be marked interrupted.",
            hint="Make the timeout several intervals long (the defaults are 60 and 10).",
        )
    ]


@register(TAG)
def check_purge_archive(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Archiving (globally or for any task) needs the directory the archives go to."""
    user_settings = getattr(settings, SETTING_NAME, {})
    if not isinstance(user_settings, Mapping) or user_settings.get("PURGE_ARCHIVE_DIR"):
        return []
    archiving = ["every purge"] if user_settings.get("PURGE_ARCHIVE") is True else []
    for task in registry:
        try:
            archive = task.purge_options.get("archive")
        except (AttributeError, TypeError):  # a malformed override: E004/E008 report it
            continue
        if archive is True:
            archiving.append(f"task {task.name!r}")
    if not archiving:
        return []
    return [
        _error(
            9,
            f"{', '.join(archiving)} archives purged rows, but {SETTING_NAME}"
            "['PURGE_ARCHIVE_DIR'] is not set.",
            hint="Set it to a directory the process may write to (it is created if missing).",
        )
    ]


@register(TAG)
def check_replicas(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every alias in ``REPLICAS`` is a database of ``DATABASES`` (the purges read its lag)."""
    user_settings = getattr(settings, SETTING_NAME, {})
    if not isinstance(user_settings, Mapping):
        return []
    replicas = user_settings.get("REPLICAS", [])
    if not is_aliases(replicas):
        return []  # E005
    return [
        _error(
            14,
            f"{SETTING_NAME}['REPLICAS'] names {alias!r}, which is not a database alias of "
            "DATABASES.",
            hint="List the aliases of your read replicas as DATABASES names them; a purge reads "
            "their replay lag on them.",
        )
        for alias in replicas
        if alias not in settings.DATABASES
    ]


@register(TAG)
def check_erasable_models(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every label of ``ERASABLE_MODELS`` names an installed model (``"app_label.Model"``) or an
    installed app (``"app_label.*"``), and none names a model that is never erasable."""
    user_settings = getattr(settings, SETTING_NAME, {})
    if not isinstance(user_settings, Mapping):
        return []
    labels = user_settings.get("ERASABLE_MODELS")
    if not isinstance(labels, list | tuple):
        return []  # None (the default scope), or E005
    errors: list[CheckMessage] = []
    for label in labels:
        if not isinstance(label, str):
            continue  # E005
        problem = erasable_label_problem(label)
        if problem is not None:
            errors.append(
                _error(
                    15,
                    f"{SETTING_NAME}['ERASABLE_MODELS'] has {label!r}: {problem}.",
                    hint='Name models as "app_label.Model" and whole apps as "app_label.*", as '
                    "INSTALLED_APPS label them; see docs/retention.md#erasure-scope.",
                )
            )
    return errors


def erasable_label_problem(label: str) -> str | None:
    """What is wrong with one label of ``ERASABLE_MODELS``, or ``None``."""
    app_label, dot, model_name = label.partition(".")
    if not dot or not app_label or not model_name or "." in model_name:
        return 'not "app_label.Model" nor "app_label.*"'
    try:
        app_config = apps.get_app_config(app_label)
    except LookupError:
        return f"no installed app is labelled {app_label!r}"
    if model_name == "*":
        if app_label in DENIED_APPS:
            return f"the models of {app_label} are never erasable"
        return None
    try:
        model = app_config.get_model(model_name)
    except LookupError:
        return f"{app_label} has no model {model_name!r}"
    why = denied(model)
    return None if why is None else why.replace("never erased", "never erasable")


@register(TAG)
def check_groups(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for task in registry:
        for member in task.members:
            if member not in registry or member == ALL:
                errors.append(
                    _error(
                        6,
                        f"Group {task.name!r} names {member!r}, which is not a registered task.",
                        hint=f"Defined at {task.origin}.",
                    )
                )
        if task.is_group and _contains(task.name, task.name, set()):
            errors.append(_error(6, f"Group {task.name!r} contains itself."))
    return errors


@register(TAG)
def check_order(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``E017``: ``after=`` names no registered task; ``E018``: a cycle of ``after=``."""
    errors: list[CheckMessage] = []
    reported: set[frozenset[str]] = set()
    for task in registry:
        for unknown in order.unknown_after(task.name):
            errors.append(
                _error(
                    17,
                    f"{task.name!r} runs after={unknown!r}, which is not a registered task.",
                    hint=f"Defined at {task.origin}. Registered: {', '.join(registry.names())}.",
                )
            )
        cycle = order.cycle_through(task.name)
        if cycle is not None and frozenset(cycle) not in reported:
            reported.add(frozenset(cycle))
            errors.append(
                _error(
                    18,
                    f"The after= declarations make a cycle: {' -> '.join(cycle)}.",
                    hint=f"Remove one of them; {task.name!r} is defined at {task.origin}.",
                )
            )
    return errors


def _contains(group_name: str, wanted: str, seen: set[str]) -> bool:
    mapping = registry.as_mapping()
    for member in mapping[group_name].members:
        if member == wanted:
            return True
        if member in mapping and member not in seen:
            seen.add(member)
            if _contains(member, wanted, seen):
                return True
    return False


@register(TAG)
def check_executor(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    user_settings = getattr(settings, SETTING_NAME, {})
    if not isinstance(user_settings, Mapping) or user_settings.get("EXECUTOR") != "django_tasks":
        return []
    if find_spec("django.tasks") or find_spec("django_tasks"):
        return []
    return [
        _error(
            7,
            f"{SETTING_NAME}['EXECUTOR'] is 'django_tasks', but Django's Tasks framework is not "
            "installed.",
            hint="Use Django 6.0+, or install the backport: "
            "pip install django-housekeeping[tasks].",
        )
    ]


@register(TAG)
def check_checkins(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``E019`` for ``PING_URL`` and the tasks' declared ``ping_url`` (the overrides' in
    :func:`check_settings`), ``W005`` for Sentry monitors without ``sentry_sdk``."""
    user_settings = getattr(settings, SETTING_NAME, {})
    pattern = user_settings.get("PING_URL") if isinstance(user_settings, Mapping) else None
    errors: list[CheckMessage] = [
        _error(19, f"{SETTING_NAME}['PING_URL'] {problem}.")
        for problem in (
            ping_url_problems(pattern, pattern=True) if isinstance(pattern, str) else []
        )
    ]
    without_sentry = find_spec("sentry_sdk") is None
    for task in registry:
        errors.extend(
            _error(19, f"The ping_url of task {task.name!r} {problem}.")
            for problem in ping_url_problems(task.declared.ping_url)
        )
        if without_sentry and task.effective.sentry_monitor:
            errors.append(
                Warning(
                    f"Task {task.name!r} has the Sentry monitor "
                    f"{task.effective.sentry_monitor!r}, but sentry_sdk is not installed: it "
                    "sends no Sentry check-in.",
                    hint="pip install sentry-sdk, or remove the sentry_monitor.",
                    id="django_housekeeping.W005",
                )
            )
    return errors


# The URLconfs a project mounts, by module path and application namespace. They are named, not
# imported: the check must not import the faces (nor DRF, for a project without the API).
LIBRARY_URLCONFS = {
    "django_housekeeping": "django_housekeeping.urls",
    "django_housekeeping_api": "django_housekeeping.api.urls",
}
# What a URL argument is reversed with: every converter the library uses (str) accepts it.
SAMPLE_ARGUMENT = "1"


@register(Tags.urls, TAG)
def check_url_shadowing(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``W001``: a named URL of the library that the project's URLconf sends to another view.

    An earlier pattern of the project (an old ``api/admin/scheduler/status``, say) wins over the
    library's include for that one path, and the site serves a mix of old and new endpoints.
    """
    urlconf = getattr(settings, "ROOT_URLCONF", None)
    if not urlconf:
        return []
    try:
        mounted = get_resolver(urlconf).app_dict
        return [
            warning
            for app_name, module in LIBRARY_URLCONFS.items()
            if app_name in mounted  # a project that does not mount it gets no warning
            for warning in _shadowed(urlconf, app_name, module)
        ]
    except Exception:
        # A URLconf that does not import or does not resolve is Django's own checks' business
        # (urls.E00x): this check says nothing rather than crash `manage.py check`.
        return []


def _shadowed(urlconf: str, app_name: str, module: str) -> list[CheckMessage]:
    warnings: list[CheckMessage] = []
    for pattern in get_resolver(module).url_patterns:
        if not isinstance(pattern, URLPattern) or not pattern.name:
            continue
        if isinstance(pattern.pattern, RoutePattern):
            arguments = list(pattern.pattern.converters)
        else:
            arguments = list(pattern.pattern.regex.groupindex)
        url_name = f"{app_name}:{pattern.name}"
        path = reverse(url_name, urlconf=urlconf, kwargs=dict.fromkeys(arguments, SAMPLE_ARGUMENT))
        winner = resolve(path, urlconf=urlconf).func
        if winner is pattern.callback:
            continue
        warnings.append(
            Warning(
                f"The URL {path} ({url_name!r}) resolves to {_view_name(winner)}, not to "
                f"django_housekeeping's view: an earlier pattern of {urlconf} shadows it.",
                hint=f"Move the include({module!r}) before that pattern, or remove the old "
                "pattern.",
                id="django_housekeeping.W001",
            )
        )
    return warnings


def _view_name(func: Any) -> str:
    """The dotted path of a view (a class-based view's class)."""
    view = getattr(func, "view_class", func)
    return f"{view.__module__}.{getattr(view, '__qualname__', repr(view))}"


# The task 0.1 took the site's statistics from, before ``STATISTICS_TASK`` named it.
OLD_STATISTICS_TASK = "stats"


@register(TAG)
def check_statistics_task(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``W003``: a site that relied on 0.1's statistics default (the task named ``stats``)."""
    user_settings = getattr(settings, SETTING_NAME, None)
    if isinstance(user_settings, Mapping) and "STATISTICS_TASK" in user_settings:
        return []  # set, even to None: the site chose
    if OLD_STATISTICS_TASK not in registry.as_mapping():
        return []
    return [
        Warning(
            f'A task named {OLD_STATISTICS_TASK!r} exists and HOUSEKEEPING["STATISTICS_TASK"] '
            "is not set: since 0.2 the statistics (the API's and the dashboard's) no longer show "
            "its results.",
            hint=f'Add "STATISTICS_TASK": "{OLD_STATISTICS_TASK}" to HOUSEKEEPING (or None to keep '
            "the library's numbers only).",
            id="django_housekeeping.W003",
        )
    ]
