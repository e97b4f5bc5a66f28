"""Cron-monitor check-ins: a run tells healthchecks.io, Cronitor (any monitor of their convention)
and Sentry Crons that it started, succeeded or failed, so that a run that never happens — the
scheduler dead, the host gone — pages someone.

``GET {url}/start`` when a run starts, ``GET {url}`` when it succeeds, ``GET {url}/fail`` when it
fails or is interrupted; nothing for a dry run or a skipped one. ``{url}`` is the task's
``ping_url``, else ``HOUSEKEEPING["PING_URL"]`` with ``{task}`` replaced. A check-in takes at most
``PING_TIMEOUT`` seconds, its one retry included; a monitor that does not answer is logged at
WARNING (by its host only: the URL's path is its secret) and never fails the run.

With ``sentry_sdk`` installed and the task's ``sentry_monitor`` slug set, the same moments are
Sentry Crons check-ins (``in_progress``, then ``ok`` or ``error``).

Connected by ``AppConfig.ready()`` to ``task_started`` and ``task_finished``; the receivers never
raise (a ``task_started`` receiver that raises would fail the run).
"""

from __future__ import annotations

import importlib
import logging
import threading
import urllib.request
from time import monotonic
from typing import Any

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.conf.ping_urls import expand, redacted
from django_housekeeping.models import TaskRun
from django_housekeeping.tasks.registry import NotRegistered, registry
from django_housekeeping.tasks.task import HousekeepingTask

logger = logging.getLogger("django_housekeeping.monitoring")

Status = TaskRun.Status
# A check-in is tried this many times (once, and once more), within PING_TIMEOUT in all.
ATTEMPTS = 2
# The retry is not tried with less than this share of PING_TIMEOUT left (the first attempt took
# the rest: the monitor does not answer, and a few milliseconds would not change that).
MIN_RETRY_SHARE = 0.1
USER_AGENT = "django-housekeeping"

# Sentry's check-in id of each run that checked in "in_progress" in this process, for its end.
_sentry_checkins: dict[int, str] = {}
_sentry_lock = threading.Lock()


def ping_url(task: HousekeepingTask) -> str | None:
    """The task's check-in URL: its own ``ping_url`` (``""``: none), else ``PING_URL``'s."""
    own = task.effective.ping_url
    url = own if own is not None else housekeeping_settings.PING_URL
    return expand(url, task.name) if isinstance(url, str) and url else None


def run_started(sender: Any, run: TaskRun, **kwargs: Any) -> None:
    """``task_started``: check in ``/start`` (and Sentry's ``in_progress``)."""
    task = _task(sender, run)
    if task is None or run.dry_run:
        return
    url = ping_url(task)
    if url is not None:
        ping(url + "/start", task=task.name)
    monitor = task.effective.sentry_monitor
    if monitor:
        checkin_id = _sentry_checkin(monitor, "in_progress", task=task.name)
        if checkin_id is not None and run.pk is not None:
            with _sentry_lock:
                _sentry_checkins[run.pk] = checkin_id


def run_finished(sender: Any, run: TaskRun, **kwargs: Any) -> None:
    """``task_finished``: check in success or ``/fail`` (a skipped run says nothing)."""
    if run.dry_run or run.status not in (Status.SUCCEEDED, Status.FAILED, Status.INTERRUPTED):
        return
    task = _task(sender, run)
    if task is None:
        return
    succeeded = run.status == Status.SUCCEEDED
    url = ping_url(task)
    if url is not None:
        ping(url if succeeded else url + "/fail", task=task.name)
    monitor = task.effective.sentry_monitor
    if monitor:
        with _sentry_lock:
            checkin_id = _sentry_checkins.pop(run.pk, None) if run.pk is not None else None
        _sentry_checkin(
            monitor,
            "ok" if succeeded else "error",
            task=task.name,
            checkin_id=checkin_id,
            duration=run.duration.total_seconds() if run.duration is not None else None,
        )


def _task(sender: Any, run: TaskRun) -> HousekeepingTask | None:
    if isinstance(sender, HousekeepingTask):
        return sender
    try:  # an interrupted run's signals may come without the task (another process noticed)
        return registry.get(run.task_name)
    except NotRegistered:
        return None


def ping(url: str, *, task: str) -> bool:
    """``GET url``, tried twice within ``PING_TIMEOUT`` seconds; whether the monitor answered
    (2xx). Never raises; a monitor that did not answer is logged at WARNING, by its host."""
    budget = float(housekeeping_settings.PING_TIMEOUT)
    deadline = monotonic() + budget
    problem = "no attempt"
    for attempt in range(ATTEMPTS):
        remaining = deadline - monotonic()
        if attempt and remaining < budget * MIN_RETRY_SHARE:
            break
        try:
            request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
            with urllib.request.urlopen(request, timeout=remaining) as response:
                response.read(1024)
                if 200 <= response.status < 300:
                    return True
                problem = f"HTTP {response.status}"
        except Exception as exc:  # whatever the network does, the run goes on
            problem = _describe(exc)
    logger.warning(
        "The cron monitor at %s did not answer the check-in of %s: %s",
        redacted(url),
        task,
        problem,
    )
    return False


def _describe(exc: BaseException) -> str:
    """One line for the log, without the URL (an HTTPError's and a URLError's text may hold it)."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return f"HTTP {code}"
    reason = getattr(exc, "reason", None)
    if reason is None and isinstance(exc, OSError):  # a timeout, a reset: no URL in their text
        reason = exc
    return f"{type(exc).__name__}: {reason}" if reason is not None else type(exc).__name__


def _sentry_checkin(
    monitor: str,
    status: str,
    *,
    task: str,
    checkin_id: str | None = None,
    duration: float | None = None,
) -> str | None:
    """A Sentry Crons check-in through ``sentry_sdk.crons.capture_checkin``; its id, or ``None``
    (sentry_sdk not installed, or it failed: logged, never raised)."""
    try:
        # Imported when used: sentry_sdk is an optional dependency of the site's.
        crons = importlib.import_module("sentry_sdk.crons")
    except ImportError:
        return None
    try:
        checkin: Any = crons.capture_checkin(
            monitor_slug=monitor, check_in_id=checkin_id, status=status, duration=duration
        )
    except Exception:
        logger.warning("Could not send the Sentry check-in of %s (%s)", task, status, exc_info=True)
        return None
    return str(checkin) if checkin is not None else None
