"""``runserver`` that starts the housekeeping scheduler in the serving child when AUTOSTART is on.

It extends whichever ``runserver`` would otherwise run (django.contrib.staticfiles' when that app
is installed), so list ``django_housekeeping`` before ``django.contrib.staticfiles``. The scheduler
starts in the process that serves — the autoreloader's child, or the only process with
``--noreload`` — never in the reloader's parent.

SIGTERM stops it cleanly, so the scheduler gives its lease up (``atexit``) instead of leaving a
dead pid as the leader until the lease expires:

- ``--noreload``: the only process exits as on Ctrl-C (Python's default for SIGTERM is to die at
  once, without ``atexit``); if that exit is lost (a signal landing in an import's lock callback
  swallows it), a thread stops the scheduler and exits a few seconds later.
- with the autoreloader: the operator signals the parent (the pid they started). Django's parent
  answers SIGTERM by killing its serving child with SIGKILL; this parent passes the signal on to
  the child instead, waits for it to stop, and exits with its status.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from importlib import import_module
from types import FrameType
from typing import Any

from django.apps import apps
from django.core.management.commands.runserver import Command as CoreRunserver
from django.utils import autoreload

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.scheduling.autostart import ensure_started
from django_housekeeping.scheduling.autostart import stop as stop_scheduler

# The exit status with which Django's autoreloader child asks its parent for a new child.
RESTART_STATUS = 3
# How long the parent gives a child that got Ctrl-C too (the terminal signals both) to stop.
CHILD_STOP_SECONDS = 30
# How long a process that got SIGTERM may take to exit by itself before it is made to.
SWALLOWED_EXIT_SECONDS = 10


def _base_command() -> type[CoreRunserver]:
    if apps.is_installed("django.contrib.staticfiles"):
        module = import_module("django.contrib.staticfiles.management.commands.runserver")
        base: type[CoreRunserver] = module.Command
        return base
    return CoreRunserver


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    threading.Thread(target=_exit_if_still_running, name="housekeeping-exit", daemon=True).start()
    sys.exit(0)  # what Django's autoreloader does on SIGTERM: atexit handlers run


def _exit_if_still_running() -> None:
    """The SystemExit a signal handler raises is lost when the signal lands in code whose
    exceptions Python ignores (an import lock's or a weak reference's callback, say): then stop
    the scheduler (releasing its lease) and exit from here, a little later."""
    threading.Event().wait(SWALLOWED_EXIT_SECONDS)
    stop_scheduler()
    os._exit(0)


class Command(_base_command()):  # type: ignore[misc]
    def run(self, **options: Any) -> None:
        if options["use_reloader"] and os.environ.get(autoreload.DJANGO_AUTORELOAD_ENV) != "true":
            sys.exit(_reloader_parent())
        super().run(**options)

    def inner_run(self, *args: Any, **options: Any) -> None:
        # With --noreload this is the main thread, where nothing handles SIGTERM yet; the
        # autoreloader's child serves from another thread and Django already handles it there.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _exit_cleanly)
        if housekeeping_settings.AUTOSTART:
            ensure_started()
        super().inner_run(*args, **options)


def _reloader_parent() -> int:
    """Django's ``restart_with_reloader`` loop, with SIGTERM passed on to the serving child.

    The parent only watches the child: it starts one, and starts another while the child exits
    with :data:`RESTART_STATUS` (a file changed). Returns the last child's exit status.
    """
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: FrameType | None) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    environ = {**os.environ, autoreload.DJANGO_AUTORELOAD_ENV: "true"}
    arguments = autoreload.get_child_arguments()
    try:
        while True:
            child = subprocess.Popen(arguments, env=environ, close_fds=False)
            status = child.wait()
            if status != RESTART_STATUS:
                return status
    except KeyboardInterrupt:
        # Ctrl-C on a terminal reached the child as well: let it stop (and release the lease)
        # rather than kill it; a SIGINT sent to the parent alone is followed by a SIGTERM.
        if child is None:
            return 0
        try:
            child.wait(CHILD_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            child.terminate()
            child.wait()
        return 0
