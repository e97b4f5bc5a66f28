"""The labels of run statuses and triggers, translated once per language."""

from __future__ import annotations

import functools

from django.db.models import Choices
from django.utils.translation import get_language

from django_housekeeping.models import TaskRun


@functools.lru_cache(maxsize=64)
def _choice_labels(choices: type[Choices], language: str | None) -> dict[str, str]:
    return {str(value): str(label) for value, label in choices.choices}


def choice_label(choices: type[Choices], value: str) -> str:
    """The label of ``value`` among ``choices`` (e.g. ``TaskRun.Status``) in the active language,
    translated once per language rather than once per row: ``get_FOO_display()`` hashes every
    lazy label of the field's choices, each a translation lookup."""
    return _choice_labels(choices, get_language()).get(value, value)


def status_label(status: str) -> str:
    """A run status's label, e.g. ``"succeeded"`` → ``"Succeeded"``."""
    return choice_label(TaskRun.Status, status)


def trigger_label(trigger: str) -> str:
    """A run trigger's label."""
    return choice_label(TaskRun.Trigger, trigger)
