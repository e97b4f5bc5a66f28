"""Which models an erasure request may delete a row of (docs/retention.md#erasure-scope).

Two layers, asked by the control layer on every face: the denylist of
:mod:`django_housekeeping.purging.erasable` (never erasable, whatever the settings say; the
engine's ``erase()`` refuses it too), then the deployment's scope, ``ERASABLE_MODELS``:
``"app_label.Model"`` or ``"app_label.*"`` labels; ``None`` (the default) means
``AUTH_USER_MODEL`` and every model of the apps that declare housekeeping tasks or retention
policies.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.db.models import Model

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.purging.erasable import denied
from django_housekeeping.tasks.registry import registry
from django_housekeeping.tasks.retention import RetentionPolicy

__all__ = ["default_labels", "refusal"]


def default_labels() -> list[str]:
    """The scope when ``ERASABLE_MODELS`` is ``None``: ``AUTH_USER_MODEL``, then
    ``"app_label.*"`` for each app declaring a task (the module of its function) or a retention
    policy (its model's app), sorted."""
    app_labels: set[str] = set()
    for task in registry:
        if isinstance(task.func, RetentionPolicy):
            app_labels.add(task.func.model._meta.app_label)
        elif task.func is not None:
            config = apps.get_containing_app_config(getattr(task.func, "__module__", "") or "")
            if config is not None:
                app_labels.add(config.label)
    return [settings.AUTH_USER_MODEL, *(f"{label}.*" for label in sorted(app_labels))]


def _labels() -> list[str]:
    configured: object = housekeeping_settings.ERASABLE_MODELS  # what the settings say, E005 or not
    if configured is None:
        return default_labels()
    if not isinstance(configured, list | tuple):
        return []  # E005: nothing is erasable until the setting is fixed
    return [label for label in configured if isinstance(label, str)]


def _in_scope(model: type[Model], labels: list[str]) -> bool:
    meta = model._meta
    wanted = {label.lower() for label in labels}
    return meta.label_lower in wanted or f"{meta.app_label}.*".lower() in wanted


def refusal(model: type[Model]) -> str | None:
    """Why no erasure may delete a row of ``model`` (one sentence, for every face), or ``None``
    when it may."""
    label = model._meta.label
    why = denied(model)
    if why is not None:
        return f"{label} is not erasable: {why}."
    if not _in_scope(model, _labels()):
        return (
            f"{label} is not erasable: it is not in HOUSEKEEPING['ERASABLE_MODELS'] (by default "
            "the user model and the models of the apps that declare housekeeping tasks or "
            "retention policies)."
        )
    return None
