#!/usr/bin/env python
"""Retention benchmark: delete old conversations with their messages, three ways.

    python benchmarks/retention.py --db sqlite --conversations 100000 --messages-per 10
    python benchmarks/retention.py --db postgres --conversations 100000 500000
    python benchmarks/retention.py --db mysql --conversations 100000 --repeat 3 --output r.json

For every size, the chat schema (``benchapp``: conversations with messages) is seeded afresh
before every measurement, and each measurement runs in a fresh Python process:

- ``naive``: ``Conversation.objects.filter(created_at__lt=cutoff).delete()``;
- ``raw``: one ``DELETE`` of the messages and one of the conversations, in one transaction (the
  floor: what the database itself needs);
- ``purge``: ``django_housekeeping.purge(queryset)``, in batches of ``--batch-size``;

first as they are, then again with a ``post_delete`` receiver connected to ``Message``. For each
it prints rows deleted per second, the ratio to raw SQL and to the naive ORM of the same run, the
peak RSS of the deleting process (``getrusage``), and the longest single transaction. The targets
of docs/benchmarks.md are checked at the end.

With ``--with-app``, ``django_housekeeping`` is installed too (with contenttypes, auth and
django_apscheduler), with its table of legal holds (empty), as on a site: every batch of
``purge`` then reads the active holds.

Databases: ``--db sqlite`` (a file in a temporary directory), ``postgres`` and ``mysql`` (MySQL or
MariaDB), at ``HOUSEKEEPING_BENCH_POSTGRES_URL`` / ``HOUSEKEEPING_BENCH_MYSQL_URL`` (default
``postgres://postgres@127.0.0.1:5432/housekeeping_bench`` and
``mysql://root@127.0.0.1:3306/housekeeping_bench``; the database is created if missing and its
``bench_*`` tables are dropped and recreated).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
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
VARIANTS = ("naive", "raw", "purge")
DEFAULT_URLS = {
    "postgres": "postgres://postgres@127.0.0.1:5432/housekeeping_bench",
    "mysql": "mysql://root@127.0.0.1:3306/housekeeping_bench",
}
OLD = datetime(2020, 1, 1, tzinfo=UTC)
YOUNG = datetime(2030, 1, 1, tzinfo=UTC)
CUTOFF = datetime(2025, 1, 1, tzinfo=UTC)
BODY = (
    "Thanks, that helps. Could you also summarise the retention policy we discussed, with the "
    "exceptions for flagged conversations and the thirty-day window for exports?"
)
MIB = 1024 * 1024
# --with-app: the library installed as on a site.
WITH_APP = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_apscheduler",
    "django_housekeeping",
]

# Targets (docs/benchmarks.md): purge against raw SQL and the naive ORM, memory, transactions.
MIN_RATIO_TO_RAW = {"sqlite": 0.8, "postgres": 0.8, "mysql": 0.6}
MIN_RATIO_TO_NAIVE = 1.5
MAX_RSS_ABOVE_RAW_MIB = 25
MAX_RSS_ABOVE_RAW_WITH_RECEIVER_MIB = 60
MAX_RSS_GROWTH_AT_5X = 0.10
MAX_TRANSACTION_SECONDS = 0.5


# --- Django ---------------------------------------------------------------------------------------


def setup_django(db: str, sqlite_path: str, with_app: bool = False) -> None:
    sys.path.insert(0, str(HERE))
    sys.path.append(str(ROOT / "src"))  # when the package is not installed
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={"default": database_settings(db, sqlite_path, DEFAULT_URLS)},
        INSTALLED_APPS=[*(WITH_APP if with_app else []), "benchapp"],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        HOUSEKEEPING={},
    )
    django.setup()


# --- seeding --------------------------------------------------------------------------------------


def seed(conversations: int, messages_per: int, young: int) -> None:
    """Fresh tables: ``conversations`` old ones with ``messages_per`` messages each, then
    ``young`` recent ones (which stay), made in SQL."""
    from benchapp.models import Conversation, Message, Number
    from django.db import connection

    tables = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for model in (Message, Conversation, Number):
            if model._meta.db_table in tables:
                editor.delete_model(model)
        for model in (Number, Conversation, Message):
            editor.create_model(model)
        for model in app_tables():  # --with-app: the tables a purge reads (empty)
            if model._meta.db_table not in tables:
                editor.create_model(model)
    Number.objects.bulk_create(Number(n=n) for n in range(1, 10_001))
    with connection.cursor() as cursor:
        for count, created in ((conversations, OLD), (young, YOUNG)):
            cursor.execute(
                "INSERT INTO bench_conversation (title, created_at) "
                "SELECT %s, %s FROM bench_number a CROSS JOIN bench_number b "
                "WHERE a.n <= %s AND (a.n - 1) * 10000 + b.n <= %s "
                "ORDER BY a.n, b.n",
                ["a conversation", created, count // 10_000 + 1, count],
            )
        cursor.execute(
            "INSERT INTO bench_message (conversation_id, role, body, created_at) "
            "SELECT c.id, %s, %s, c.created_at FROM bench_conversation c "
            "CROSS JOIN bench_number k WHERE k.n <= %s ORDER BY c.id, k.n",
            ["user", BODY, messages_per],
        )
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE bench_conversation")
            cursor.execute("VACUUM ANALYZE bench_message")
            cursor.execute("CHECKPOINT")
        elif connection.vendor == "mysql":
            cursor.execute("ANALYZE TABLE bench_conversation, bench_message")
            cursor.fetchall()
        else:
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def app_tables() -> list[Any]:
    """With ``--with-app``: the content types and the legal holds (when this version has them)."""
    from django.apps import apps

    if not apps.is_installed("django_housekeeping"):
        return []
    names = [
        ("contenttypes", "ContentType"),
        ("auth", "User"),
        ("django_housekeeping", "LegalHold"),
    ]
    models = []
    for app_label, name in names:
        try:
            models.append(apps.get_model(app_label, name))
        except LookupError:  # a version of the library without legal holds
            continue
    return models


# --- one measurement (in its own process) ---------------------------------------------------------


class TransactionClock:
    """The longest transaction: atomic blocks, and statements run in autocommit mode."""

    def __init__(self) -> None:
        from django.db import connection

        self.longest = 0.0
        self.opened: float | None = None
        original = connection.set_autocommit

        def set_autocommit(autocommit: bool, *args: Any, **kwargs: Any) -> Any:
            if not autocommit:
                self.opened = time.perf_counter()
            result = original(autocommit, *args, **kwargs)
            if autocommit and self.opened is not None:
                self.longest = max(self.longest, time.perf_counter() - self.opened)
                self.opened = None
            return result

        connection.set_autocommit = set_autocommit  # type: ignore[method-assign]
        connection.execute_wrappers.append(self._statement)

    def _statement(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        from django.db import connection

        if connection.in_atomic_block:
            return execute(sql, params, many, context)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.longest = max(self.longest, time.perf_counter() - started)


def measure(variant: str, receiver: bool, batch_size: int | None) -> dict[str, Any]:
    from benchapp.models import Conversation, Message
    from django.db import connection, transaction
    from django.db.models.signals import post_delete

    from django_housekeeping import purge

    received = 0
    batches = 1

    def on_message_deleted(sender: Any, instance: Message, **kwargs: Any) -> None:
        nonlocal received
        received += 1

    if receiver:
        post_delete.connect(on_message_deleted, sender=Message, weak=False)
    connection.ensure_connection()
    messages = Message.objects.filter(conversation__created_at__lt=CUTOFF).count()
    expected = Conversation.objects.filter(created_at__lt=CUTOFF).count() + messages
    clock = TransactionClock()
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    queryset = Conversation.objects.filter(created_at__lt=CUTOFF)

    cpu_started = time.process_time()
    started = time.perf_counter()
    if variant == "naive":
        deleted, _ = queryset.delete()
    elif variant == "raw":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM bench_message WHERE conversation_id IN "
                "(SELECT id FROM bench_conversation WHERE created_at < %s)",
                [CUTOFF],
            )
            deleted = cursor.rowcount
            cursor.execute("DELETE FROM bench_conversation WHERE created_at < %s", [CUTOFF])
            deleted += cursor.rowcount
    else:
        result = purge(queryset, batch_size=batch_size)
        deleted = result["total"]
        batches = result["batches"]
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if deleted != expected:
        raise SystemExit(f"{variant} deleted {deleted} rows, expected {expected}")
    if receiver and variant != "raw" and received != messages:
        raise SystemExit(f"{variant} sent {received} post_delete signals for {messages} messages")
    return {
        "variant": variant,
        "receiver": receiver,
        "rows": deleted,
        "seconds": seconds,
        "rows_per_second": deleted / seconds,
        "peak_rss": peak,
        "rss_before": rss_before,
        "longest_transaction": clock.longest,
        "signals": received,
        "batches": batches,
        "cpu_seconds": cpu_seconds,
    }


def run_child(args: argparse.Namespace) -> None:
    setup_django(args.db, args.sqlite_path, args.with_app)
    print(json.dumps(measure(args.child, args.receiver, args.batch_size)))


# --- the whole benchmark --------------------------------------------------------------------------


def run_measurement(
    args: argparse.Namespace, variant: str, receiver: bool, size: int
) -> dict[str, Any]:
    seed(size, args.messages_per, young=max(1, size // 10))
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--db",
        args.db,
        "--sqlite-path",
        args.sqlite_path,
        "--child",
        variant,
    ]
    if args.batch_size:
        command += ["--batch-size", str(args.batch_size)]
    if receiver:
        command.append("--receiver")
    if args.with_app:
        command.append("--with-app")
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    result["conversations"] = size
    return result


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median throughput (its own RSS and transaction figures)."""
    ordered = sorted(runs, key=lambda run: run["rows_per_second"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["runs"] = [round(run["rows_per_second"]) for run in runs]
    chosen["peak_rss"] = max(run["peak_rss"] for run in runs)
    chosen["longest_transaction"] = max(run["longest_transaction"] for run in runs)
    return chosen


def report(db: str, results: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    from tabulate import tabulate

    by_key = {(r["conversations"], r["receiver"], r["variant"]): r for r in results}
    rows = []
    for result in results:
        raw = by_key[(result["conversations"], result["receiver"], "raw")]
        naive = by_key[(result["conversations"], result["receiver"], "naive")]
        rows.append(
            [
                f"{result['conversations']:,}",
                "post_delete" if result["receiver"] else "-",
                result["variant"],
                f"{result['rows']:,}",
                f"{result['seconds']:.2f}",
                f"{result['rows_per_second']:,.0f}",
                f"{result['rows_per_second'] / raw['rows_per_second']:.2f}",
                f"{result['rows_per_second'] / naive['rows_per_second']:.2f}",
                f"{result['peak_rss'] / MIB:.0f}",
                f"{(result['peak_rss'] - raw['peak_rss']) / MIB:+.0f}",
                f"{result['longest_transaction']:.3f}",
            ]
        )
    print(
        tabulate(
            rows,
            headers=[
                "conversations",
                "receiver",
                "variant",
                "rows",
                "s",
                "rows/s",
                "x raw",
                "x naive",
                "peak RSS MiB",
                "vs raw MiB",
                "longest tx s",
            ],
            disable_numparse=True,
        )
    )
    return check_targets(db, by_key)


def check_targets(db: str, by_key: dict[Any, dict[str, Any]]) -> list[tuple[str, bool, str]]:
    checks: list[tuple[str, bool, str]] = []
    sizes = sorted({size for size, _, _ in by_key})
    for size in sizes:
        for receiver in (False, True):
            purge = by_key.get((size, receiver, "purge"))
            if purge is None:
                continue
            raw = by_key[(size, receiver, "raw")]
            naive = by_key[(size, receiver, "naive")]
            to_raw = purge["rows_per_second"] / raw["rows_per_second"]
            to_naive = purge["rows_per_second"] / naive["rows_per_second"]
            above_raw = (purge["peak_rss"] - raw["peak_rss"]) / MIB
            where = (
                f"{size:,} conversations, {'post_delete receiver' if receiver else 'no receiver'}"
            )
            if receiver:
                checks.append((f"{where}: purge >= naive ORM", to_naive >= 1, f"{to_naive:.2f}x"))
                checks.append(
                    (
                        f"{where}: peak RSS <= raw + {MAX_RSS_ABOVE_RAW_WITH_RECEIVER_MIB} MiB",
                        above_raw <= MAX_RSS_ABOVE_RAW_WITH_RECEIVER_MIB,
                        f"{above_raw:+.0f} MiB",
                    )
                )
            else:
                minimum = MIN_RATIO_TO_RAW[db]
                checks.append(
                    (f"{where}: purge >= {minimum}x raw SQL", to_raw >= minimum, f"{to_raw:.2f}x")
                )
                checks.append(
                    (
                        f"{where}: purge >= {MIN_RATIO_TO_NAIVE}x naive ORM",
                        to_naive >= MIN_RATIO_TO_NAIVE,
                        f"{to_naive:.2f}x",
                    )
                )
                checks.append(
                    (
                        f"{where}: peak RSS <= raw + {MAX_RSS_ABOVE_RAW_MIB} MiB",
                        above_raw <= MAX_RSS_ABOVE_RAW_MIB,
                        f"{above_raw:+.0f} MiB",
                    )
                )
            checks.append(
                (
                    f"{where}: longest purge transaction <= {MAX_TRANSACTION_SECONDS} s",
                    purge["longest_transaction"] <= MAX_TRANSACTION_SECONDS,
                    f"{purge['longest_transaction']:.3f} s",
                )
            )
    for small, large in itertools.pairwise(sizes):
        if large != 5 * small:
            continue
        for receiver in (False, True):
            first = by_key.get((small, receiver, "purge"))
            second = by_key.get((large, receiver, "purge"))
            if first and second:
                growth = second["peak_rss"] / first["peak_rss"] - 1
                label = "post_delete receiver" if receiver else "no receiver"
                checks.append(
                    (
                        f"{label}: purge peak RSS at 5x the rows <= +{MAX_RSS_GROWTH_AT_5X:.0%}",
                        growth <= MAX_RSS_GROWTH_AT_5X,
                        f"{growth:+.1%}",
                    )
                )
    print()
    for name, passed, value in checks:
        print(f"{'met    ' if passed else 'NOT MET'}  {name}: {value}")
    return checks


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "mysql"], default="sqlite")
    parser.add_argument(
        "--conversations",
        type=int,
        nargs="+",
        default=[100_000],
        help="Sizes: old conversations to purge (10%% as many young ones stay).",
    )
    parser.add_argument("--messages-per", type=int, default=10)
    parser.add_argument(
        "--batch-size",
        type=int,
        help="purge's batch size (default: its adaptive batches).",
    )
    parser.add_argument("--repeat", type=int, default=1, help="Runs per measurement (median).")
    parser.add_argument(
        "--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--no-receiver-runs",
        action="store_true",
        help="Skip the runs with a post_delete receiver.",
    )
    parser.add_argument(
        "--with-app",
        action="store_true",
        help="Install django_housekeeping (its legal holds' table) as a site does.",
    )
    parser.add_argument("--output", type=Path, help="Also write the results as JSON here.")
    parser.add_argument("--sqlite-path", help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        run_child(args)
        return
    with tempfile.TemporaryDirectory() as directory:
        if not args.sqlite_path:
            args.sqlite_path = str(Path(directory) / "bench.sqlite3")
        setup_django(args.db, args.sqlite_path, args.with_app)
        create_database()
        started = machine()
        print(
            f"{args.db}: {', '.join(f'{size:,}' for size in args.conversations)} conversations "
            f"x {args.messages_per} messages, batch size {args.batch_size or 'adaptive'}, "
            f"{args.repeat} run(s) each; load average {started['load_average'][0]:.2f}"
        )
        results = []
        for size in args.conversations:
            for receiver in (False,) if args.no_receiver_runs else (False, True):
                for variant in args.variants:
                    runs = [
                        run_measurement(args, variant, receiver, size) for _ in range(args.repeat)
                    ]
                    result = median_of(runs)
                    print(
                        f"  {size:,} {'receiver' if receiver else 'plain'} {variant}: "
                        f"{result['rows_per_second']:,.0f} rows/s "
                        f"(runs: {', '.join(f'{r:,}' for r in result['runs'])})",
                        flush=True,
                    )
                    results.append(result)
        print()
        checks = report(args.db, results)
        if args.output:
            from django.db import connection

            args.output.write_text(
                json.dumps(
                    {
                        "db": args.db,
                        "server": connection.vendor,
                        "messages_per": args.messages_per,
                        "batch_size": args.batch_size,
                        "repeat": args.repeat,
                        "machine_at_start": started,
                        "machine_at_end": machine(),
                        "results": results,
                        "targets": [
                            {"target": name, "met": passed, "value": value}
                            for name, passed, value in checks
                        ],
                    },
                    indent=2,
                )
            )


if __name__ == "__main__":
    main()
