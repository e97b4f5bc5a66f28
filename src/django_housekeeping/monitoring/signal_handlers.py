"""Receivers of the run signals: every finished run feeds the daily rollup (the statistics and
the metrics' counters) and the alerts.

Connected by ``AppConfig.ready()``. Watching a run must never break it: a receiver that fails
logs the error and lets the run's outcome stand.
"""

from __future__ import annotations

import logging
from typing import Any

from django_housekeeping.models import TaskRun
from django_housekeeping.monitoring import alerts, rollup

logger = logging.getLogger("django_housekeeping.monitoring")


def run_finished(sender: Any, run: TaskRun, **kwargs: Any) -> None:
    for watcher in (rollup.record, alerts.after_run):
        try:
            watcher(run)
        except Exception:
            logger.exception(
                "Could not record run #%s of %s in %s", run.pk, run.task_name, watcher.__module__
            )
