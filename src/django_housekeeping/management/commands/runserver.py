"""``runserver`` that starts the housekeeping scheduler in the serving child when AUTOSTART is on.

It extends whichever ``runserver`` would otherwise run (django.contrib.staticfiles' when that app
is installed), so list ``django_housekeeping`` before ``django.contrib.staticfiles``. The scheduler
starts in the process that serves — the autoreloader's child, or the only process with
``--noreload`` — never in the reloader's parent.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.apps import apps
from django.core.management.commands.runserver import Command as CoreRunserver

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.scheduling.autostart import ensure_started


def _base_command() -> type[CoreRunserver]:
    if apps.is_installed("django.contrib.staticfiles"):
        module = import_module("django.contrib.staticfiles.management.commands.runserver")
        base: type[CoreRunserver] = module.Command
        return base
    return CoreRunserver


class Command(_base_command()):  # type: ignore[misc]
    def inner_run(self, *args: Any, **options: Any) -> None:
        if housekeeping_settings.AUTOSTART:
            ensure_started()
        super().inner_run(*args, **options)
