#!/usr/bin/env python
"""Tracing benchmark: the same purge with OpenTelemetry tracing off and on, side by side.

    python benchmarks/tracing.py --db sqlite --conversations 20000 --messages-per 10
    python benchmarks/tracing.py --db postgres --rounds 5 --output tracing.json

The chat schema and seeding of ``benchmarks/retention.py`` (``benchapp``): ``--conversations``
old conversations with ``--messages-per`` messages each, and a tenth as many young ones that
stay. Each round seeds the tables afresh and purges the old conversations twice over, each purge
in a fresh Python process, alternately:

- ``off``: ``opentelemetry`` cannot be imported (as without the ``[otel]`` extra);
- ``on``: the SDK configured as a site would — a ``TracerProvider`` whose span processor hands
  every span to an in-memory exporter — and the purge inside a run's span, so that each batch
  is a recorded child span.

The batches are fixed (``--batch-size``, default 1,000 conversations: many batches, so many spans)
so both purges cut the same ones. It prints each purge's rows per second, their medians and the
ratio on/off (target: at least 0.95). Databases as in ``retention.py``
(``benchmarks/databases.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
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
MIN_RATIO = 0.95
MODES = ("off", "on")


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
        HOUSEKEEPING={},
    )
    django.setup()


def measure(mode: str, batch_size: int) -> dict[str, Any]:
    """One purge of the old conversations in this process, traced or not."""
    spans: Any = None
    if mode == "on":
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        spans = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(spans))
        trace.set_tracer_provider(provider)
    from benchapp.models import Conversation
    from django.db import connection

    from django_housekeeping import purge, tracing

    assert tracing.enabled() == (mode == "on"), "opentelemetry is (not) importable"
    connection.ensure_connection()
    started = time.perf_counter()
    with tracing.run_span(task="benchmark", run_id=0, trigger="cli", dry_run=False):
        result = purge(Conversation.objects.filter(created_at__lt=CUTOFF), batch_size=batch_size)
    seconds = time.perf_counter() - started
    return {
        "mode": mode,
        "rows": result["total"],
        "batches": result["batches"],
        "seconds": seconds,
        "rows_per_second": result["total"] / seconds,
        "spans": len(spans.get_finished_spans()) if spans is not None else 0,
    }


def run_child(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--db",
        args.db,
        "--sqlite-path",
        args.sqlite_path,
        "--batch-size",
        str(args.batch_size),
        "--child",
        mode,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"the purge with tracing {mode} failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "mysql"], default="sqlite")
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--messages-per", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sqlite-path", default="")
    parser.add_argument("--output", help="Also write the results as JSON to this file.")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "off":  # not importable at all, as without the [otel] extra
            sys.modules["opentelemetry"] = None  # type: ignore[assignment]
        setup_django(args.db, args.sqlite_path)
        print(json.dumps(measure(args.child, args.batch_size)))
        return

    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="housekeeping-tracing-bench-") as directory:
        if not args.sqlite_path:
            args.sqlite_path = os.path.join(directory, "bench.sqlite3")
        setup_django(args.db, args.sqlite_path)
        from django.db import connection
        from retention import create_database, seed  # the same schema and seeding

        create_database()
        load_before = os.getloadavg()
        for number in range(args.rounds):
            # Alternate which goes first, so that neither always meets a warmer cache.
            for mode in MODES if number % 2 == 0 else tuple(reversed(MODES)):
                seed(args.conversations, args.messages_per, young=max(1, args.conversations // 10))
                connection.close()
                runs.append(run_child(args, mode))
        load_after = os.getloadavg()

    median = {
        mode: statistics.median(r["rows_per_second"] for r in runs if r["mode"] == mode)
        for mode in MODES
    }
    ratio = median["on"] / median["off"]
    print(
        f"{args.db}: {args.conversations:,} conversations x {args.messages_per} messages, "
        f"batches of {args.batch_size:,}, {args.rounds} rounds (load average "
        f"{load_before[0]:.2f} -> {load_after[0]:.2f}; {platform.python_version()})"
    )
    for run in runs:
        print(
            f"  tracing {run['mode']:3}  {run['rows']:>9,} rows  {run['batches']:>4} batches  "
            f"{run['spans']:>4} spans  {run['seconds']:7.2f} s  "
            f"{run['rows_per_second']:>9,.0f} rows/s"
        )
    print(f"  median rows/s: off {median['off']:,.0f}, on {median['on']:,.0f}")
    print(f"  on / off: {ratio:.3f} (target >= {MIN_RATIO})")
    if args.output:
        Path(args.output).write_text(
            json.dumps(
                {
                    "db": args.db,
                    "conversations": args.conversations,
                    "messages_per": args.messages_per,
                    "batch_size": args.batch_size,
                    "load_average": [load_before, load_after],
                    "runs": runs,
                    "median_rows_per_second": median,
                    "ratio": ratio,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
