"""The Prometheus metrics, read from the database at scrape time (prometheus-client, the
``[metrics]`` extra).

Runs happen in other processes, so nothing is counted in this one: each scrape reads the
counters and the last successes from the daily rollup
(:func:`django_housekeeping.monitoring.rollup.totals`: the sums of the closed days as this process
keeps them, checked with one query, and the rows of the days since, two), the active runs through
the status index and the scheduler lease: five queries, however long the history. :func:`read`
takes the readings (no prometheus-client needed);
:mod:`django_housekeeping.monitoring.collector` turns them into metric families.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count
from django.utils import timezone

from django_housekeeping.models import TaskRun
from django_housekeeping.monitoring import rollup
from django_housekeeping.monitoring.health import live_leader
from django_housekeeping.tasks.registry import registry

Status = TaskRun.Status

# The statuses whose runs the duration summary counts: runs that executed and ended. A skipped
# run did no work (its 0 s would drag the mean down); an interrupted run's duration lasts until
# its death was noticed, not until it stopped.
TIMED_STATUSES = (Status.SUCCEEDED, Status.FAILED)
# The statuses a finished run is counted under (what task_finished brings); every registered
# task shows each of them, at 0 until it happens, so that a series does not appear out of nowhere.
COUNTED_STATUSES = (
    Status.SUCCEEDED,
    Status.FAILED,
    Status.SKIPPED,
    Status.MISSED,
    Status.INTERRUPTED,
    Status.CANCELLED,
)


@dataclass(frozen=True)
class RunCount:
    task: str
    status: str
    runs: int
    seconds: float


@dataclass(frozen=True)
class Readings:
    """What one scrape shows, read from the database."""

    tasks: tuple[str, ...]
    run_totals: tuple[RunCount, ...]
    deleted: tuple[tuple[str, str, int], ...]
    last_success: dict[str, datetime]
    leader: bool
    in_progress: dict[str, int]


def read(now: datetime | None = None) -> Readings:
    """The readings of one scrape."""
    now = now or timezone.now()
    sums = rollup.totals()
    active = (
        TaskRun.objects.filter(status__in=TaskRun.ACTIVE_STATUSES)
        .values("task_name")
        .annotate(runs=Count("id"))
        .order_by()
    )
    return Readings(
        tasks=tuple(task.name for task in registry),
        run_totals=tuple(
            RunCount(task, status, runs, seconds) for task, status, runs, seconds, _ in sums.runs
        ),
        deleted=sums.deletions,
        last_success={
            task: last
            for task, status, _runs, _seconds, last in sums.runs
            if status == Status.SUCCEEDED and last is not None
        },
        leader=live_leader(now) is not None,
        in_progress={row["task_name"]: row["runs"] for row in active},
    )


def exposition(accept: str = "") -> tuple[bytes, str]:
    """The metrics in the Prometheus text format (or OpenMetrics, if ``accept`` asks for it):
    ``(body, content type)``. ``ImportError`` when prometheus-client is not installed."""
    # prometheus-client is an optional dependency (the [metrics] extra): imported when scraped,
    # so that without it everything else works and the metrics/ view answers 501. It comes
    # first, so that the ImportError is raised even when the collector module is loaded.
    from prometheus_client.exposition import choose_encoder
    from prometheus_client.registry import CollectorRegistry

    from django_housekeeping.monitoring.collector import HousekeepingCollector

    # A registry per scrape holding only our collector: never the process's default REGISTRY
    # (its process and platform metrics are no business of this endpoint).
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(HousekeepingCollector())
    encode, content_type = choose_encoder(accept)
    return encode(scrape), content_type
