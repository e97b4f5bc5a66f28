#!/usr/bin/env python
"""The metrics' counters read from the daily rollup against 0.2's run totals, with a long history.

    python benchmarks/metrics_scrape.py --db sqlite
    python benchmarks/metrics_scrape.py --db postgres --days 1095 --tasks 20 --repeat 51
    python benchmarks/metrics_scrape.py --db mysql --output results.json

A database created afresh by the library's migrations holds ``--days`` days of rollup for
``--tasks`` tasks, written directly: every day each task succeeded (six duration buckets), one day
in seven it also failed, one in thirty a slot was skipped and one in ninety missed; three tasks
in four deleted rows of two models each day. The run totals 0.2 read (``RunTotal``,
``DeletionTotal``, still in the schema) hold the same sums. Then, taking turns round by round
(a warm-up round, then ``--repeat`` rounds; the median of each is kept):

- ``0.2 totals``: the two queries 0.2's scrape read its counters with;
- ``rollup, every day``: the sums over every day of the rollup (what a process computes on its
  first scrape, and again when the rollup's generation moves: a run of a closed day recorded
  late, a pruning of the history, a rebuild);
- ``rollup, closed days kept``: :func:`django_housekeeping.monitoring.rollup.totals` as a scrape
  calls it, the closed days' sums kept by the process (the generation read, then the open days'
  rows);
- ``scrape``: the whole exposition (:func:`django_housekeeping.monitoring.metrics.exposition`),
  closed days kept.

Databases: as ``history_scale.py`` (``HOUSEKEEPING_BENCH_POSTGRES_URL`` /
``HOUSEKEEPING_BENCH_MYSQL_URL``; database ``hk_metrics_bench``, dropped and created again).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from databases import (  # benchmarks/databases.py: run as a script from there
    database_settings,
    recreate_database,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_URLS = {
    "postgres": "postgres://postgres@127.0.0.1:5432/hk_metrics_bench",
    "mysql": "mysql://root@127.0.0.1:3306/hk_metrics_bench",
}
BUCKETS = (40, 44, 48, 52, 56, 60)  # about 1 s to 32 s


def setup_django(db: str, sqlite_path: str) -> None:
    sys.path.insert(0, str(HERE))
    sys.path.append(str(ROOT / "src"))  # when the package is not installed
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only-not-a-secret",
        DATABASES={"default": database_settings(db, sqlite_path, DEFAULT_URLS)},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django_apscheduler",
            "django_housekeeping",
        ],
        USE_TZ=True,
        TIME_ZONE="Europe/Berlin",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        HOUSEKEEPING={"AUTOSTART": False},
    )
    django.setup()


def fill(days: int, tasks: int) -> dict[str, int]:
    """The rollup of ``days`` days of ``tasks`` tasks, and the run totals holding its sums."""
    from django.db import transaction
    from django.utils import timezone

    from django_housekeeping.models import DeletionDay, DeletionTotal, RunDay, RunTotal

    today = timezone.localdate()
    finished = timezone.now()
    names = [f"task-{n:02d}" for n in range(tasks)]
    run_days: list[RunDay] = []
    deletion_days: list[DeletionDay] = []
    runs: dict[tuple[str, str], list[float]] = {}
    rows: dict[tuple[str, str], int] = {}
    for offset in range(days):
        day = today - timedelta(days=offset)
        for n, name in enumerate(names):
            statuses = [("succeeded", BUCKETS)]
            if offset % 7 == n % 7:
                statuses.append(("failed", BUCKETS[:1]))
            if offset % 30 == n % 30:
                statuses.append(("skipped", (-1,)))
            if offset % 90 == n % 90:
                statuses.append(("missed", (-1,)))
            for status, buckets in statuses:
                for bucket in buckets:
                    count, seconds = 1 + bucket % 3, 2.0 ** (bucket / 4) / 1000
                    run_days.append(
                        RunDay(
                            task_name=name,
                            day=day,
                            status=status,
                            bucket=bucket,
                            runs=count,
                            seconds=count * seconds,
                            last_finished_at=finished - timedelta(days=offset),
                        )
                    )
                    total = runs.setdefault((name, status), [0, 0.0])
                    total[0] += count
                    total[1] += count * seconds
            if n % 4:
                for model in ("chat.Conversation", "chat.Message"):
                    deleted = 10 * (n + 1) + offset % 13
                    deletion_days.append(
                        DeletionDay(task_name=name, day=day, model=model, rows=deleted)
                    )
                    rows[(name, model)] = rows.get((name, model), 0) + deleted
    with transaction.atomic():
        RunDay.objects.bulk_create(run_days, batch_size=5000)
        DeletionDay.objects.bulk_create(deletion_days, batch_size=5000)
        RunTotal.objects.bulk_create(
            [
                RunTotal(
                    task_name=name,
                    status=status,
                    runs=count,
                    seconds=seconds,
                    last_finished_at=finished if status == "succeeded" else None,
                )
                for (name, status), (count, seconds) in runs.items()
            ]
        )
        DeletionTotal.objects.bulk_create(
            [
                DeletionTotal(task_name=name, model=model, rows=deleted)
                for (name, model), deleted in rows.items()
            ]
        )
    return {
        "run_days": len(run_days),
        "deletion_days": len(deletion_days),
        "run_totals": len(runs),
        "deletion_totals": len(rows),
    }


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        elif connection.vendor == "mysql":
            for table in ("runday", "deletionday", "runtotal", "deletiontotal"):
                cursor.execute(f"ANALYZE TABLE django_housekeeping_{table}")
                cursor.fetchall()
        else:
            cursor.execute("ANALYZE")


def readers() -> dict[str, Callable[[], Any]]:
    from django.db.models import Q

    from django_housekeeping.models import DeletionTotal, RunTotal
    from django_housekeeping.monitoring import metrics, rollup

    def totals_0_2() -> Any:
        runs = list(
            RunTotal.objects.order_by("task_name", "status").values_list(
                "task_name", "status", "runs", "seconds", "last_finished_at"
            )
        )
        deleted = list(
            DeletionTotal.objects.order_by("task_name", "model").values_list(
                "task_name", "model", "rows"
            )
        )
        return runs, deleted

    rollup.totals()  # the closed days' sums, kept from now on
    return {
        "0.2 totals": totals_0_2,
        "rollup, every day": lambda: rollup._totals(Q()),
        "rollup, closed days kept": rollup.totals,
        "scrape": lambda: metrics.exposition(),
    }


def check_same(readers: dict[str, Callable[[], Any]]) -> None:
    """The rollup's sums are the totals' (the benchmark compares reads of the same numbers)."""
    runs, deleted = readers["0.2 totals"]()
    sums = readers["rollup, closed days kept"]()
    assert [(t, s, n) for t, s, n, _sec, _last in runs] == [(t, s, n) for t, s, n, *_ in sums.runs]
    assert deleted == list(sums.deletions), "the deletions differ"


def measure(readers: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Median milliseconds of each reader, taking turns round by round (who goes first rotates)."""
    names = list(readers)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeat + 1):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            start = time.perf_counter()
            readers[name]()
            elapsed = (time.perf_counter() - start) * 1000
            if round_:  # the first round warms up
                times[name].append(elapsed)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "mysql"], default="sqlite")
    parser.add_argument("--days", type=int, default=3 * 365)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=31)
    parser.add_argument("--output", help="also write the results to this JSON file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(args.db, str(Path(tmp) / "metrics.sqlite3"))
        from django.core.management import call_command

        recreate_database()
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        sizes = fill(args.days, args.tasks)
        print(f"filled in {time.perf_counter() - started:.1f} s: {sizes}")
        analyze()
        chosen = readers()
        check_same(chosen)
        medians = measure(chosen, args.repeat)
    baseline = medians["0.2 totals"]
    print(f"{args.db}, {args.days} days x {args.tasks} tasks, median of {args.repeat} rounds:")
    for name, ms in medians.items():
        print(f"  {name:<26} {ms:9.2f} ms  {ms / baseline:8.1f}x 0.2's totals")
    if args.output:
        results = {
            "db": args.db,
            "days": args.days,
            "tasks": args.tasks,
            "repeat": args.repeat,
            "rows": sizes,
            "median_ms": medians,
            "python": platform.python_version(),
        }
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
