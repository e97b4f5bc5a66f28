#!/usr/bin/env python
"""Partitioned tables on PostgreSQL: retention by dropping partitions, by batches, by raw SQL.

    python benchmarks/partitions.py                      # 10,000,000 rows
    python benchmarks/partitions.py --rows 1000000 --output partitions.json

``bench_event`` (``benchapp.Event``) is created ``PARTITION BY RANGE (at)`` with the primary key
``(id, at)`` and 12 monthly partitions (2025), and ``--rows`` rows are spread evenly over the year
with ``generate_series`` (``id`` grows with ``at``). Before every measurement the table is dropped
and seeded afresh (then ``VACUUM ANALYZE`` and ``CHECKPOINT``), so each one starts from the same
data. Measured, for the 9 oldest months (``at < 2025-10-01``):

- ``drop``: ``purge(Event.objects.filter(at__lt=cutoff))``: the 9 partitions are detached and
  dropped;
- ``batched``: the same with ``partitions=False``: batches, one partition at a time;
- ``raw``: one ``DELETE FROM bench_event WHERE at < cutoff``, in one transaction (the floor of
  deleting rows);

and, a cutoff in the middle of a partition (``at < 2025-10-16``, after the 9 oldest partitions
were dropped, untimed): ``boundary`` (``purge()``: the rows of October's first half, by batches
in that partition) against ``boundary-raw`` (one ``DELETE`` of the same rows). For each: seconds,
rows deleted, WAL written (``pg_wal_lsn_diff`` of ``pg_current_wal_lsn()`` before and after) and
the table's size afterwards (its partitions', indexes included); then the ratios to raw SQL of the
same run. The server is at ``HOUSEKEEPING_BENCH_POSTGRES_URL`` (default
``postgres://postgres@127.0.0.1:5432/housekeeping_bench``; the database is created if missing).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from databases import (  # benchmarks/databases.py: run as a script from there
    create_database,
    database_settings,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_URLS = {"postgres": "postgres://postgres@127.0.0.1:5432/housekeeping_bench"}
TABLE = "bench_event"
CUTOFF = datetime(2025, 10, 1, tzinfo=UTC)  # the 9 oldest months
MIDDLE = datetime(2025, 10, 16, tzinfo=UTC)  # in the middle of October's partition
MIB = 1024 * 1024

# Targets (docs/benchmarks.md, issue 15): dropping against one raw DELETE, batches against it.
MIN_DROP_SPEEDUP = 100
MIN_DROP_WAL_REDUCTION = 100
MIN_BATCHED_RATIO = 0.8


def setup_django() -> None:
    sys.path.insert(0, str(HERE))
    sys.path.append(str(ROOT / "src"))  # when the package is not installed
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={"default": database_settings("postgres", "", DEFAULT_URLS)},
        INSTALLED_APPS=["benchapp"],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        HOUSEKEEPING={},
    )
    django.setup()


def seed(rows: int) -> None:
    """A fresh ``bench_event``: 12 monthly partitions of 2025, ``rows`` rows spread evenly."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE} CASCADE")
        cursor.execute(
            f"CREATE TABLE {TABLE} (id bigserial NOT NULL, at timestamptz NOT NULL, "
            "value integer NOT NULL, payload text NOT NULL, PRIMARY KEY (id, at)) "
            "PARTITION BY RANGE (at)"
        )
        for month in range(1, 13):
            start = f"2025-{month:02d}-01 00:00+00"
            end = "2026-01-01 00:00+00" if month == 12 else f"2025-{month + 1:02d}-01 00:00+00"
            cursor.execute(
                f"CREATE TABLE {TABLE}_2025_{month:02d} PARTITION OF {TABLE} "
                f"FOR VALUES FROM ('{start}') TO ('{end}')"
            )
        cursor.execute(
            f"INSERT INTO {TABLE} (at, value, payload) "
            "SELECT timestamptz '2025-01-01 00:00+00' + (i - 1) * (interval '365 days' / %s), "
            "i %% 1000, md5(i::text) FROM generate_series(1, %s) AS i",
            [rows, rows],
        )
        cursor.execute(f"VACUUM ANALYZE {TABLE}")
        cursor.execute("CHECKPOINT")


def drop_oldest(months: int) -> None:
    """Untimed: drop the ``months`` oldest partitions (the boundary measurements start there)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for month in range(1, months + 1):
            cursor.execute(f"DROP TABLE {TABLE}_2025_{month:02d}")
        cursor.execute("CHECKPOINT")


def wal_lsn() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return str(cursor.fetchone()[0])


def wal_since(start: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", [start])
        return int(cursor.fetchone()[0])


def table_bytes() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits "
            "WHERE inhparent = %s::regclass",
            [TABLE],
        )
        return int(cursor.fetchone()[0])


def measure(case: str, rows: int) -> dict[str, Any]:
    from benchapp.models import Event
    from django.db import connection, transaction

    from django_housekeeping import purge

    seed(rows)
    cutoff = CUTOFF
    if case.startswith("boundary"):
        drop_oldest(9)
        cutoff = MIDDLE
    queryset = Event.objects.filter(at__lt=cutoff)
    start = wal_lsn()
    started = time.perf_counter()
    result: dict[str, Any] = {}
    if case in ("raw", "boundary-raw"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE} WHERE at < %s", [cutoff])
            deleted = cursor.rowcount
    else:
        result = dict(purge(queryset, partitions=case != "batched"))
        deleted = result["total"]
    seconds = time.perf_counter() - started
    wal = wal_since(start)
    measured = {
        "case": case,
        "rows": deleted,
        "seconds": round(seconds, 3),
        "rows_per_second": round(deleted / seconds, 1) if seconds else 0.0,
        "wal_bytes": wal,
        "table_bytes": table_bytes(),
        "dropped_partitions": len(result.get("dropped_partitions", [])),
        "batches": result.get("batches"),
    }
    print(json.dumps(measured), flush=True)
    return measured


def report(rows: int, results: dict[str, dict[str, Any]], load: tuple[Any, Any]) -> list[str]:
    def line(case: str, baseline: str) -> str:
        r, b = results[case], results[baseline]
        speed = b["seconds"] / r["seconds"] if r["seconds"] else float("inf")
        wal = b["wal_bytes"] / r["wal_bytes"] if r["wal_bytes"] else float("inf")
        return (
            f"| {case} | {r['rows']:,} | {r['seconds']:.3f} | {r['wal_bytes'] / MIB:,.1f} | "
            f"{r['table_bytes'] / MIB:,.0f} | {speed:,.2f}x | {wal:,.1f}x |"
        )

    lines = [
        f"{rows:,} rows, 12 monthly partitions; load average {load[0]:.2f} → {load[1]:.2f}",
        "",
        "| case | rows deleted | seconds | WAL MiB | table MiB after | speed vs raw | "
        "less WAL than raw |",
        "|---|---|---|---|---|---|---|",
        line("drop", "raw"),
        line("batched", "raw"),
        line("raw", "raw"),
        line("boundary", "boundary-raw"),
        line("boundary-raw", "boundary-raw"),
    ]
    drop, raw = results["drop"], results["raw"]
    speedup = raw["seconds"] / drop["seconds"]
    less_wal = raw["wal_bytes"] / max(drop["wal_bytes"], 1)
    batched = raw["seconds"] / results["batched"]["seconds"]
    boundary = results["boundary-raw"]["seconds"] / results["boundary"]["seconds"]
    lines += [
        "",
        f"- drop: {speedup:,.0f}x faster than raw (target ≥ {MIN_DROP_SPEEDUP}x): "
        f"{'met' if speedup >= MIN_DROP_SPEEDUP else 'NOT met'}; {less_wal:,.0f}x less WAL "
        f"(target ≥ {MIN_DROP_WAL_REDUCTION}x): "
        f"{'met' if less_wal >= MIN_DROP_WAL_REDUCTION else 'NOT met'}",
        f"- batched (partitions=False): {batched:.2f}x raw (target ≥ {MIN_BATCHED_RATIO}): "
        f"{'met' if batched >= MIN_BATCHED_RATIO else 'NOT met'}",
        f"- boundary (cutoff mid-partition): {boundary:.2f}x raw (target ≥ {MIN_BATCHED_RATIO}): "
        f"{'met' if boundary >= MIN_BATCHED_RATIO else 'NOT met'}",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--output", type=Path, help="write the measurements as JSON")
    args = parser.parse_args()
    setup_django()
    create_database()
    load_before = os.getloadavg()[0]
    results = {
        case: measure(case, args.rows)
        for case in ("drop", "batched", "raw", "boundary", "boundary-raw")
    }
    load = (load_before, os.getloadavg()[0])
    print("\n".join(report(args.rows, results, load)))
    if args.output:
        args.output.write_text(json.dumps({"rows": args.rows, "load": load, **results}, indent=2))
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE} CASCADE")


if __name__ == "__main__":
    main()
