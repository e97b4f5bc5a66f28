#!/usr/bin/env python
"""Restore benchmark: purge old conversations with their messages into an archive, then restore it.

    python benchmarks/restore.py --db sqlite --conversations 100000 --messages-per 10
    python benchmarks/restore.py --db postgres --conversations 100000 --output r.json

The chat schema of ``benchmarks/retention.py`` (``benchapp``) is seeded afresh: ``--conversations``
old conversations with ``--messages-per`` messages each (100,000 x 10: 1,100,000 rows), and a
tenth as many young ones that stay. Then, each step in a fresh Python process:

- ``purge``: ``django_housekeeping.purge(queryset, archive=FILE)`` of the old conversations;
- ``restore``: ``django_housekeeping.purging.restore.restore(FILE)``, which validates every row
  of the archive first, then loads it back batch by batch.

It prints the rows per second of each, the ratio restore/purge (target: at least 0.5), the peak
RSS of each process, and checks that every row came back (the tables' counts and checksums of
their keys). Databases as in ``retention.py`` (``benchmarks/databases.py``).
"""

from __future__ import annotations

import argparse
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

from databases import database_settings  # benchmarks/databases.py: run as a script from there

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_URLS = {
    "postgres": "postgres://postgres@127.0.0.1:5432/housekeeping_bench",
    "mysql": "mysql://root@127.0.0.1:3306/housekeeping_bench",
}
CUTOFF = datetime(2025, 1, 1, tzinfo=UTC)
MIB = 1024 * 1024
MIN_RATIO = 0.5


def setup_django(db: str, sqlite_path: str) -> None:
    sys.path.insert(0, str(HERE))
    sys.path.append(str(ROOT / "src"))  # when the package is not installed
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={"default": database_settings(db, sqlite_path, DEFAULT_URLS)},
        INSTALLED_APPS=["benchapp"],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        SECRET_KEY="benchmark-only: signs the archive's manifest",
        HOUSEKEEPING={},
    )
    django.setup()


def state() -> dict[str, Any]:
    """Per table: its rows, and sums over its columns (a restore must give back every value)."""
    from benchapp.models import Conversation, Message
    from django.db.models import Count, Max, Min, Sum
    from django.db.models.functions import Length

    def figures(model: Any, *columns: str) -> list[str]:
        sums = {f"sum_{c}": Sum(c) for c in columns}
        values = model.objects.aggregate(
            rows=Count("pk"),
            first=Min("created_at"),
            last=Max("created_at"),
            **sums,
        )
        return [str(values[key]) for key in sorted(values)]

    return {
        "conversations": [
            *figures(Conversation, "id"),
            str(Conversation.objects.aggregate(n=Sum(Length("title")))["n"]),
        ],
        "messages": [
            *figures(Message, "id", "conversation_id"),
            str(Message.objects.aggregate(n=Sum(Length("body")))["n"]),
        ],
    }


def measure(step: str, archive: str, batch_size: int | None) -> dict[str, Any]:
    from benchapp.models import Conversation
    from django.db import connection

    from django_housekeeping import purge
    from django_housekeeping.purging.restore import restore

    connection.ensure_connection()
    started = time.perf_counter()
    if step == "purge":
        result = purge(
            Conversation.objects.filter(created_at__lt=CUTOFF),
            batch_size=batch_size,
            archive=archive,
        )
        rows, batches = result["total"], result["batches"]
    else:
        stats = restore(archive)
        rows, batches = stats.objects, stats.batches
    seconds = time.perf_counter() - started
    return {
        "step": step,
        "rows": rows,
        "batches": batches,
        "seconds": seconds,
        "rows_per_second": rows / seconds,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "state": state(),
    }


def run_step(args: argparse.Namespace, step: str, archive: str) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--db",
        args.db,
        "--sqlite-path",
        args.sqlite_path,
        "--child",
        step,
        "--archive",
        archive,
    ]
    if args.batch_size:
        command += ["--batch-size", str(args.batch_size)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{step} failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "mysql"], default="sqlite")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages-per", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--sqlite-path", default="")
    parser.add_argument("--output", help="Also write the results as JSON to this file.")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--archive", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        setup_django(args.db, args.sqlite_path)
        print(json.dumps(measure(args.child, args.archive, args.batch_size)))
        return

    with tempfile.TemporaryDirectory(prefix="housekeeping-restore-bench-") as directory:
        if not args.sqlite_path:
            args.sqlite_path = os.path.join(directory, "bench.sqlite3")
        setup_django(args.db, args.sqlite_path)
        # Once Django is set up (as every import of Django's models below).
        from django.db import connection
        from retention import create_database, seed  # the same schema and seeding

        create_database()
        load_before = os.getloadavg()
        seed(args.conversations, args.messages_per, young=max(1, args.conversations // 10))
        before = state()
        connection.close()
        archive = os.path.join(directory, "purge.jsonl.gz")
        purge = run_step(args, "purge", archive)
        restore = run_step(args, "restore", archive)
        load_after = os.getloadavg()
        archive_bytes = os.path.getsize(archive)

    restored = restore["state"] == before
    ratio = restore["rows_per_second"] / purge["rows_per_second"]
    print(
        f"{args.db}: {args.conversations:,} conversations x {args.messages_per} messages "
        f"(load average {load_before[0]:.2f} -> {load_after[0]:.2f}; {platform.python_version()})"
    )
    for step in (purge, restore):
        print(
            f"  {step['step']:8} {step['rows']:>10,} rows  {step['seconds']:8.2f} s  "
            f"{step['rows_per_second']:>10,.0f} rows/s  peak RSS {step['peak_rss'] / MIB:.0f} MiB"
        )
    print(f"  archive  {archive_bytes / MIB:.1f} MiB")
    print(f"  restore / purge: {ratio:.2f}x (target >= {MIN_RATIO})")
    print(f"  every row back, every value the same: {'yes' if restored else 'NO'}")
    if args.output:
        Path(args.output).write_text(
            json.dumps(
                {
                    "db": args.db,
                    "conversations": args.conversations,
                    "messages_per": args.messages_per,
                    "load_average": [load_before, load_after],
                    "purge": purge,
                    "restore": restore,
                    "ratio": ratio,
                    "archive_bytes": archive_bytes,
                    "restored": restored,
                },
                indent=2,
            )
        )
    if not restored or purge["rows"] != restore["rows"]:
        raise SystemExit(f"the restore did not give back every row: {before} != {restore['state']}")


if __name__ == "__main__":
    main()
