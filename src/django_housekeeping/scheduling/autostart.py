"""AUTOSTART: start one scheduler service per serving process, lazily.

``ready()`` only connects :func:`start_on_first_request` to ``request_started``; nothing starts
until a serving process handles its first request (or calls :func:`ensure_started`, as the
``runserver`` command of this app and a gunicorn ``post_worker_init`` hook do). Processes that are
not servers — ``migrate``, ``shell``, ``test``, pytest, the runserver reloader's parent — never
start one, even when they build requests with the test client.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.scheduling.service import SchedulerService

logger = logging.getLogger("django_housekeeping.scheduler")

SERVER_PROGRAMS = frozenset(
    {"gunicorn", "uwsgi", "daphne", "uvicorn", "hypercorn", "granian", "waitress-serve"}
)

_lock = threading.Lock()
_service: SchedulerService | None = None
_service_pid: int | None = None


def is_serving_process(argv: list[str] | None = None) -> bool:
    """Whether this process serves requests (and is not the runserver reloader's parent)."""
    argv = sys.argv if argv is None else argv
    if "uwsgi" in sys.modules:  # uWSGI embeds this module in its workers
        return True
    if not argv:
        return False
    program = Path(argv[0])
    if program.name in SERVER_PROGRAMS:
        return True  # `gunicorn ...`
    if program.name == "__main__.py" and program.parent.name in SERVER_PROGRAMS:
        return True  # `python -m gunicorn ...`
    if len(argv) > 1 and argv[1] == "runserver":
        # With autoreload the parent only watches files; the child (RUN_MAIN=true) serves.
        return os.environ.get("RUN_MAIN") == "true" or "--noreload" in argv
    return False


def ensure_started() -> Any:
    """Start this process's scheduler service if it has none yet (also after a fork)."""
    global _service, _service_pid
    with _lock:
        if _service is not None and _service_pid == os.getpid() and _service.is_running:
            return _service
        _service = SchedulerService()
        _service_pid = os.getpid()
        _service.start()
        atexit.register(functools.partial(_stop_at_exit, _service))
        logger.info("Autostarted the housekeeping scheduler in process %s", _service_pid)
        return _service


def stop() -> None:
    """Stop this process's scheduler service, if it started one (it releases the lease)."""
    with _lock:
        service = _service if _service_pid == os.getpid() else None
    if service is not None:
        service.stop()


def _stop_at_exit(service: SchedulerService) -> None:
    """Stop the service (it releases the lease) as the process exits.

    A second SIGTERM must not cut this short: a process group signalled as a whole (systemd,
    ``kill -TERM -PGID``) sends runserver's child one directly and one through its parent.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    service.stop()


def start_on_first_request(**kwargs: Any) -> None:
    """``request_started`` receiver: autostart in serving processes, once."""
    if _service_pid == os.getpid() or not housekeeping_settings.AUTOSTART:
        return
    if is_serving_process():
        ensure_started()
