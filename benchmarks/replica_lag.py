#!/usr/bin/env python
"""Throttle benchmark: a streaming replica's lag during a large purge, with and without
``max_replica_lag``.

    python benchmarks/replica_lag.py --conversations 500000 --messages-per 9
    python benchmarks/replica_lag.py --conversations 100000 --replay-duty 0.25 --output r.json

Starts its own PostgreSQL primary and streaming replica (tests/pgcluster.py: ``initdb`` and
``pg_basebackup -R`` in a temporary directory, on free ports; as the ``postgres`` OS user when run
as root), seeds ``--conversations`` old conversations with ``--messages-per`` messages each
(500,000 x (1 + 9) = 5,000,000 rows by default) and purges them all, twice, each time on fresh
data:

- ``unthrottled``: ``purge(queryset)``;
- ``throttled``: ``purge(queryset, max_replica_lag=--max-lag)`` with ``REPLICAS = ["replica"]``;
- ``throttled-small`` (with ``--small-batch N``): the same in batches of N conversations.

Meanwhile a thread samples the replica every ``--sample`` seconds (0.2 by default): its lag — how
long ago the oldest of the purge's commits it has not yet replayed was made, 0 when it has
replayed them all (each commit's time and the primary's WAL position right after it are recorded
as the purge commits) — the age of the last transaction it replayed (PostgreSQL's
``now() - pg_last_xact_replay_timestamp()``, which grows while the replica replays WAL that holds
no transaction, the autovacuum's after a large purge), and the bytes of WAL it has still to
replay (the primary's ``pg_current_wal_lsn()`` against the replica's replay position). It prints,
per run: the purge's time, its rows/s, the throttle's wait, the maximum and 95th percentile of
the lag and the maximum age from the purge's start until the replica has replayed all of it, and
how long the replica took to catch up once the purge had ended.

``--replay-duty F`` (default 1: none) handicaps the replica: its recovery process is stopped
(SIGSTOP) ``1 - F`` of every 100 ms and continued (SIGCONT) for the rest, so it replays at most
``F`` times as fast as it could — a replica on a slower disk, or busy serving reads. On a
two-core machine whose primary and replica share the CPU and the page cache, a replica replays
a purge about as fast as the primary writes it; the handicap shows what the throttle does when it
cannot.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src"), str(HERE)]

from tests.pgcluster import Cluster, start_cluster  # noqa: E402  (after the path)

OLD = datetime(2020, 1, 1, tzinfo=UTC)
CUTOFF = datetime(2025, 1, 1, tzinfo=UTC)
BODY = (
    "Thanks, that helps. Could you also summarise the retention policy we discussed, with the "
    "exceptions for flagged conversations and the thirty-day window for exports?"
)
# Target (issue 15): with max_replica_lag = 2 s, the lag stays under 3 s.
TARGET_MAX_LAG = 3.0

LAG_SQL = """
SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END,
       pg_last_wal_replay_lsn()::text
"""


def fetch(conn: Any, sql: str, params: Any = None) -> Any:
    """One row; a query the hot standby cancels (a conflict with what it replays: "User query
    might have needed to see row versions that must be removed") is run again."""
    import psycopg

    for attempt in range(50):
        try:
            return conn.execute(sql, params).fetchone()
        except psycopg.errors.SerializationFailure:
            if attempt == 49:
                raise
            time.sleep(0.01)
    raise AssertionError("unreachable")


def configure(cluster: Cluster) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={
            "default": cluster.database(cluster.primary),
            "replica": cluster.database(cluster.replica),
        },
        INSTALLED_APPS=["benchapp"],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        HOUSEKEEPING={"REPLICAS": ["replica"]},
        LOGGING_CONFIG=None,
    )
    django.setup()


def seed(conversations: int, messages_per: int) -> int:
    from benchapp.models import Conversation, Message
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_message, bench_conversation CASCADE")
    with connection.schema_editor() as editor:
        editor.create_model(Conversation)
        editor.create_model(Message)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_conversation (id, title, created_at) "
            "SELECT g, 'conversation ' || g, %s FROM generate_series(1, %s) g",
            [OLD, conversations],
        )
        cursor.execute(
            "INSERT INTO bench_message (conversation_id, role, body, created_at) "
            "SELECT c, 'user', %s, %s FROM generate_series(1, %s) c, generate_series(1, %s) m",
            [BODY, OLD, conversations, messages_per],
        )
        cursor.execute("ANALYZE bench_conversation, bench_message")
        cursor.execute("CHECKPOINT")
    return conversations * (1 + messages_per)


class Commits:
    """The purge's commits on the primary: (when, the primary's WAL position just after), in
    order. Django's connection commits each batch; right after, this reads the position, which
    the replica must have replayed to show the batch."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.positions: list[int] = []

    @contextmanager
    def recording(self, connection: Any) -> Iterator[None]:
        commit = connection.commit

        def recorded() -> None:
            commit()
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")
                (position,) = cursor.fetchone()
            commit()  # the transaction of that query (the connection is not in autocommit yet)
            self.times.append(time.monotonic())
            self.positions.append(int(position))

        connection.commit = recorded
        try:
            yield
        finally:
            del connection.commit  # the class's again

    def oldest_not_replayed(self, replayed: int) -> float | None:
        """When the oldest commit the replica has not replayed was made (None: it has them all)."""
        index = bisect.bisect_right(self.positions, replayed)
        return self.times[index] if index < len(self.times) else None


class Sampler(threading.Thread):
    """Samples the replica: its lag (how long ago the oldest of the purge's commits it has not
    replayed was made; 0 when it has replayed them all), the age of the last transaction it
    replayed (what PostgreSQL calls its lag), and the WAL bytes it has to replay."""

    def __init__(self, cluster: Cluster, every: float, commits: Commits) -> None:
        super().__init__(daemon=True)
        import psycopg

        self.every = every
        self.commits = commits
        self.replica = psycopg.connect(
            host="127.0.0.1", port=cluster.replica.port, user="postgres", autocommit=True
        )
        self.primary = psycopg.connect(
            host="127.0.0.1", port=cluster.primary.port, user="postgres", autocommit=True
        )
        self.samples: list[tuple[float, float, float, int]] = []
        self.stopping = threading.Event()

    def sample(self) -> tuple[float, float, float, int]:
        age, replayed = fetch(self.replica, LAG_SQL)
        behind, position = fetch(
            self.primary,
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn), "
            "pg_wal_lsn_diff(%s::pg_lsn, '0/0')",
            [replayed, replayed],
        )
        now = time.monotonic()
        made = self.commits.oldest_not_replayed(int(position))
        lag = now - made if made is not None else 0.0
        return now, lag, float(age), int(behind)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.samples.append(self.sample())
            self.stopping.wait(self.every)

    def stop(self) -> None:
        self.stopping.set()
        self.join()
        self.replica.close()
        self.primary.close()


class Handicap(threading.Thread):
    """Stops the replica's recovery process ``1 - duty`` of every 100 ms."""

    PERIOD = 0.1

    def __init__(self, cluster: Cluster, duty: float) -> None:
        super().__init__(daemon=True)
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=cluster.replica.port, user="postgres", autocommit=True
        ) as conn:
            row = fetch(conn, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'startup'")
        assert row is not None, "no startup (recovery) process on the replica"
        self.pid = int(row[0])
        self.duty = duty
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                os.kill(self.pid, signal.SIGSTOP)
                time.sleep(self.PERIOD * (1 - self.duty))
                os.kill(self.pid, signal.SIGCONT)
                time.sleep(self.PERIOD * self.duty)
        finally:
            os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def measure(
    cluster: Cluster, args: argparse.Namespace, duty: float, variant: str
) -> dict[str, Any]:
    from benchapp.models import Conversation
    from django.db import connections
    from django.test.utils import override_settings

    from django_housekeeping import purge

    rows = seed(args.conversations, args.messages_per)
    wait_caught_up(cluster)
    commits = Commits()
    sampler = Sampler(cluster, args.sample, commits)
    handicap = Handicap(cluster, duty) if duty < 1 else None
    sampler.start()
    if handicap is not None:
        handicap.start()
    try:
        queryset = Conversation.objects.filter(created_at__lt=CUTOFF)
        with commits.recording(connections["default"]):
            started = time.monotonic()
            if variant == "unthrottled":
                with override_settings(HOUSEKEEPING={}):  # no REPLICAS: nothing to wait on
                    result = purge(queryset)
            else:
                result = purge(
                    queryset,
                    max_replica_lag=timedelta(seconds=args.max_lag),
                    batch_size=args.small_batch if variant == "throttled-small" else None,
                )
            ended = time.monotonic()
        caught_up = wait_caught_up(cluster, since=ended)
    finally:
        if handicap is not None:
            handicap.stop()
        sampler.stop()
        connections.close_all()
    # From the purge's start until the replica has caught up with it.
    samples = [sample for sample in sampler.samples if sample[0] >= started]
    during = [lag for _, lag, _, _ in samples]
    ages = [age for _, _, age, _ in samples]
    behind = [size for _, _, _, size in samples]
    assert result["total"] == rows, (result["total"], rows)
    throttle = result["throttle"]
    return {
        "replay_duty": duty,
        "variant": variant,
        "rows": rows,
        "seconds": round(ended - started, 2),
        "rows_per_second": round(rows / (ended - started)),
        "batches": result["batches"],
        "replica_wait_seconds": throttle["replica_wait_seconds"],
        "max_lag_read_by_throttle": throttle["max_replica_lag"],
        "samples": len(during),
        "max_lag": round(max(during, default=0.0), 2),
        "max_lag_after_seconds": round(
            max(samples, key=lambda sample: sample[1])[0] - started if samples else 0.0, 2
        ),
        "p95_lag": round(percentile(during, 0.95), 2),
        "max_age": round(max(ages, default=0.0), 2),
        "max_wal_behind_mib": round(max(behind, default=0) / 2**20, 1),
        "catch_up_seconds": round(caught_up, 2),
    }


def wait_caught_up(cluster: Cluster, since: float | None = None, timeout: float = 1800) -> float:
    """Wait until the replica has replayed everything the primary wrote; seconds since ``since``."""
    import psycopg

    since = time.monotonic() if since is None else since
    with (
        psycopg.connect(
            host="127.0.0.1", port=cluster.primary.port, user="postgres", autocommit=True
        ) as primary,
        psycopg.connect(
            host="127.0.0.1", port=cluster.replica.port, user="postgres", autocommit=True
        ) as replica,
    ):
        (target,) = fetch(primary, "SELECT pg_current_wal_lsn()::text")
        deadline = time.monotonic() + timeout
        while True:
            (done,) = fetch(
                replica,
                "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s::pg_lsn) >= 0",
                [target],
            )
            if done:
                return time.monotonic() - since
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not catch up")
            time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=500_000)
    parser.add_argument("--messages-per", type=int, default=9)
    parser.add_argument("--max-lag", type=float, default=2.0, help="max_replica_lag, seconds")
    parser.add_argument("--sample", type=float, default=0.2, help="seconds between samples")
    parser.add_argument(
        "--replay-duty",
        type=float,
        nargs="+",
        default=[1.0],
        help="fractions of the time the replica replays (each measured, with and without throttle)",
    )
    parser.add_argument(
        "--small-batch",
        type=int,
        default=0,
        help="also purge throttled in batches of this many conversations (0: don't)",
    )
    parser.add_argument("--output", type=Path, help="write the results as JSON")
    args = parser.parse_args()

    load_before = os.getloadavg()
    cluster = start_cluster()
    try:
        configure(cluster)
        variants = ["unthrottled", "throttled"] + (["throttled-small"] if args.small_batch else [])
        results = [
            measure(cluster, args, duty, variant)
            for duty in args.replay_duty
            for variant in variants
        ]
    finally:
        cluster.stop()

    load = os.getloadavg()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in load],
        "max_replica_lag": args.max_lag,
        "results": results,
    }
    columns = [
        "replay_duty", "variant", "rows", "seconds", "rows_per_second", "replica_wait_seconds",
        "max_lag", "p95_lag", "max_age", "max_wal_behind_mib", "catch_up_seconds",
    ]  # fmt: skip
    print(
        f"load average before {load_before[0]:.2f}, after {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(" | ".join(columns))
    for row in results:
        print(" | ".join(str(row[column]) for column in columns))
    for row in results:
        if row["variant"] == "unthrottled":
            baseline = row
            continue
        ratio = row["seconds"] / baseline["seconds"]
        met = "met" if row["max_lag"] < TARGET_MAX_LAG else "NOT met"
        print(
            f"replay duty {row['replay_duty']:g}, {row['variant']}: time / unthrottled "
            f"{ratio:.2f}; lag under {TARGET_MAX_LAG:g} s: {met}"
        )
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
