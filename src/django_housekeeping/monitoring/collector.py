"""The housekeeping's Prometheus metric families, built from one scrape's readings
(:func:`django_housekeeping.monitoring.metrics.read`).

Imported only when metrics are scraped: it needs prometheus-client (the ``[metrics]`` extra).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from django_housekeeping.monitoring.metrics import COUNTED_STATUSES, TIMED_STATUSES, read


class HousekeepingCollector(Collector):
    """Reads the database on every ``collect()``: the numbers are those of every process."""

    def collect(self) -> Iterator[Metric]:
        readings = read()

        runs = CounterMetricFamily(
            "housekeeping_runs",
            "Finished runs (no dry runs) by task and status: succeeded, failed, skipped "
            "(another run of the task was still running), missed (the scheduler recorded slots "
            "it did not run), interrupted (its process died), cancelled (someone cancelled it).",
            labels=["task", "status"],
        )
        counts = {(task, str(status)): 0 for task in readings.tasks for status in COUNTED_STATUSES}
        counts |= {(total.task, total.status): total.runs for total in readings.run_totals}
        for (task, status), value in sorted(counts.items()):
            runs.add_metric([task, status], value)
        yield runs

        duration = SummaryMetricFamily(
            "housekeeping_run_duration_seconds",
            "Seconds the runs of a task took, succeeded and failed ones (no dry runs).",
            labels=["task"],
        )
        timed = dict.fromkeys(readings.tasks, (0, 0.0))
        for total in readings.run_totals:
            if total.status in TIMED_STATUSES:
                count, seconds = timed.get(total.task, (0, 0.0))
                timed[total.task] = (count + total.runs, seconds + total.seconds)
        for task, (count, seconds) in sorted(timed.items()):
            duration.add_metric([task], count_value=count, sum_value=seconds)
        yield duration

        deleted = CounterMetricFamily(
            "housekeeping_rows_deleted",
            "Rows the runs of a task deleted (no dry runs), by model, cascades included.",
            labels=["task", "model"],
        )
        for task, model, rows in readings.deleted:
            deleted.add_metric([task, model], rows)
        yield deleted

        last_success = GaugeMetricFamily(
            "housekeeping_last_success_timestamp_seconds",
            "When the task's last successful run (no dry run) in the history finished, as a Unix "
            "time.",
            labels=["task"],
        )
        for task, finished in sorted(readings.last_success.items()):
            last_success.add_metric([task], finished.timestamp())
        yield last_success

        yield GaugeMetricFamily(
            "housekeeping_scheduler_leader",
            "1 when a scheduler holds the leader lease (the tasks run on their schedules), else 0.",
            value=1 if readings.leader else 0,
        )

        in_progress = GaugeMetricFamily(
            "housekeeping_runs_in_progress",
            "Runs of the task queued or running now (dry runs included).",
            labels=["task"],
        )
        active = dict.fromkeys(readings.tasks, 0) | readings.in_progress
        for task, value in sorted(active.items()):
            in_progress.add_metric([task], value)
        yield in_progress
